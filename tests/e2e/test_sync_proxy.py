"""Tablets behind a lossy link (issue 3, acceptance 2): a real server with two workers, and a
small TCP proxy that lets every other push through to the server but throws the answer away
once the server has sent it (so after the commit). The tablets retry as the protocol says;
in the end every visit is on the server exactly once."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.e2e.processes import field_env, run_cli

pytestmark = pytest.mark.e2e

UNITS = """scheme,code,name,level,parent_code,adult_population,target_rate
gso-2020,33,Tỉnh Hưng Yên,province,,,
gso-2020,326,Huyện Văn Giang,district,33,,
gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,0.6
"""
TABLETS = 3
HOUSEHOLDS_PER_TABLET = 30
BATCH = 8


class DroppingProxy:
    """Forwards 127.0.0.1 connections to the server; drops every other push's answer."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pushes = 0
        self.dropped = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            client.settimeout(30)
            upstream.settimeout(60)
            request = self.read_request(client)
            upstream.sendall(request)
            answer = b""
            while chunk := upstream.recv(65536):  # the server closes after one answer
                answer += chunk
            drop = False
            if request.startswith(b"POST /api/v1/sync/push"):
                with self.lock:
                    self.pushes += 1
                    drop = self.pushes % 2 == 1
                    self.dropped += drop
            if not drop:
                client.sendall(answer)

    @staticmethod
    def read_request(client: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += client.recv(65536)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.stopping = True
        self.listener.close()


def call(base: str, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        base + path, data=json.dumps(body).encode() if body is not None else None, method=method
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Connection", "close")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def tablet_run(base: str, username: str, password: str, created: list[str], errors: list) -> None:
    """A tablet: record everything in an outbox first, then push until all is acknowledged,
    resending the same batch whenever an answer is lost."""
    try:
        device = str(uuid.uuid4())
        token = call(
            base,
            "POST",
            "/api/v1/auth/login",
            {
                "username": username,
                "password": password,
                "device_id": device,
                "device_secret": f"proxy-secret-of-{device}",
            },
        )["access_token"]
        outbox, number, ms = [], 1, 1_597_458_600_000
        for n in range(HOUSEHOLDS_PER_TABLET):
            household, visit = str(uuid.uuid4()), str(uuid.uuid4())
            ms += 120_000
            outbox.append(
                {
                    "mutation_id": number,
                    "type": "household.upsert",
                    "id": household,
                    "base_version": 0,
                    "hlc": f"{ms}-0000-{device}",
                    "data": {"ward": "gso-2020:12019", "address": f"Số {n} ngõ {username}"},
                }
            )
            outbox.append(
                {
                    "mutation_id": number + 1,
                    "type": "visit.create",
                    "id": visit,
                    "hlc": f"{ms + 1}-0000-{device}",
                    "data": {
                        "household_id": household,
                        "visited_at": "2020-08-15T09:31:00+07:00",
                        "outcome": "not_home",
                    },
                }
            )
            created.append(visit)
            number += 2
        for _ in range(200):  # bounded: each batch is lost at most every other time
            if not outbox:
                return
            batch = outbox[:BATCH]
            try:
                answer = call(
                    base,
                    "POST",
                    "/api/v1/sync/push",
                    {"device_id": device, "mutations": batch},
                    token,
                )
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                continue  # the answer was lost: send the very same batch again
            done = {r["mutation_id"] for r in answer["results"] if r["status"] != "rejected"}
            assert done == {m["mutation_id"] for m in batch}, answer
            outbox = outbox[len(batch) :]
        errors.append(f"{username}: outbox not empty after 200 tries")
    except Exception as exc:  # reported by the test thread
        errors.append(f"{username}: {exc!r}")


def test_no_visit_lost_or_doubled_when_answers_are_dropped(tmp_path, servers):
    env = field_env(tmp_path / "instance")
    run_cli(env, "init-secrets")
    run_cli(env, "db", "upgrade")
    (tmp_path / "units.csv").write_text(UNITS)
    run_cli(env, "units", "import", str(tmp_path / "units.csv"))
    field_server = str(Path(sys.executable).with_name("field-server"))
    for n in range(TABLETS):
        subprocess.run(
            [
                field_server,
                "users",
                "create",
                f"cv.px.{n}",
                "--role",
                "canvasser",
                "--unit",
                "gso-2020:12019",
                "--password-stdin",
            ],
            env=env,
            input="proxy-password-1\n",
            text=True,
            check=True,
            capture_output=True,
            timeout=60,
        )
    server = servers(env, "--workers", "2")
    proxy = DroppingProxy(server.port)
    try:
        created: list[list[str]] = [[] for _ in range(TABLETS)]
        errors: list[str] = []
        threads = [
            threading.Thread(
                target=tablet_run,
                args=(
                    f"http://127.0.0.1:{proxy.port}",
                    f"cv.px.{n}",
                    "proxy-password-1",
                    created[n],
                    errors,
                ),
            )
            for n in range(TABLETS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert errors == []
        assert proxy.dropped >= TABLETS  # answers really were lost after the commit
    finally:
        proxy.close()

    # Straight to the database: every visit once, and each device's ledger at its last id.
    database = sqlite3.connect(tmp_path / "instance" / "field.db")
    visits = [row[0] for row in database.execute("SELECT id FROM visits")]
    ledgers = [row[0] for row in database.execute("SELECT last_mutation_id FROM devices")]
    database.close()
    expected = sorted(v for per_tablet in created for v in per_tablet)
    assert sorted(visits) == expected  # none lost, none doubled
    assert sorted(ledgers) == [2 * HOUSEHOLDS_PER_TABLET] * TABLETS
