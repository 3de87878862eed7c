"""Failed logins (table ``login_failures``): counted per username and per client address.

The rows live in the database, not in process memory, so every server process behind a
load balancer sees the same counts. Functions run in the caller's transaction: operations
write through ``services.writes.run_write``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from ..extensions import db
from ..models import LoginFailure
from .sessions import rowcount

# Column widths of the table: a longer value is cut, never refused (the limit still applies
# to the cut value, and an attacker gains nothing by sending more).
_WIDTH = 64


def _key(value: str) -> str:
    return value[:_WIDTH]


def _window_state(
    column: InstrumentedAttribute[str], value: str, since: datetime, limit: int
) -> tuple[int, datetime | None]:
    """(failures after ``since``, the failure whose leaving brings the count below ``limit``).

    Normally the count stops at the limit and that failure is the oldest one; when concurrent
    attempts pushed it past the limit, more than one failure has to leave first.
    """
    count = db.session.execute(
        select(func.count())
        .select_from(LoginFailure)
        .where(column == value, LoginFailure.at > since)
    ).scalar_one()
    if count < limit:
        return count, None
    blocking = db.session.execute(
        select(LoginFailure.at)
        .where(column == value, LoginFailure.at > since)
        .order_by(LoginFailure.at, LoginFailure.id)
        .offset(count - limit)
        .limit(1)
    ).scalar_one()
    return count, blocking


def failures_for_username(
    username: str, since: datetime, limit: int
) -> tuple[int, datetime | None]:
    return _window_state(LoginFailure.username, _key(username), since, limit)


def failures_for_address(address: str, since: datetime, limit: int) -> tuple[int, datetime | None]:
    return _window_state(LoginFailure.address, _key(address), since, limit)


def record_failure(username: str, address: str, at: datetime, forget_before: datetime) -> None:
    """Add one failure and drop this username's and this address's rows that have left the
    window, so the table stays as small as the traffic of the last window."""
    username, address = _key(username), _key(address)
    db.session.execute(
        delete(LoginFailure).where(
            or_(LoginFailure.username == username, LoginFailure.address == address),
            LoginFailure.at <= forget_before,
        )
    )
    db.session.add(LoginFailure(username=username, address=address, at=at))
    db.session.flush()


def clear_failures(username: str) -> int:
    """Forget every failed login of the username (``field-server users unlock NAME``);
    returns how many rows were deleted. Address counters are left alone: they protect
    against guessing across many usernames and clear themselves within the window."""
    result = db.session.execute(delete(LoginFailure).where(LoginFailure.username == _key(username)))
    return rowcount(result)
