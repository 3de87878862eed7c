"""The one way an operation writes: ``run_write(caller, now, work)``.

It owns what every write must do, so no operation can forget a step:
- one write transaction (``BEGIN IMMEDIATE`` on SQLite), committed before the caller answers;
- the figures: households named with ``Write.measure`` before they change are measured
  again after, and the difference goes to the counters (store/figures.py);
- the change sequence: rows named with ``Write.touch`` get one new position at the end, so
  tablets pull them (store/changes.py);
- the audit rows, written with the change (``Write.audit``), under the caller's name;
- the retry: PostgreSQL may end a transaction with a deadlock or a serialization failure;
  the whole operation runs again (``work`` must be safe to repeat: it reads what it needs
  inside the transaction), a bounded number of times, and then it is 503
  ``storage_unavailable``, never a 500;
- a refusal to write because the database is read-only is tried once more at once, on a
  fresh connection: a connection that only read while the database was read-only keeps
  refusing writes after the operator fixed it (store/engine.py drops it from the pool).

An operation that calls other operations (the demo loads units, then users) wraps them in
its own ``run_write``: the inner ones join the open transaction, so all of it commits or
none does, and the outer one's retry runs everything again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from ..errors import ApiError
from ..extensions import db
from ..store import audit, changes, figures
from ..store.engine import is_read_only_error, write_transaction
from .context import Caller

log = logging.getLogger("field_server.services")

T = TypeVar("T")

_open: ContextVar[Write | None] = ContextVar("field_server_open_write", default=None)

ATTEMPTS = 4
# SQLSTATEs after which running the same transaction again can succeed.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


@dataclass
class Write:
    """What one write transaction has to settle before it commits."""

    caller: Caller | None
    now: datetime
    timezone: str | None = None  # the campaign's; needed by ``measure``
    snapshots: list[figures.Snapshot] = field(default_factory=list)
    touched: dict[str, list[Any]] = field(default_factory=dict)
    audit_rows: list[dict[str, Any]] = field(default_factory=list)
    attempt: int = 1

    def measure(self, household_ids: Iterable[str]) -> None:
        """Lock these households and measure their figures before they (or their visits)
        change; the difference is settled when the operation ends."""
        ids = list(household_ids)
        if ids:
            if self.timezone is None:
                raise RuntimeError("run_write(..., timezone=...) is needed to measure figures")
            self.snapshots.append(figures.snapshot(ids, self.timezone))

    def touch(self, entity: str, ids: Iterable[Any]) -> None:
        """Rows tablets pull ('unit', 'assignment', 'household', 'visit') that changed."""
        self.touched.setdefault(entity, []).extend(ids)

    def audit(self, action: str, target: str | None, details: dict[str, Any] | None = None) -> None:
        self.audit_rows.append(
            {
                "at": self.now,
                "actor": self.caller.username if self.caller else None,
                "action": action,
                "target": target,
                "client_address": self.caller.address if self.caller else None,
                "details": details,
            }
        )

    def audit_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Audit rows built by a domain plan (each with the keys of ``audit``'s rows)."""
        self.audit_rows.extend(dict(row) for row in rows)

    def finish(self) -> int | None:
        """Settle the figures, write the audit rows and stamp the touched rows; the change
        position taken, if any."""
        db.session.flush()
        for snapshot in self.snapshots:
            figures.settle(snapshot)
        audit.record_many(self.audit_rows)
        return changes.stamp(self.touched)


def is_retryable(exc: BaseException) -> bool:
    """A PostgreSQL deadlock or serialization failure: the transaction may simply run again."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def run_write(
    caller: Caller | None,
    now: datetime,
    work: Callable[[Write], T],
    *,
    timezone: str | None = None,
    attempts: int = ATTEMPTS,
) -> T:
    """Run ``work`` in one write transaction and settle what it did; retried whole when
    PostgreSQL reports a deadlock or serialization failure. Called inside another
    operation's ``work``, it joins that transaction (module docstring)."""
    outer = _open.get()
    if outer is not None:
        return work(
            Write(
                caller=caller,
                now=now,
                timezone=timezone or outer.timezone,
                snapshots=outer.snapshots,
                touched=outer.touched,
                audit_rows=outer.audit_rows,
                attempt=outer.attempt,
            )
        )
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction():
                write = Write(caller=caller, now=now, timezone=timezone, attempt=attempt)
                token = _open.set(write)
                try:
                    result = work(write)
                finally:
                    _open.reset(token)
                write.finish()
            return result
        except DBAPIError as exc:
            if is_read_only_error(exc.orig) and attempt == 1 and attempts > 1:
                # The failed connection is gone (store/engine.py): a fresh one knows better.
                db.session.expire_all()
                continue
            if not is_retryable(exc):
                raise
            log.warning(
                "write retried after %s (attempt %d of %d)",
                getattr(exc.orig, "sqlstate", "?"),
                attempt,
                attempts,
            )
            db.session.expire_all()
            if attempt < attempts:
                # Spread the retries of the transactions that collided.
                time.sleep(random.uniform(0, 0.02 * attempt))
    raise ApiError("storage_unavailable", details={"reason": "retries_exhausted"})
