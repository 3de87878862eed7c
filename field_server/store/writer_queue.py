"""The SQLite writers' queue: who takes the write lock next, by waking rather than polling.

SQLite lets one writer in at a time, and a writer that finds the lock taken polls for it
in its busy handler, sleeping longer and longer between tries (up to 100 ms). Under steady
load that is unfair: a writer that has waited a while sleeps 100 ms at a stretch, while
writers that came after it try again within a millisecond or two and take every free moment.
Measured with 50 tablets against four workers, some pushes waited 2 s for the lock, and on a
slower machine one waited past the 5 s busy timeout and got a 503.

So before ``BEGIN IMMEDIATE`` a writer takes an exclusive ``flock`` on a file beside the
database (``<database>-writers``), and lets it go when its transaction has ended. A writer
that finds it taken blocks in the kernel, which wakes the waiters as soon as it is let go:
the writer that just finished is still answering its request by then, so a waiting writer
goes next. SQLite's own lock stays the authority; the queue only orders the server's own
writers. The lock is the open file's, so it goes when its process dies (``kill -9``,
gunicorn's timeout): the queue never stays taken by a writer that is gone.

A kernel wait has no timeout, so the blocking wait runs in a short-lived thread while the
writer waits for it with one (FIELD_SQLITE_BUSY_TIMEOUT_MS, as for SQLite's own lock); a
wait that ran out leaves the thread to let the lock go again as soon as it gets it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass

SUFFIX = "-writers"


class QueueTimeout(Exception):
    """The writers' queue was not free within the busy timeout."""


@dataclass
class Turn:
    """One writer's hold on the queue: let it go with ``release()`` (idempotent)."""

    fd: int | None
    waited_s: float

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the only descriptor of this open file lets the lock go


class WriterQueue:
    """The queue of one SQLite database file's writers (see the module docstring)."""

    def __init__(self, database: str, timeout_s: float) -> None:
        self.path = database + SUFFIX
        self.timeout_s = timeout_s

    def _open(self) -> int | None:
        # Read-only and without truncation: a flock needs no write access, so the queue
        # works in a directory the server may no longer write to (the file is then already
        # there). Each turn opens its own file: flocks of two open files conflict, even in
        # one process, so threads queue as processes do.
        try:
            return os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None  # no file and no right to make one: SQLite's lock alone decides

    def take(self) -> Turn:
        """Wait for the queue; raise QueueTimeout after the timeout."""
        fd = self._open()
        if fd is None:
            return Turn(None, 0.0)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return Turn(fd, 0.0)
        except BlockingIOError:
            pass
        except OSError:
            os.close(fd)
            return Turn(None, 0.0)
        return self._wait(fd)

    def _wait(self, fd: int) -> Turn:
        started = time.monotonic()
        done = threading.Event()
        state = {"granted": False, "abandoned": False}
        guard = threading.Lock()

        def block() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                granted = True
            except OSError:
                granted = False
            with guard:
                if state["abandoned"]:
                    os.close(fd)  # the writer gave up: let the lock go at once
                    return
                state["granted"] = granted
                done.set()

        threading.Thread(target=block, name="sqlite-writers-queue", daemon=True).start()
        if not done.wait(self.timeout_s):
            with guard:
                if not done.is_set():
                    state["abandoned"] = True
                    raise QueueTimeout(f"waited {self.timeout_s:.1f} s for the writers' queue")
        if not state["granted"]:
            os.close(fd)
            return Turn(None, time.monotonic() - started)
        return Turn(fd, time.monotonic() - started)
