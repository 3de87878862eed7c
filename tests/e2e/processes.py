"""Real server processes for end-to-end tests: start, poll until healthy, talk HTTP, stop.

Every server runs as a child process in its own session with its own instance folder in
tmp_path and a scrubbed environment (no FIELD_* from the developer's shell). Readiness is
polled on /healthz with a bounded deadline; every process is killed in teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FIELD_SERVER = str(Path(sys.executable).with_name("field-server"))
START_DEADLINE = 60.0  # seconds for a server to answer /healthz
COMMAND_TIMEOUT = 120.0
CHEAP_ARGON2 = {
    "FIELD_ARGON2_TIME_COST": "1",
    "FIELD_ARGON2_MEMORY_KIB": "8",
    "FIELD_ARGON2_PARALLELISM": "1",
}


def field_env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELD_")}
    env.update({"FIELD_INSTANCE_PATH": str(instance), **CHEAP_ARGON2, **extra})
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [FIELD_SERVER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return "".join(
            f"--- {p.name}\n{p.read_text(errors='replace')}" for p in (self.stdout, self.stderr)
        )


def http(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (our URL)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_DEADLINE
    for _ in range(10_000):
        if server.process.poll() is not None:
            pytest.fail(f"server exited with {server.process.returncode}:\n{server.output()}")
        try:
            status, _, body = http("GET", f"{server.url}/healthz")
            if status == 200 and body.get("ok"):
                return
        except (OSError, ValueError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)  # poll interval, bounded by the deadline
    pytest.fail(f"server not healthy after {START_DEADLINE}s:\n{server.output()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (gunicorn master and workers), then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


class ServerPool:
    """Starts servers and stops every one of them (also on failure, via the fixture)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def __call__(self, env: dict[str, str], *args: str) -> Server:
        port = free_port()
        out, err = self.folder / f"serve-{port}.out", self.folder / f"serve-{port}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [FIELD_SERVER, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                env=env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group, stopped as one
            )
        self.processes.append(process)
        server = Server(process, port, out, err)
        wait_until_healthy(server)
        return server

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


def read_credentials(instance: Path) -> dict[str, str]:
    path = instance / "demo-credentials.txt"
    assert path.stat().st_mode & 0o077 == 0
    rows = [line.split("\t") for line in path.read_text().splitlines() if line[:1] != "#"]
    return {row[0]: row[2] for row in rows}
