"""SQLite as DESIGN.md asks: WAL, synchronous=FULL, foreign keys, a busy timeout, and write
transactions that hold the write lock from their first statement (BEGIN IMMEDIATE)."""

import os
import sqlite3
import threading

import pytest
from sqlalchemy import text

from tests.db.conftest import admin_headers


def test_pragmas(sqlite_app):
    from field_server.extensions import db

    with sqlite_app.app_context():
        values = {
            name: db.session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 200,
    }


def test_foreign_keys_are_enforced(sqlite_app):
    from sqlalchemy.exc import IntegrityError

    from field_server.extensions import db
    from field_server.store.engine import write_transaction

    with sqlite_app.app_context(), pytest.raises(IntegrityError):  # noqa: SIM117
        with write_transaction() as session:
            session.execute(
                text(
                    "INSERT INTO assignments (user_id, unit_id, starts_at, version) "
                    "VALUES (999, 999, '2020-08-15 00:00:00', 1)"
                )
            )
    with sqlite_app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM assignments")).scalar() == 0


def test_write_transaction_takes_the_write_lock_at_its_start(sqlite_app, tmp_path):
    """While a write transaction is open, even before it wrote anything, another writer
    waits for the lock (and gets 'database is locked' after the busy timeout)."""
    from field_server.store.engine import write_transaction

    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sqlite_app.app_context(), write_transaction() as session:
            session.execute(text("SELECT 1"))  # a read only: BEGIN IMMEDIATE already locked
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        other = sqlite3.connect(tmp_path / "field.db", timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    finally:
        release.set()
        holder.join(10)


def test_reads_do_not_take_the_write_lock(sqlite_app, tmp_path):
    from field_server.extensions import db

    with sqlite_app.app_context():
        db.session.execute(text("SELECT count(*) FROM units")).scalar()
        assert db.session().in_transaction()
        other = sqlite3.connect(tmp_path / "field.db", timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_database_answers_503_not_500(sqlite_app, tmp_path):
    client = sqlite_app.test_client()
    headers = admin_headers(sqlite_app, client)
    other = sqlite3.connect(tmp_path / "field.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        response = client.post(
            "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503
    assert response.get_json()["code"] == "storage_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    # Nothing was half-written: once the lock is free the same request succeeds.
    retry = client.post(
        "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
    )
    assert retry.status_code == 201


def test_a_read_only_database_answers_503_and_is_written_again_once_fixed(sqlite_app, tmp_path):
    """A file that turned read-only refuses writes with 503 (nothing written); once it is
    writable again the server writes without a restart, although SQLite keeps a connection
    read-only for good once it has seen the file so (the pool must drop that connection)."""
    from tests.faults.storage import set_sqlite_read_only

    client = sqlite_app.test_client()
    headers = admin_headers(sqlite_app, client)
    assert client.get("/api/v1/users", headers=headers).status_code == 200  # pooled, warm
    set_sqlite_read_only(tmp_path / "field.db", True)
    try:
        refused = client.post(
            "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
        )
        assert refused.status_code == 503
        assert refused.get_json()["code"] == "storage_unavailable"
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/api/v1/users", headers=headers).status_code == 200  # reads go on
    finally:
        set_sqlite_read_only(tmp_path / "field.db", False)
    created = client.post(
        "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
    )
    assert created.status_code == 201
    database = sqlite3.connect(tmp_path / "field.db")
    assert database.execute("SELECT count(*) FROM users").fetchone() == (2,)
    database.close()


def test_after_a_refused_write_no_connection_keeps_the_wal(sqlite_app, tmp_path):
    """A write refused by a read-only file leaves no idle connection reading the WAL: once
    the file is writable again a TRUNCATE checkpoint empties the WAL at once, without
    waiting for anyone. The refusing connection is dropped from the pool, and SQLite closes
    it only once its failed statement is freed; left to the garbage collector, that kept a
    read lock that made every later checkpoint (the operator's, or a read-only flip) wait."""
    from tests.faults.storage import (
        WAL_WRITE_VERSION,
        WRITE_VERSION_OFFSET,
        set_sqlite_read_only,
    )

    path = tmp_path / "field.db"
    client = sqlite_app.test_client()
    headers = admin_headers(sqlite_app, client)
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    set_sqlite_read_only(path, True)
    refused = client.post(
        "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
    )
    assert refused.status_code == 503
    fd = os.open(path, os.O_RDWR)  # writable again, and nobody may wait below
    try:
        os.pwrite(fd, bytes([WAL_WRITE_VERSION]), WRITE_VERSION_OFFSET)
    finally:
        os.close(fd)
    checkpoint = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        busy, _, _ = checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        checkpoint.close()
    assert busy == 0
    wal = f"{path}-wal"  # emptied, or removed with the last connection
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
