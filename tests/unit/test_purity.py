"""domain/ is the pure layer, and field_sync/ (the tablet client) runs without the server:
walking their imports must find neither Flask nor SQLAlchemy nor the server's code."""

import ast
from pathlib import Path

import pytest

import domain
import field_sync

FORBIDDEN = ("flask", "sqlalchemy", "field_server", "werkzeug", "schemas", "marshmallow")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", [domain, field_sync], ids=["domain", "field_sync"])
def test_pure_packages_import_no_framework(package):
    root = Path(package.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert files
    offenders = {
        f"{path.relative_to(root)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert offenders == set()


def test_the_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from flask import Flask\nimport sqlalchemy.orm\n")
    assert {"flask", "sqlalchemy.orm"} <= imported_modules(bad)
