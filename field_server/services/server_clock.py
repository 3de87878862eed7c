"""The server's hybrid logical clock (node "server"), one per process.

Pushes merge the tablets' clocks into it while planning, and every sync answer carries a
reading (``server_hlc``), so the lock serialises the threads of one worker process. Other
processes have their own clock; HLC ordering tolerates that by design (domain/hlc.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from domain.hlc import HybridClock, format_hlc

T = TypeVar("T")

_clock = HybridClock("server")
_lock = threading.Lock()


def reading(now: datetime) -> str:
    """The clock's next value, formatted as the protocol sends it."""
    with _lock:
        return format_hlc(_clock.now(int(now.timestamp() * 1000)))


def with_clock(plan: Callable[[HybridClock], T]) -> T:
    """Run ``plan`` (a push planner) with the clock held, so its readings stay ordered."""
    with _lock:
        return plan(_clock)
