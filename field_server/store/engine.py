"""Engine set-up and transaction control: SQLite pragmas, BEGIN IMMEDIATE for writes.

Python's sqlite3 module opens no transaction before a SELECT and SQLAlchemy never asks for
the write lock up front, so two writers can both read and then collide on upgrade. We take
over: the driver runs in autocommit (``isolation_level = None``) and the engine's ``begin``
event emits ``BEGIN IMMEDIATE`` inside ``write_transaction()`` and a plain ``BEGIN`` (one
snapshot) otherwise. Before that ``BEGIN IMMEDIATE`` the writer takes its turn in the
writers' queue (store/writer_queue.py), so that the server's writers take the lock in turn
instead of by the luck of SQLite's busy handler.

A database that refuses writes (a SQLite file gone read-only, a PostgreSQL database or
server switched to read-only transactions) is a storage error, answered 503, and the
connection that saw it is dropped from the pool: both refusals stick to the connection (SQLite
keeps a connection read-only once it has seen so; a PostgreSQL session keeps the default it
started with), so only fresh connections notice that the operator has fixed it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..extensions import db
from ..migrations_support import sqlite_file
from .writer_queue import QueueTimeout, Turn, WriterQueue

_write_intent: ContextVar[bool] = ContextVar("field_server_write_intent", default=False)
# The writers' queue turn that the open write transaction holds, let go when it ends.
_turn: ContextVar[Turn | None] = ContextVar("field_server_writer_turn", default=None)

# Engines already given the set-up below (an app factory may run more than once per engine).
_configured: weakref.WeakSet[Engine] = weakref.WeakSet()

SQLITE_STORAGE_ERRORS = (
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "attempt to write a readonly database",
    "disk i/o error",
    "unable to open database",
)


# PostgreSQL errors that mean "the database cannot take this write now", by SQLSTATE rather
# than by psycopg's exception class (a read-only database is an InternalError to psycopg).
POSTGRES_STORAGE_SQLSTATES = frozenset({"25006"})  # read_only_sql_transaction
POSTGRES_STORAGE_CLASSES = ("08", "53", "57P")  # connection, resources, operator intervention


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Attach the per-dialect connection set-up to an engine (idempotent per engine)."""
    if engine in _configured:
        return
    _configured.add(engine)

    @event.listens_for(engine, "handle_error")
    def _drop_read_only_connections(context: Any) -> None:
        # Marked as a disconnect, the connection is closed instead of going back to the
        # pool (module docstring); the request still answers 503 (is_storage_error).
        if is_read_only_error(context.original_exception):
            context.is_disconnect = True

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL itself may have to wait for a lock.
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    queue = _writer_queue(engine, busy_timeout_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not _write_intent.get():
            connection.exec_driver_sql("BEGIN")
            return
        turn = _take_turn(queue)
        try:
            if turn.waited_s:
                # The queue's wait counts against the busy timeout: what is left of it is
                # all SQLite may wait (for a writer outside the server) on top.
                left = max(0, busy_timeout_ms - int(turn.waited_s * 1000))
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {left}")
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                finally:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turn.release()
            raise
        _turn.set(turn)


def _writer_queue(engine: Engine, busy_timeout_ms: int) -> WriterQueue | None:
    database = sqlite_file(engine.url)
    if database is None:
        return None  # no file beside which to keep the queue: SQLite's lock alone
    return WriterQueue(str(database), busy_timeout_ms / 1000)


def _take_turn(queue: WriterQueue | None) -> Turn:
    if queue is None:
        return Turn(None, 0.0)
    try:
        return queue.take()
    except QueueTimeout as exc:
        import sqlite3

        from sqlalchemy.exc import OperationalError

        # Worded as SQLite's own refusal, so it is the same storage error (503) for clients.
        raise OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError(f"database is locked: {exc}")
        ) from exc


@contextmanager
def write_transaction() -> Iterator[Session]:
    """One write transaction on the request's session: take the write lock at its start,
    commit at the end (so a 200 is only sent after the commit), roll back on any error."""
    session = db.session()  # the request's Session behind the scoped proxy
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("write_transaction() entered with unflushed changes pending")
        # Finish the read snapshot so the next BEGIN is the one that takes the write lock.
        session.rollback()
    token = _write_intent.set(True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)
        turn = _turn.get()
        if turn is not None:
            turn.release()
            _turn.set(None)


def is_storage_error(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot take this write now" (answer 503)."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        # sqlite3 also reports SQL mistakes ("no such table") as OperationalError: a bug, 500.
        text = str(exc.orig).lower()
        return any(marker in text for marker in SQLITE_STORAGE_ERRORS)
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate in POSTGRES_STORAGE_SQLSTATES or sqlstate.startswith(POSTGRES_STORAGE_CLASSES):
        return True
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


def is_read_only_error(exc: BaseException | None) -> bool:
    """The driver's error (not SQLAlchemy's wrapper) says the database refuses writes."""
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        return "readonly database" in str(exc).lower()
    return getattr(exc, "sqlstate", None) in POSTGRES_STORAGE_SQLSTATES


def begin_read_snapshot() -> None:
    """Start a fresh read transaction in which every statement sees one snapshot.

    SQLite's deferred BEGIN (see configure_engine) already does; PostgreSQL's default READ
    COMMITTED takes a snapshot per statement, so ask for REPEATABLE READ.
    """
    session = db.session()
    if session.in_transaction():
        session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def forget_loaded_rows() -> None:
    """Drop every row the session holds from its identity map (nothing is written or rolled
    back). For a long run of transactions after a bulk load: each commit expires every row
    the session still maps, so with the tens of thousands of units, users and devices of the
    country demo loaded, each push that follows costs about ten times as much."""
    db.session.expunge_all()
