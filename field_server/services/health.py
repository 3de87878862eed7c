"""The database itself as operators see it: is it there, does it answer, is its schema the
code's. ``/healthz`` reports ``database_status()``; every ``field-server`` command but ``db``
runs ``check_database`` first and answers a problem in one line (migrations_support.py
holds the Alembic and driver details)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from ..migrations_support import (
    UPGRADE_HINT,
    DatabaseProblem,
    SchemaState,
    describe_database_error,
    first_line,
    forget_empty_sqlite_file,
    schema_problem,
    schema_state,
    sqlite_file,
    where,
)

__all__ = [
    "DatabaseProblem",
    "SchemaState",
    "check_database",
    "database_status",
    "describe_database_error",
    "forget_empty_sqlite_file",
    "sqlite_file",
]

log = logging.getLogger("field_server.health")


def database_status() -> SchemaState | None:
    """The app's database as ``/healthz`` reports it: its schema state, or None when the
    database does not answer. Needs an app context."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..extensions import db

    try:
        with db.engine.connect() as connection:
            return schema_state(connection)
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        log.warning("health check: the database does not answer: %s", first_line(exc))
        return None


def check_database(url: str, engine: Any) -> None:
    """Raise DatabaseProblem unless the database at ``url`` exists and its schema is at the
    head revision. A missing SQLite file is reported without connecting (connecting would
    create it empty)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if not path.parent.is_dir():
            raise DatabaseProblem(
                f"no database at {path}, and its folder {path.parent} does not exist: check "
                f"FIELD_DATABASE_URL, or create the folder and {UPGRADE_HINT}"
            )
        raise DatabaseProblem(f"no database at {path}: {UPGRADE_HINT} to create it")
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as connection:
            state = schema_state(connection)
    except (DBAPIError, sqlite3.Error) as exc:
        raise DatabaseProblem(describe_database_error(exc, url)) from exc
    problem = schema_problem(state, where(url))
    if problem:
        raise DatabaseProblem(problem)
