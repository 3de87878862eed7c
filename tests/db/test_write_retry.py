"""services/writes.run_write under contention: a PostgreSQL deadlock is retried inside the
server and the client never sees it; a write that keeps failing ends in 503, leaving nothing.

Two operations lock the same two rows in opposite orders. On PostgreSQL the server detects
the deadlock and aborts one transaction; run_write runs that operation again and both
succeed, each leaving its row change and its one audit row (the aborted attempt's audit row
is gone with its transaction). On SQLite the write lock is taken at BEGIN IMMEDIATE, so the
second operation waits for the first and neither needs a retry.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from field_server.clock import utcnow
from field_server.errors import ApiError
from field_server.extensions import db
from field_server.models import AuditEntry, Unit
from field_server.services.context import Caller
from field_server.services.writes import ATTEMPTS, Write, run_write

WARD_A, WARD_B = "12019", "12022"


def unit_id(code: str) -> int:
    return db.session.execute(select(Unit.id).where(Unit.code == code)).scalar_one()


def rename(unit: int, name: str) -> None:
    db.session.execute(update(Unit).where(Unit.id == unit).values(name=name))
    db.session.flush()


def test_opposite_lock_orders_both_succeed(world: Any, app: Any, backend: str) -> None:
    with app.app_context():
        a, b = unit_id(WARD_A), unit_id(WARD_B)
    caller = Caller.operator("test")
    both_hold_one = threading.Barrier(2, timeout=20)
    attempts: dict[str, list[int]] = {"first": [], "second": []}
    errors: list[BaseException] = []

    def operation(name: str, mine: int, theirs: int) -> None:
        def work(write: Write) -> None:
            attempts[name].append(write.attempt)
            rename(mine, f"{name}-{write.attempt}")
            if write.attempt == 1 and backend == "postgresql":
                # Both hold one row; each now asks for the other's: a deadlock.
                both_hold_one.wait()
            rename(theirs, f"{name}-{write.attempt}")
            write.audit("test.rename", name)

        try:
            with app.app_context():
                run_write(caller, utcnow(), work)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [
        threading.Thread(target=operation, args=("first", a, b)),
        threading.Thread(target=operation, args=("second", b, a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    retried = sorted(name for name, seen in attempts.items() if len(seen) > 1)
    if backend == "postgresql":
        assert len(retried) == 1  # one was chosen as the deadlock victim, and ran again
        assert attempts[retried[0]] == [1, 2]
    else:
        assert retried == []
    with app.app_context():
        audited = db.session.execute(
            select(AuditEntry.target).where(AuditEntry.action == "test.rename")
        ).scalars()
        assert sorted(audited) == ["first", "second"]
        # Whoever committed last wrote both rows: the two units carry one operation's name.
        names = {db.session.get(Unit, a).name, db.session.get(Unit, b).name}
        assert len(names) == 1


class FakeDeadlock(Exception):
    sqlstate = "40P01"


def test_a_write_that_keeps_deadlocking_is_503_and_leaves_nothing(world: Any, app: Any) -> None:
    calls: list[int] = []

    def work(write: Write) -> None:
        calls.append(write.attempt)
        rename(unit_id(WARD_A), f"attempt-{write.attempt}")
        write.audit("test.rename", "always")
        raise OperationalError("UPDATE units", {}, FakeDeadlock())

    with app.app_context():
        before = db.session.get(Unit, unit_id(WARD_A)).name
        with pytest.raises(ApiError) as raised:
            run_write(Caller.operator("test"), utcnow(), work)
        assert raised.value.code == "storage_unavailable"
        assert calls == list(range(1, ATTEMPTS + 1))
        db.session.rollback()
        assert db.session.get(Unit, unit_id(WARD_A)).name == before
        assert (
            db.session.execute(select(AuditEntry).where(AuditEntry.action == "test.rename")).first()
            is None
        )


def test_other_database_errors_are_not_retried(world: Any, app: Any) -> None:
    calls: list[int] = []

    class Broken(Exception):
        sqlstate = "42P01"  # undefined_table: a bug, not contention

    def work(write: Write) -> None:
        calls.append(write.attempt)
        raise OperationalError("SELECT", {}, Broken())

    with app.app_context(), pytest.raises(OperationalError):
        run_write(Caller.operator("test"), utcnow(), work)
    assert calls == [1]


def test_operations_called_inside_an_operation_commit_with_it_or_not_at_all(
    world: Any, app: Any
) -> None:
    caller = Caller.operator("test")

    def inner(name: str, code: str) -> None:
        def work(write: Write) -> None:
            rename(unit_id(code), name)
            write.audit("test.rename", name)

        run_write(caller, utcnow(), work)

    def outer(write: Write) -> None:
        inner("first", WARD_A)
        inner("second", WARD_B)
        raise ApiError("validation_failed")  # after both: the whole operation fails

    with app.app_context():
        before = {code: db.session.get(Unit, unit_id(code)).name for code in (WARD_A, WARD_B)}
        with pytest.raises(ApiError):
            run_write(caller, utcnow(), outer)
        db.session.rollback()
        after = {code: db.session.get(Unit, unit_id(code)).name for code in (WARD_A, WARD_B)}
        assert after == before
        assert db.session.execute(select(AuditEntry.id)).first() is None

        run_write(caller, utcnow(), lambda write: (inner("first", WARD_A), inner("x", WARD_B)))
        audited = db.session.execute(
            select(AuditEntry.target).where(AuditEntry.action == "test.rename")
        ).scalars()
        assert sorted(audited) == ["first", "x"]
