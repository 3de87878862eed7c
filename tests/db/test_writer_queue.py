"""The SQLite writers' queue (store/writer_queue.py): a writer that finds another one writing
waits for its turn blocked in the kernel, which wakes it when the turn is let go, instead of
polling in SQLite's busy handler; the turn goes with the transaction, with a refusal after the
busy timeout, and with a process that dies holding it."""

import fcntl
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.db.conftest import admin_headers, migrated_sqlite_app
from tests.db.waiting import WAIT, wait_until


def queue_file(tmp_path: Path) -> Path:
    return tmp_path / "field.db-writers"


def flocks_on(path: Path) -> tuple[int, int]:
    """(held, waiting) flocks on ``path`` as /proc/locks lists them."""
    inode = os.stat(path).st_ino
    held = waiting = 0
    for line in Path("/proc/locks").read_text().splitlines():
        match = re.search(r"(->\s+)?FLOCK\s+\S+\s+\S+\s+\d+\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s", line)
        if match and int(match.group(2)) == inode:
            if match.group(1):
                waiting += 1
            else:
                held += 1
    return held, waiting


def queue_is_free(tmp_path: Path) -> bool:
    fd = os.open(queue_file(tmp_path), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def probe_table(tmp_path: Path) -> None:
    database = sqlite3.connect(tmp_path / "field.db")
    database.execute("CREATE TABLE probe (writer TEXT)")
    database.commit()
    database.close()


def probe_rows(tmp_path: Path) -> list[str]:
    database = sqlite3.connect(tmp_path / "field.db")
    rows = [row[0] for row in database.execute("SELECT writer FROM probe ORDER BY rowid")]
    database.close()
    return rows


def write_probe(app, writer: str, hold: threading.Event | None = None, inside=None) -> None:
    from field_server.store.engine import write_transaction

    with app.app_context(), write_transaction() as session:
        session.execute(text("INSERT INTO probe (writer) VALUES (:w)"), {"w": writer})
        if inside is not None:
            inside.set()
        if hold is not None:
            assert hold.wait(WAIT)


def test_a_second_writer_waits_in_the_queue_and_writes_once_the_first_is_done(tmp_path):
    with migrated_sqlite_app(tmp_path, busy_timeout_ms=30_000) as app:
        probe_table(tmp_path)
        inside, release = threading.Event(), threading.Event()
        first = threading.Thread(target=write_probe, args=(app, "first", release, inside))
        first.start()
        second = None
        try:
            assert inside.wait(WAIT)
            assert flocks_on(queue_file(tmp_path)) == (1, 0)
            second = threading.Thread(target=write_probe, args=(app, "second"))
            second.start()
            # Blocked in the kernel on the queue (a waiter /proc/locks lists), not polling
            # SQLite's lock, which the first writer holds too.
            wait_until(lambda: flocks_on(queue_file(tmp_path)) == (1, 1), "a queued writer")
            assert probe_rows(tmp_path) == []  # the first has not committed yet
        finally:
            release.set()
            first.join(WAIT)
            if second is not None:
                second.join(WAIT)
        assert probe_rows(tmp_path) == ["first", "second"]
        assert flocks_on(queue_file(tmp_path)) == (0, 0)  # both let their turn go

        from field_server.extensions import db

        with app.app_context():  # the second writer's shortened wait did not stay behind
            assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_the_turn_is_let_go_when_the_transaction_commits_or_fails(sqlite_app, tmp_path):
    from field_server.store.engine import write_transaction

    probe_table(tmp_path)
    write_probe(sqlite_app, "committed")
    assert queue_is_free(tmp_path)
    with sqlite_app.app_context(), pytest.raises(LookupError):  # noqa: SIM117
        with write_transaction() as session:
            session.execute(text("INSERT INTO probe (writer) VALUES ('rolled back')"))
            raise LookupError("the operation failed half-way")
    assert queue_is_free(tmp_path)
    assert probe_rows(tmp_path) == ["committed"]


def test_a_writer_past_the_busy_timeout_gets_503_and_gives_up_its_place(sqlite_app, tmp_path):
    """Another worker holds the queue for longer than the busy timeout (200 ms here): the
    request answers 503 storage_unavailable with nothing written, and its abandoned wait lets
    the queue go as soon as it gets it, so the next writer is not held up by it."""
    client = sqlite_app.test_client()
    headers = admin_headers(sqlite_app, client)
    holder = os.open(queue_file(tmp_path), os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        refused = client.post(
            "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
        )
        assert refused.status_code == 503
        assert refused.get_json()["code"] == "storage_unavailable"
        assert flocks_on(queue_file(tmp_path)) == (1, 1)  # the abandoned wait, still queued
    finally:
        os.close(holder)
    wait_until(lambda: flocks_on(queue_file(tmp_path)) == (0, 0), "the abandoned wait gone")
    created = client.post(
        "/api/v1/users", json={"username": "admin2", "role": "admin"}, headers=headers
    )
    assert created.status_code == 201


def test_a_writer_killed_in_its_turn_leaves_the_queue_free(sqlite_app, tmp_path):
    probe_table(tmp_path)
    write_probe(sqlite_app, "before")  # makes the queue's file
    hold = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", hold, str(queue_file(tmp_path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout.readline().strip() == "held"
        assert not queue_is_free(tmp_path)
    finally:
        worker.kill()
        worker.wait(WAIT)
        worker.stdout.close()
    write_probe(sqlite_app, "after")
    assert probe_rows(tmp_path) == ["before", "after"]
