"""The server's one clock: every operation takes ``now`` from here once and passes it on."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
