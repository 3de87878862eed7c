"""How the tablet client talks HTTP: a small ``Transport`` protocol and a urllib version.

The client never calls urllib directly; it is handed a transport, so tests can put an
in-memory fake server (or one that drops answers) behind the same interface. A transport
answers every HTTP status as a ``Response`` — 4xx and 5xx included, since the client
branches on the error envelope's ``code`` — and raises ``TransportError`` only when no
answer arrived at all (refused connection, timeout, a connection cut mid-answer).
"""

from __future__ import annotations

import http.client
import json as jsonlib
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class TransportError(Exception):
    """No answer from the server: the request may or may not have been applied."""


@dataclass(frozen=True)
class Response:
    """One HTTP answer. ``headers`` keys are lower-case; ``body`` is the parsed JSON, or
    ``None`` when the body was empty or not JSON (a proxy's HTML error page, say)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def code(self) -> str | None:
        """The error envelope's ``code`` (docs/errors.md), when there is one."""
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return self.body["code"]
        return None


class Transport(Protocol):
    """Sends one request; ``path`` starts with ``/`` and may carry a query string."""

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
    ) -> Response: ...


class HttpTransport:
    """A ``Transport`` over urllib, for the command line and real tablets."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        *,
        accept_language: str | None = None,
        user_agent: str = "field-sync",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.accept_language = accept_language
        self.user_agent = user_agent

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
    ) -> Response:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        data = None
        if json is not None:
            data = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        url = self.base_url + path
        if not url.startswith(("http://", "https://")):
            raise TransportError(f"Not an http(s) URL: {url}")
        req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:  # noqa: S310
                return _response(answer.status, answer.headers.items(), answer.read())
        except urllib.error.HTTPError as err:
            # An HTTP error status is still an answer: read the envelope.
            try:
                raw = err.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            return _response(err.code, err.headers.items() if err.headers else [], raw)
        except (OSError, http.client.HTTPException) as e:  # URLError and timeouts included
            reason = getattr(e, "reason", None) or e
            raise TransportError(f"{method} {path}: {reason}") from e


def _response(status: int, headers: Any, raw: bytes) -> Response:
    body: Any = None
    if raw:
        try:
            body = jsonlib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
    return Response(status, {k.lower(): v for k, v in headers}, body)
