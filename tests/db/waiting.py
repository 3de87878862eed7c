"""Waiting, in a test, for what another thread or process brings about: polled against a
deadline (a bound, never a pause), and failing with what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT = 20  # seconds


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.005)
