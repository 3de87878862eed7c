"""sync/ is the pure layer: walking its imports must find neither Flask nor SQLAlchemy."""

import ast
from pathlib import Path

import sync

FORBIDDEN = ("flask", "sqlalchemy", "field_server", "werkzeug", "schemas", "marshmallow")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_sync_imports_no_framework():
    root = Path(sync.__file__).parent
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
