"""The server under fault: one ``field-server serve --workers N`` (a gunicorn master and its
workers) in its own process group, which the harness kills whole (SIGKILL to the group) or
one worker at a time, and starts again.

Its output goes through a pipe to a reader thread that writes the log file, so that a
file-size limit put on the server's processes (the full-disk fault) cannot stop it from
logging, nor block it. Every start picks a new free port (the proxy in front is told);
``close()`` kills whatever is left, also when the test failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

from tests.e2e.processes import FIELD_SERVER, free_port
from tests.faults.storage import limit_file_size

START_DEADLINE = 60.0  # seconds for a (re)started server or a new worker to answer
POLL = 0.05  # seconds between polls of a condition, always under a deadline


class ServerGone(AssertionError):
    """The server stopped by itself or never became healthy."""


class ServerProcess:
    def __init__(self, env: dict[str, str], folder: Path, workers: int) -> None:
        self.env = env
        self.folder = folder
        self.workers_wanted = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self.tail: deque[str] = deque(maxlen=200)
        self.reader: threading.Thread | None = None
        self.log_path = folder / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        self.starts += 1
        self.process = subprocess.Popen(
            [
                *(FIELD_SERVER, "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                *("--workers", str(self.workers_wanted)),
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )
        self.reader = threading.Thread(target=self._read_output, args=(self.process,), daemon=True)
        self.reader.start()
        self.wait_ready()

    def _read_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} on port {self.port}\n".encode())
            for line in process.stdout:
                log.write(line)
                self.tail.append(line.decode(errors="replace"))

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as answer:  # noqa: S310
                return answer.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def workers(self) -> list[int]:
        """The master's children (its workers), from /proc."""
        if self.process is None or self.process.poll() is not None:
            return []
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(child) for child in text.split()]

    def wait_ready(self, gone: frozenset[int] = frozenset()) -> None:
        """Until every worker is up (none of ``gone`` among them) and /healthz answers."""
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ServerGone(f"the server exited ({self.process.returncode}):\n{self.log()}")
            current = set(self.workers())
            if len(current) == self.workers_wanted and not current & gone and self.healthy():
                return
            time.sleep(POLL)
        raise ServerGone(f"the server was not ready after {START_DEADLINE}s:\n{self.log()}")

    def kill_group(self) -> None:
        """SIGKILL the master and every worker at once, as a power cut would."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        if self.reader is not None:
            self.reader.join(30)  # every writer of the pipe is gone: EOF

    def kill_worker(self, pick: int) -> int:
        """SIGKILL one worker (the ``pick``-th, modulo their number); the master starts
        another. Returns when the replacement serves."""
        workers = sorted(self.workers())
        if not workers:
            raise ServerGone(f"no workers to kill:\n{self.log()}")
        victim = workers[pick % len(workers)]
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
        self.wait_ready(gone=frozenset({victim}))
        return victim

    def limit_file_size(self, limit: int | None) -> None:
        """The full-disk fault (storage.py), on the master first so that a worker it forks
        meanwhile inherits the same limit."""
        assert self.process is not None
        limit_file_size([self.process.pid], limit)
        limit_file_size(self.workers(), limit)

    def close(self) -> None:
        """SIGINT the group (gunicorn's quick shutdown: a graceful SIGTERM waits for the
        tablets' kept-alive connections, ~10 s of every run for nothing the test looks at),
        SIGKILL it if it does not go within 15 s."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)
        if self.reader is not None:
            self.reader.join(15)

    def log(self) -> str:
        return "".join(list(self.tail)[-60:])
