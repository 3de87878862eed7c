"""Every endpoint, command, error code and setting is documented; a test fails when not."""

import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def all_docs() -> str:
    return "\n".join(p.read_text() for p in sorted(DOCS.glob("*.md")))


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory):
    from field_server import create_app
    from tests.conftest import base_config

    folder = tmp_path_factory.mktemp("docs")
    return create_app(base_config(folder, f"sqlite:///{folder}/x.db"))


def endpoints(app) -> set[str]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        found.update(f"{m} {path}" for m in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_every_endpoint_is_documented(docs_app):
    text = all_docs()
    missing = sorted(e for e in endpoints(docs_app) if e not in text)
    assert missing == []


def commands(group: click.Group, prefix: str) -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if name == "db":  # Flask-Migrate's group: ours to document is `db upgrade`
            names.append(f"{path} upgrade")
        elif isinstance(command, click.Group):
            names += commands(command, path)
        else:
            names.append(path)
    return names


def test_every_command_is_documented():
    from field_server.cli import cli

    text = (DOCS / "cli.md").read_text()
    listed = commands(cli, "field-server")
    assert "field-server users create" in listed and "field-server serve" in listed
    assert [c for c in listed if f"### {c}" not in text] == []


def test_every_error_code_is_documented_and_no_other():
    from field_server.errors import ERRORS

    text = (DOCS / "errors.md").read_text()
    codes = text.split("## Codes", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", codes, flags=re.M))
    assert documented == set(ERRORS)


def test_every_rejection_code_is_documented():
    from domain.records import REJECTION_CODES

    errors = (DOCS / "errors.md").read_text().split("## Rejection codes", 1)[1]
    protocol = (DOCS / "sync-protocol.md").read_text()
    assert set(re.findall(r"^\| `([a-z_]+)` \|", errors, flags=re.M)) == set(REJECTION_CODES)
    assert [c for c in REJECTION_CODES if f"`{c}`" not in protocol] == []


def test_every_setting_is_documented():
    from field_server.config import SETTINGS

    text = (DOCS / "configuration.md").read_text()
    assert [s.name for s in SETTINGS if f"`FIELD_{s.name}`" not in text] == []


def test_links_between_docs_resolve():
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
