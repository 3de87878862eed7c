"""What an operator meets first: database problems and a taken port answered in one line.

Every `field-server` command that finds its database missing, behind the code's newest
migration, unreachable or unreadable prints one line on stderr that says what to do and
exits 3 (docs/cli.md), and leaves no empty SQLite file behind. Most cases run the command
group in this process (fast); the ones where the process itself matters (a traceback, a
server that must not start) run the installed `field-server` script.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.cli import ScriptInfo

from tests.conftest import (
    POSTGRES_ADMIN_URL,
    TEST_JWT_KEY,
    TEST_SECRET,
)
from tests.e2e.processes import (
    CHEAP_ARGON2,
    COMMAND_TIMEOUT,
    FIELD_SERVER,
    field_env,
    free_port,
    run_cli,
)

pytestmark = pytest.mark.e2e

KEYS = {"FIELD_SECRET_KEY": TEST_SECRET, "FIELD_JWT_KEY": TEST_JWT_KEY}
OLDEST_REVISION = "dff402d7ef2f"
# Commands that need the schema, with arguments that would be valid on a loaded database.
COMMANDS = [
    ("units", "list"),
    ("users", "list"),
    ("stats", "verify"),
    ("export", "units", "--unit", "gso-2020:326"),
    ("demo", "--if-empty"),
    ("serve", "--host", "192.0.2.1"),  # not this machine: a missed check cannot serve
]


def invoke(instance: Path, *args: str, **settings: str) -> Result:
    """``field-server ARGS`` in this process, with a scrubbed FIELD_* environment."""
    from field_server.cli import _create_app_for_cli, cli

    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("FIELD_")}
    env.update({"FIELD_INSTANCE_PATH": str(instance), **CHEAP_ARGON2, **KEYS, **settings})
    return CliRunner().invoke(
        cli,
        list(args),
        obj=ScriptInfo(create_app=_create_app_for_cli, set_debug_flag=False),
        env=env,
        catch_exceptions=False,
    )


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``field-server ARGS``, whatever its exit code."""
    return subprocess.run(
        [FIELD_SERVER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def one_line(stderr: str, *wanted: str) -> str:
    """The single stderr line of a refused command, holding each of ``wanted``."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: database: "), stderr
    for text in wanted:
        assert text in lines[0], stderr
    return lines[0]


def assert_refused(result: Any, *wanted: str) -> str:
    output = getattr(result, "output", "") + getattr(result, "stdout", "")
    assert "Traceback" not in output + result.stderr
    assert (getattr(result, "exit_code", None) or getattr(result, "returncode", None)) == 3, (
        output,
        result.stderr,
    )
    return one_line(result.stderr, *wanted)


def chosen(request: pytest.FixtureRequest, backend: str) -> None:
    if backend not in (request.config.getoption("backend") or ["sqlite", "postgresql"]):
        pytest.skip(f"--backend excludes {backend}")


def missing_postgres_url() -> tuple[str, str]:
    name = f"field_missing_{uuid.uuid4().hex[:8]}"
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


# --- a database that was never created ---------------------------------------------------


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_every_command_before_db_upgrade_says_run_db_upgrade(tmp_path, args):
    instance = tmp_path / "instance"
    result = invoke(instance, *args)
    line = assert_refused(result, "run `field-server db upgrade`")
    assert str(instance / "field.db") in line
    assert not (instance / "field.db").exists()  # nothing created to find that out


def test_the_installed_command_prints_no_traceback_and_creates_no_file(tmp_path):
    instance = tmp_path / "instance"
    env = field_env(instance)
    run_cli(env, "init-secrets")
    result = run(env, "units", "list")
    assert_refused(result, "no database at", "run `field-server db upgrade`")
    assert sorted(p.name for p in instance.iterdir()) == ["secret-keys.json"]


def test_help_needs_no_database(tmp_path):
    result = invoke(tmp_path / "instance", "units", "list", "--help")
    assert result.exit_code == 0 and "Usage:" in result.output
    assert not (tmp_path / "instance" / "field.db").exists()


def test_a_db_command_that_creates_an_empty_file_removes_it(tmp_path):
    instance = tmp_path / "instance"
    result = invoke(instance, "db", "current")
    assert result.exit_code == 0, result.output
    assert not (instance / "field.db").exists()
    assert not (instance / "field.db-wal").exists()


def test_a_database_in_a_missing_folder(tmp_path):
    url = f"sqlite:///{tmp_path / 'nowhere' / 'field.db'}"
    refused = invoke(tmp_path / "instance", "units", "list", FIELD_DATABASE_URL=url)
    assert_refused(refused, "folder", "does not exist", "FIELD_DATABASE_URL")
    upgrade = invoke(tmp_path / "instance", "db", "upgrade", FIELD_DATABASE_URL=url)
    assert_refused(upgrade, "cannot open the SQLite database", "folder exists")
    assert not (tmp_path / "nowhere").exists()


def test_a_file_that_is_not_a_database(tmp_path):
    other = tmp_path / "notes.db"
    other.write_text("not a database\n")
    result = invoke(tmp_path / "instance", "users", "list", FIELD_DATABASE_URL=f"sqlite:///{other}")
    assert_refused(result, "is not an SQLite database")
    assert other.read_text() == "not a database\n"


# --- PostgreSQL: a database that does not exist, a server that does not answer ------------


def test_a_postgresql_database_that_does_not_exist(request, tmp_path):
    chosen(request, "postgresql")
    name, url = missing_postgres_url()
    for args in (("units", "list"), ("db", "upgrade")):
        result = invoke(tmp_path / "instance", *args, FIELD_DATABASE_URL=url)
        assert_refused(result, "create the database first: createdb", name)


def test_a_postgresql_server_that_does_not_answer(request, tmp_path):
    chosen(request, "postgresql")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/field"
    result = invoke(tmp_path / "instance", "db", "upgrade", FIELD_DATABASE_URL=url)
    assert_refused(result, "cannot connect to PostgreSQL on 127.0.0.1:")


def test_the_installed_command_on_a_missing_postgresql_database(request, tmp_path):
    chosen(request, "postgresql")
    name, url = missing_postgres_url()
    result = run(field_env(tmp_path / "instance", FIELD_DATABASE_URL=url, **KEYS), "db", "upgrade")
    assert_refused(result, f"createdb -h 127.0.0.1 -p 5432 -U postgres {name}")


# --- a schema behind the code ----------------------------------------------------------------


@pytest.fixture
def behind_url(fresh_database_url, tmp_path):
    """A database migrated only to the oldest revision."""
    result = invoke(
        tmp_path / "instance",
        "db",
        "upgrade",
        OLDEST_REVISION,
        FIELD_DATABASE_URL=fresh_database_url,
    )
    assert result.exit_code == 0, result.output
    return fresh_database_url


def test_a_schema_behind_the_code_is_refused_until_db_upgrade(behind_url, tmp_path):
    instance = tmp_path / "instance"
    result = invoke(instance, "users", "list", FIELD_DATABASE_URL=behind_url)
    assert_refused(
        result, f"schema revision {OLDEST_REVISION}", "behind", "field-server db upgrade"
    )
    assert invoke(instance, "db", "upgrade", FIELD_DATABASE_URL=behind_url).exit_code == 0
    assert invoke(instance, "users", "list", FIELD_DATABASE_URL=behind_url).exit_code == 0


def test_serve_refuses_a_schema_behind_the_code(behind_url, tmp_path):
    env = field_env(tmp_path / "instance", FIELD_DATABASE_URL=behind_url, **KEYS)
    result = run(env, "serve", "--port", str(free_port()), "--workers", "1")
    assert_refused(result, "behind", "run `field-server db upgrade`")
    assert "Listening" not in result.stdout + result.stderr  # gunicorn never started


def test_a_schema_the_code_does_not_know(tmp_path):
    instance = tmp_path / "instance"
    assert invoke(instance, "db", "upgrade").exit_code == 0
    import sqlite3

    with sqlite3.connect(instance / "field.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    result = invoke(instance, "units", "list")
    assert_refused(result, "ffffffffffff", "does not know", "newer version")


# --- serve: a taken port -------------------------------------------------------------------


def test_serve_on_a_taken_port_fails_at_once_with_one_line(tmp_path):
    instance = tmp_path / "instance"
    env = field_env(instance, **KEYS)
    run_cli(env, "db", "upgrade")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(env, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"Error: port {port} on 127.0.0.1 is already in use (another server?): stop it, or "
        f"choose another port with --port (make run PORT={port + 1})"
    ]
    assert "Listening" not in result.stdout
    # Refused before gunicorn starts: none of its five seconds of "Connection in use" retries.
    assert "Connection in use" not in result.stdout + result.stderr


# --- db --help tells where the migrations are ------------------------------------------------


@pytest.mark.parametrize("args", [("db",), ("db", "upgrade"), ("db", "current")])
def test_db_help_names_the_package_migrations(tmp_path, args):
    result = invoke(tmp_path / "instance", *args, "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert '(default is "migrations")' not in text
    assert "the migrations shipped inside the field_server package" in text


# --- make run PORT=... HOST=... --------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ((), "serve --host 127.0.0.1 --port 5000"),
        (("PORT=5001",), "serve --host 127.0.0.1 --port 5001"),
        (("PORT=8080", "HOST=0.0.0.0"), "serve --host 0.0.0.0 --port 8080"),
    ],
)
def test_make_run_takes_port_and_host(settings, expected):
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "MAKEFLAGS")}
    shown = subprocess.run(
        ["make", "--dry-run", "run", *settings],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert expected in shown
