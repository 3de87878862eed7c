"""The database against the migrations shipped in the package, and Alembic's shared options.

- ``head_revision()``: the newest migration, read once per process from
  ``field_server/migrations``.
- ``schema_state(connection)``: the revision a database stands at (one query), compared
  with the head; ``schema_problem`` and ``describe_database_error(exc, url)``: what an
  operator is told, in one line that says what to do, when a database is missing, behind,
  unreachable or cannot be opened (services/health.py puts them together for ``/healthz``
  and the ``field-server`` command). ``forget_empty_sqlite_file`` removes an SQLite file
  that a failed or read-only command created empty, so that no empty ``field.db`` is left
  behind to puzzle anyone.
- ``render_item`` and ``compare_type``: our UTCDateTime type is rendered as a plain
  timezone-aware DateTime so that migration files never import the application's models,
  and compared as one (the Alembic environment and the test that compares models and
  schema use them).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run `field-server db upgrade`"

log = logging.getLogger(__name__)


class DatabaseProblem(Exception):
    """The database cannot be used as it is; the message is one line that says what to do."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands: ``revision`` is None when it has none at all."""

    revision: str | None
    head: str

    @property
    def current(self) -> bool:
        return self.revision == self.head

    def as_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "head": self.head, "current": self.current}


@cache
def _script_directory() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR))


@cache
def head_revision() -> str:
    """The newest revision of the shipped migrations (read from disk once per process)."""
    head = _script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return str(head)


def _is_known_revision(revision: str) -> bool:
    try:
        return _script_directory().get_revision(revision) is not None
    except Exception:  # alembic raises for an unknown or malformed identifier
        return False


def _missing_table(exc: BaseException) -> bool:
    """True when a statement failed because its table does not exist (either backend)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return isinstance(orig, sqlite3.OperationalError) and "no such table" in str(orig)


def schema_state(connection: Any) -> SchemaState:
    """The revision ``connection``'s database stands at: one query on ``alembic_version``.

    A database without that table has no schema (revision None). Other errors propagate.
    """
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError as exc:
        if not _missing_table(exc):
            raise
        connection.rollback()
        return SchemaState(None, head_revision())
    # One row on a linear history; several would mean merged branches: never current.
    revision = "+".join(sorted(row[0] for row in rows)) or None
    return SchemaState(revision, head_revision())


def schema_problem(state: SchemaState, where: str) -> str | None:
    """What to do about a schema that is not the code's (None when it is)."""
    if state.current:
        return None
    if state.revision is None:
        return f"{where} has no tables yet: {UPGRADE_HINT} first"
    if "+" not in state.revision and not _is_known_revision(state.revision):
        return (
            f"{where} is at schema revision {state.revision}, which this version of "
            "field-server does not know (a newer version migrated it): install that version, "
            "or restore a backup made for this one"
        )
    return (
        f"{where} is at schema revision {state.revision}, behind this version's "
        f"{state.head}: {UPGRADE_HINT}"
    )


# The files SQLite (and the writers' queue, store/writer_queue.py) keep beside a database.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal", "-writers")


def sqlite_file(url: Any) -> Path | None:
    """The file of an SQLite URL (None for another backend, an in-memory database, or a
    ``file:`` URI, whose name is not a path)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    return None if name.startswith("file:") else Path(name)


def where(url: str) -> str:
    from sqlalchemy.engine import make_url

    path = sqlite_file(url)
    if path is not None:
        return f"the database {path}"
    parsed = make_url(url)
    return f"the database {parsed.database} on {parsed.host or 'localhost'}:{parsed.port or 5432}"


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip() or type(orig).__name__
    return text.splitlines()[0]


def describe_database_error(exc: BaseException, url: str) -> str:
    """One line for an operator: what went wrong with the database and what to do."""
    from sqlalchemy.engine import make_url

    orig = getattr(exc, "orig", None) or exc
    message = str(orig).lower()
    if not url:  # no app was loaded: nothing to name
        return first_line(exc)
    if _missing_table(exc) or "no such column" in message or "undefinedcolumn" in message:
        return f"{where(url)} is missing tables or columns this version needs: {UPGRADE_HINT}"
    path = sqlite_file(url)
    if path is not None:
        if "unable to open database" in message:
            return (
                f"cannot open the SQLite database {path}: check that its folder exists and "
                "that this user may write there"
            )
        if "file is not a database" in message:
            return f"{path} is not an SQLite database: check FIELD_DATABASE_URL"
        if "readonly database" in message:
            return f"the SQLite database {path} is read-only for this user: check its owner"
        if "database is locked" in message:
            return f"the SQLite database {path} is locked by another process: try again"
        if "disk is full" in message:
            return f"the disk holding {path} is full: free some space"
        return f"SQLite database {path}: {first_line(exc)}"
    parsed = make_url(url)
    host, port = parsed.host or "localhost", parsed.port or 5432
    name, user = parsed.database or "", parsed.username or ""
    if "does not exist" in message and "database" in message:
        owner = f" -U {user}" if user else ""
        return (
            f'PostgreSQL on {host}:{port} has no database "{name}": create the database '
            f"first: createdb -h {host} -p {port}{owner} {name}; then {UPGRADE_HINT}"
        )
    if "does not exist" in message and "role" in message:
        return (
            f'PostgreSQL on {host}:{port} has no user "{user}": create it (createuser) or fix '
            "the user in FIELD_DATABASE_URL"
        )
    if "password authentication failed" in message or "no password supplied" in message:
        return (
            f'PostgreSQL on {host}:{port} refused the login of "{user}": check the user and '
            "password in FIELD_DATABASE_URL"
        )
    if (
        "connection refused" in message
        or "could not connect" in message
        or ("connection failed" in message)
    ):
        return (
            f"cannot connect to PostgreSQL on {host}:{port}: is it running, and is "
            "FIELD_DATABASE_URL right?"
        )
    if "could not translate host name" in message or "name or service not known" in message:
        return f"unknown database host {host!r}: check FIELD_DATABASE_URL"
    return f"PostgreSQL on {host}:{port}, database {name}: {first_line(exc)}"


def forget_empty_sqlite_file(path: Path) -> bool:
    """Remove ``path`` (and the files beside it, SQLITE_SIDE_FILES) when it holds no table
    at all; True when it did. Call it only for a file the current command created."""
    if not path.is_file():
        return False
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        # An empty or half-written file cannot be read: it was only just created by us.
        tables = 0 if path.stat().st_size == 0 else 1
    if tables:
        return False
    for leftover in (path, *(Path(f"{path}{side}") for side in SQLITE_SIDE_FILES)):
        leftover.unlink(missing_ok=True)
    return True


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    from .models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    from sqlalchemy import DateTime

    from .models import UTCDateTime

    if isinstance(metadata_type, UTCDateTime):
        if not isinstance(inspected_type, DateTime):
            return True
        # SQLite has no zoned timestamps; elsewhere the column must keep the zone.
        return context.dialect.name != "sqlite" and not inspected_type.timezone
    return None  # Alembic's default comparison


def compare_options() -> dict[str, Any]:
    return {"compare_type": compare_type, "render_item": render_item}
