"""A lossy link between the tablets and the server: a TCP proxy on 127.0.0.1 that, per
connection and at random (seeded), forwards faithfully or

- ``drop_answer``: forwards the whole request, waits for the server's whole answer (so the
  server has committed) and closes the tablet's connection without a byte of it;
- ``truncate``: sends the answer's head and only part of its body, then closes;
- ``delay``: holds the request, and then the answer, back for a moment (up to 0.4 s each);
- ``cut_request``: sends the request's head and part of its body, then closes both sides,
  so the server never has the whole body (nothing may be applied).

The tablets send one request per connection (``Connection: close``, as urllib does), and the
server closes after its answer, so "the answer" is everything until the server's EOF. The
upstream can be switched while running (a server restarted on another port). ``close()``
stops the listener and every connection thread.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

FAULTS = ("drop_answer", "truncate", "delay", "cut_request")
SOCKET_TIMEOUT = 60.0  # seconds; longer than any request the server is allowed to take


@dataclass(frozen=True)
class Chaos:
    """The chance of each fault per connection (the rest pass through), and how many faults
    at most: once ``budget`` connections were given a fault the link is faithful, so a run
    always ends."""

    drop_answer: float = 0.0
    truncate: float = 0.0
    delay: float = 0.0
    cut_request: float = 0.0
    budget: int = 0

    def pick(self, rng: random.Random) -> str | None:
        roll = rng.random()
        for name in FAULTS:
            chance = getattr(self, name)
            if roll < chance:
                return name
            roll -= chance
        return None


class FaultProxy:
    def __init__(self, upstream_port: int, seed: int, chaos: Chaos | None = None) -> None:
        self.upstream_port = upstream_port
        self.seed = seed
        self.chaos = chaos or Chaos()
        self.counts: Counter[str] = Counter()
        self.connections = 0
        self.chosen = 0  # connections given a fault (thrown or not: a dead server takes it)
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self.acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_upstream(self, port: int) -> None:
        with self.lock:
            self.upstream_port = port

    def set_chaos(self, chaos: Chaos) -> None:
        with self.lock:
            self.chaos = chaos

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.lock:
                self.connections += 1
                # One generator per connection, from the run's seed and its number.
                rng = random.Random(f"{self.seed}/{self.connections}")
                fault = self.chaos.pick(rng) if self.chosen < self.chaos.budget else None
                self.chosen += fault is not None
                upstream = self.upstream_port
            thread = threading.Thread(
                target=self._handle, args=(client, upstream, fault, rng), daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def _handle(
        self, client: socket.socket, upstream_port: int, fault: str | None, rng: random.Random
    ) -> None:
        with client:
            client.settimeout(SOCKET_TIMEOUT)
            try:
                request = read_request(client)
                if not request:
                    return
                with socket.create_connection(
                    ("127.0.0.1", upstream_port), timeout=SOCKET_TIMEOUT
                ) as upstream:
                    self._exchange(client, upstream, request, fault, rng)
            except OSError:
                return  # server down (restarting) or the tablet gave up: it sees a reset

    def _exchange(
        self,
        client: socket.socket,
        upstream: socket.socket,
        request: bytes,
        fault: str | None,
        rng: random.Random,
    ) -> None:
        if fault == "cut_request":
            head_end = request.find(b"\r\n\r\n") + 4
            # The head and part of the body (or part of the head, for a body-less request).
            cut = (
                rng.randrange(head_end, len(request)) if len(request) > head_end else head_end // 2
            )
            upstream.sendall(request[:cut])
            self._count(fault)
            return  # both sockets close: the server sees the body end early
        if fault == "delay":
            time.sleep(rng.uniform(0.05, 0.4))  # the fault itself, not a wait for a state
        upstream.sendall(request)
        answer = read_to_eof(upstream)
        if not answer:
            return  # the server died mid-request: the tablet sees the connection close
        if fault == "drop_answer":
            self._count(fault)
            return
        if fault == "truncate":
            head_end = answer.find(b"\r\n\r\n") + 4
            if 0 < head_end < len(answer):
                client.sendall(answer[: rng.randrange(head_end, len(answer))])
                self._count(fault)
                return
        if fault == "delay":
            time.sleep(rng.uniform(0.05, 0.4))
            self._count(fault)
        client.sendall(answer)

    def _count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def close(self) -> None:
        self.closing.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() would not
        self.listener.close()
        self.acceptor.join(10)
        for thread in self.threads:
            thread.join(SOCKET_TIMEOUT)


def read_request(sock: socket.socket) -> bytes:
    """One HTTP request: its head and Content-Length bytes of body (b"" if the peer left)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


def read_to_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
