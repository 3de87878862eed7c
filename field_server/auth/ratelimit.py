"""Failed-login limiting (API §2): per username, and far more loosely per client address.

Policy: a sliding window of ``LOGIN_WINDOW_SECONDS``. When the failures already counted in
the window reach ``LOGIN_MAX_FAILURES_PER_USER`` (or ``..._PER_ADDRESS``), the next attempt
is refused with 429 ``rate_limited`` *before* the password is looked at, so a correct
password does not get through either, and guessing costs the server no hashing. A
successful login does not reset the counter: otherwise an attacker who knows one password
(their own) could interleave it to keep guessing another's at full speed from one address.

The check and the recording are separate short transactions (the password hash is verified
in between, and must not hold the write lock): under concurrency a few attempts already in
flight when the limit is reached are still answered, at most one per busy worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from ..errors import ApiError
from ..store import logins


@dataclass(frozen=True)
class LoginLimits:
    window: timedelta
    per_user: int
    per_address: int

    @classmethod
    def from_config(cls) -> LoginLimits:
        cfg = current_app.config
        return cls(
            window=timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"]),
            per_user=cfg["LOGIN_MAX_FAILURES_PER_USER"],
            per_address=cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        )


def retry_after_seconds(blocking_at: datetime, window: timedelta, now: datetime) -> int:
    """Whole seconds until the blocking failure leaves the window, at least 1."""
    remaining = (blocking_at + window - now).total_seconds()
    return max(1, math.ceil(remaining))


def ensure_login_allowed(username: str, address: str, now: datetime) -> None:
    """Raise 429 rate_limited (with Retry-After) when either counter is at its limit."""
    limits = LoginLimits.from_config()
    since = now - limits.window
    waits = []
    _, user_blocking = logins.failures_for_username(username, since, limits.per_user)
    if user_blocking is not None:
        waits.append(retry_after_seconds(user_blocking, limits.window, now))
    _, address_blocking = logins.failures_for_address(address, since, limits.per_address)
    if address_blocking is not None:
        waits.append(retry_after_seconds(address_blocking, limits.window, now))
    if waits:
        # Both may be exhausted: the client may try again only when both allow it.
        wait = max(waits)
        raise ApiError(
            "rate_limited", details={"retry_after": wait}, headers={"Retry-After": str(wait)}
        )


def note_failure(username: str, address: str, now: datetime) -> None:
    """Count one failed attempt (call inside a write transaction)."""
    limits = LoginLimits.from_config()
    logins.record_failure(username, address, now, forget_before=now - limits.window)
