"""The reference tablet client: record offline, push the outbox, pull the replica
(docs/sync-protocol.md).

``SyncClient`` is handed everything with side effects — the transport, the local store, the
wall clock and the sleep used between retries — so that tests run it against a fake server
with a fake clock and never sleep.

The rules it keeps, because losing or doubling a visit is the one unforgivable bug:

- A change is written to the outbox, with its number, before any attempt to send it.
- An outbox entry leaves only when a 200 push answer lists its result. A retry after a lost
  answer resends the same batch with the same numbers and content; the server answers the
  part it already holds as replays.
- Numbers are never reused or changed. After a reinstall the numbering goes on after the
  server's ``last_mutation_id`` (given at login); a gap the outbox cannot fill is an error
  for a person to look at, never a reason to renumber.
- A pull page and its cursor are stored in one local transaction; a full copy (``reset``)
  is built beside the old replica and swapped in at its last page.
"""

from __future__ import annotations

import email.utils
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from domain.hlc import HybridClock, format_hlc, parse_hlc
from domain.records import COUNT_FIELDS, MAX_BATCH, SyncError
from domain.validation import clean_household, clean_visit, count_errors

from .store import LocalStore, OutboxEntry
from .transport import Response, Transport, TransportError

log = logging.getLogger("field_sync")

API = "/api/v1"
# 48 random bytes: a 64-character secret, inside the 32 to 128 the server takes.
DEVICE_SECRET_BYTES = 48
# 401 codes after which the stored session is dead: only a new login helps.
SESSION_ENDED = frozenset({"refresh_reused", "token_invalid", "device_revoked", "token_expired"})


class SyncClientError(Exception):
    """Something stopped a sync operation; ``code`` says what, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RefusedError(SyncClientError):
    """The server answered with an error envelope (docs/errors.md)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.status = status
        self.errors = errors or {}
        self.details = details or {}

    @classmethod
    def from_response(cls, resp: Response) -> RefusedError:
        body = resp.body if isinstance(resp.body, dict) else {}
        code = resp.code or f"http_{resp.status}"
        message = body.get("message") or f"The server answered HTTP {resp.status}."
        return cls(resp.status, code, message, errors=body.get("errors"),
                   details=body.get("details"))  # fmt: skip


class LoginRequired(RefusedError):
    """No usable session: the canvasser must log in (again). The outbox is kept."""


class MutationGapError(SyncClientError):
    """The server's numbering and the outbox disagree in a way only a person can settle."""


@dataclass
class LoginResult:
    username: str
    role: str | None
    device_id: str
    last_mutation_id: int | None
    next_mutation_id: int
    numbering_adopted: bool


@dataclass
class PushReport:
    batches: int = 0
    sent: int = 0
    acknowledged: int = 0
    replayed: int = 0
    rejected: int = 0
    flags: dict[str, int] = field(default_factory=dict)


@dataclass
class PullReport:
    pages: int = 0
    changes: int = 0
    full_copy: bool = False  # a full copy was built (no cursor, reset or cursor_invalid)
    cursor_dropped: bool = False


def _system_wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SyncClient:
    """A tablet. ``wall_ms`` reads the wall clock in ms; ``sleep`` waits between retries;
    ``rng`` gives the jitter (0 ≤ x < 1)."""

    def __init__(
        self,
        transport: Transport,
        store: LocalStore,
        *,
        wall_ms: Callable[[], int] = _system_wall_ms,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
        max_retry_after: float = 600.0,
    ) -> None:
        self.transport = transport
        self.store = store
        self.wall_ms = wall_ms
        self.sleep = sleep
        self.rng = rng
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._clock: HybridClock | None = None

    # --- identity and clock ------------------------------------------------------------

    @property
    def device_id(self) -> str | None:
        return self.store.get("device_id")

    def require_login(self) -> str:
        """The device id, or ``LoginRequired`` when this store has never logged in."""
        # Recording works offline once the tablet has logged in at least once (the login
        # fixed the device id and where the numbering stands), even if the session ended.
        device_id = self.device_id
        if not device_id or not self.store.get("username"):
            raise LoginRequired(401, "not_logged_in", "Log in first (field-sync login).")
        return device_id

    @property
    def clock(self) -> HybridClock:
        """The device's hybrid logical clock, restored from the store."""
        device_id = self.device_id
        if device_id is None:
            raise LoginRequired(401, "not_logged_in", "Log in first (field-sync login).")
        if self._clock is None or self._clock.node != device_id:
            saved = self.store.get("clock")
            last = parse_hlc(saved) if saved else None
            if last is not None and last.node != device_id:
                last = last._replace(node=device_id)
            self._clock = HybridClock(device_id, last)
        return self._clock

    def _observe(self, resp: Response) -> None:
        """Merge the server's clock into the device's (every sync answer carries it)."""
        text = resp.body.get("server_hlc") if isinstance(resp.body, dict) else None
        if not isinstance(text, str) or not self.device_id:
            return
        try:
            remote = parse_hlc(text)
        except SyncError:
            log.warning("ignoring a malformed server_hlc %r", text)
            return
        # HybridClock ignores a remote reading far ahead of the local wall time; that guard
        # protects the server from tablets. Here the server is the reference and the
        # tablet's wall clock is the doubtful one (it may be hours or days slow), so the
        # server's reading is always taken: later edits on this tablet then order after
        # everything it has seen from the server.
        wall = max(self.wall_ms(), remote.ms)
        self.store.set("clock", format_hlc(self.clock.observe(remote, wall)))

    def _now_iso(self) -> str:
        stamp = datetime.fromtimestamp(self.wall_ms() / 1000, UTC)
        return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")

    # --- HTTP with retries and token refresh -------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        auth: bool = True,
        retry_rate_limited: bool = True,
    ) -> Response:
        """Send with retries (network failures, 5xx, 429) and one token refresh on
        401 ``token_expired``. Returns the last answer; raises ``TransportError`` when no
        attempt got one, ``LoginRequired`` when the session is over."""
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            token = None
            if auth:
                token = self.store.get("access_token")
                if not token:
                    raise LoginRequired(401, "not_logged_in", "Log in first (field-sync login).")
            try:
                resp = self.transport.request(method, path, json=json, token=token)
            except TransportError:
                if attempt >= self.max_attempts:
                    raise
                self._backoff(attempt, None)
                continue
            self._observe(resp)
            if auth and resp.status == 401:
                if resp.code == "token_expired" and not refreshed:
                    self._refresh()
                    refreshed = True
                    attempt -= 1  # the refresh is not a failed attempt of this request
                    continue
                raise self._session_over(resp)
            retryable = resp.status >= 500 or (resp.status == 429 and retry_rate_limited)
            if retryable and attempt < self.max_attempts:
                self._backoff(attempt, resp.header("Retry-After"))
                continue
            return resp

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        """Exponential backoff with jitter; an explicit Retry-After is honoured (capped, so
        a broken proxy cannot park the tablet for a day) and gets a little jitter on top, so
        a ward's tablets told the same delay do not all come back at once."""
        wait = self._retry_after_seconds(retry_after)
        if wait is not None:
            delay = min(wait, self.max_retry_after) + self.rng() * self.backoff_base
        else:
            ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            delay = ceiling / 2 + self.rng() * ceiling / 2
        self.sleep(delay)

    def _retry_after_seconds(self, value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - self.wall_ms() / 1000)

    def _session_over(self, resp: Response) -> LoginRequired:
        base = RefusedError.from_response(resp)
        if base.code in SESSION_ENDED:
            self.store.delete("access_token", "refresh_token")
        return LoginRequired(
            resp.status,
            base.code,
            f"{base.message} Log in again (field-sync login); nothing recorded is lost.",
            details=base.details,
        )

    def _refresh(self) -> None:
        refresh_token = self.store.get("refresh_token")
        if not refresh_token:
            raise LoginRequired(401, "not_logged_in", "Log in first (field-sync login).")
        # device_id lets the server recognise a retry after a lost answer (docs/api-auth.md).
        body = {"refresh_token": refresh_token, "device_id": self.device_id}
        resp = self._request("POST", f"{API}/auth/refresh", json=body, auth=False)
        if resp.status == 401:
            raise self._session_over(resp)
        if resp.status != 200 or not isinstance(resp.body, dict):
            raise RefusedError.from_response(resp)
        self._save_session(resp.body)

    def _save_session(self, body: dict[str, Any]) -> None:
        with self.store.transaction():
            self.store.set("access_token", body["access_token"])
            self.store.set("refresh_token", body["refresh_token"])
            user = body.get("user") or {}
            if user.get("username"):
                self.store.set("username", user["username"])
            if user.get("role"):
                self.store.set("role", user["role"])

    # --- login -------------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        device_name: str | None = None,
        *,
        device_id: str | None = None,
        device_secret: str | None = None,
    ) -> LoginResult:
        """Log in as this tablet (docs/api-auth.md). The device id and its secret are made
        once per install and kept; ``device_id`` restores a known id into a new store (a
        reinstalled tablet) together with ``device_secret``, its secret kept outside the
        store; without the secret the server accepts a known id only for a device registered
        before device credentials, and only from its owner.
        """
        current = self.device_id
        if current is None:
            current = device_id or str(uuid.uuid4())
            self.store.set("device_id", current)
        elif device_id is not None and device_id != current:
            raise SyncClientError(
                "device_mismatch",
                f"This store belongs to device {current}; use another --data file.",
            )
        if device_secret is not None:
            if device_id is None:
                raise SyncClientError(
                    "device_secret_without_id", "A device secret restores a device id: give both."
                )
            self.store.set("device_secret", device_secret)
        secret = self.store.get("device_secret")
        if secret is None:
            # Made once, beside the device id, and never shown (API v1.1). A store from
            # before device credentials gets one now: the server lets the owner register it.
            secret = secrets.token_urlsafe(DEVICE_SECRET_BYTES)
            self.store.set("device_secret", secret)
        body: dict[str, Any] = {
            "username": username,
            "password": password,
            "device_id": current,
            "device_secret": secret,
        }
        if device_name is not None:
            body["device_name"] = device_name
        # A refused login is not retried on 429: repeating a password will not help.
        resp = self._request(
            "POST", f"{API}/auth/login", json=body, auth=False, retry_rate_limited=False
        )
        if resp.status != 200 or not isinstance(resp.body, dict):
            raise RefusedError.from_response(resp)
        self._save_session(resp.body)
        self.store.set("username", username)
        device = resp.body.get("device") or {}
        last = device.get("last_mutation_id")
        adopted = isinstance(last, int) and self.store.adopt_numbering(last)
        user = resp.body.get("user") or {}
        return LoginResult(
            username=username,
            role=user.get("role"),
            device_id=current,
            last_mutation_id=last if isinstance(last, int) else None,
            next_mutation_id=self.store.next_mutation_id,
            numbering_adopted=adopted,
        )

    # --- recording ---------------------------------------------------------------------

    def _record(
        self,
        type: str,
        id: str,
        base_version: int | None,
        data: dict[str, Any],
        *,
        record: dict[str, Any] | None,
        record_version: int,
    ) -> OutboxEntry:
        self.require_login()
        hlc = format_hlc(self.clock.now(self.wall_ms()))
        return self.store.add_mutation(
            type,
            id,
            base_version,
            data,
            hlc=hlc,
            created_at=self._now_iso(),
            record=record,
            record_version=record_version,
        )

    def _base_version(self, entity: str, id: str, given: int | None) -> tuple[int, dict]:
        known = self.store.record(entity, id)
        if given is not None:
            return given, (known or {}).get("data") or {}
        if known is None:
            raise SyncError(
                "not_found",
                f"No {entity} {id} on this tablet; pull first or give base_version.",
                errors={"id": ["Unknown here."]},
            )
        # A record created here and not acknowledged yet becomes version 1 when applied.
        return max(known["version"], 1), known["data"]

    def add_household(
        self,
        *,
        ward: str,
        address: str,
        group: str | None = None,
        head_name: str | None = None,
        phone: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        household_id: str | None = None,
    ) -> OutboxEntry:
        """Record a new household (``household.upsert`` with base_version 0)."""
        optional = {"group": group, "lat": lat, "lon": lon, "head_name": head_name,
                    "phone": phone}  # fmt: skip
        data: dict[str, Any] = {"ward": ward, "address": address}
        data.update({k: v for k, v in optional.items() if v is not None})
        data = clean_household(data, creating=True)
        id_ = household_id or str(uuid.uuid4())
        return self._record("household.upsert", id_, 0, data, record=data, record_version=0)

    def update_household(
        self, household_id: str, changes: dict[str, Any], *, base_version: int | None = None
    ) -> OutboxEntry:
        """Record changed fields of a household (only those; ``ward`` cannot change)."""
        household_id = self.store.survivor(household_id)
        base, known = self._base_version("household", household_id, base_version)
        data = clean_household(dict(changes), creating=False)
        merged = {**known, **data}
        return self._record("household.upsert", household_id, base, data, record=merged,
                            record_version=base)  # fmt: skip

    def add_visit(
        self,
        *,
        household_id: str,
        outcome: str,
        visited_at: str | None = None,
        counts: dict[str, int] | None = None,
        lat: float | None = None,
        lon: float | None = None,
        accuracy_m: float | None = None,
        notes: str | None = None,
        come_back_at: str | None = None,
        visit_id: str | None = None,
    ) -> OutboxEntry:
        """Record a visit (``visit.create``). ``visited_at`` defaults to now, in the
        tablet's local time with its offset. A household merged away is replaced by its
        survivor. The counts rules are checked here, so a typo is caught at the door."""
        if visited_at is None:
            stamp = datetime.fromtimestamp(self.wall_ms() / 1000, UTC).astimezone()
            visited_at = stamp.isoformat(timespec="seconds")
        data: dict[str, Any] = {
            "household_id": self.store.survivor(household_id),
            "visited_at": visited_at,
            "outcome": outcome,
        }
        for name in COUNT_FIELDS:
            if counts and counts.get(name) is not None:
                data[name] = counts[name]
        optional = {"lat": lat, "lon": lon, "accuracy_m": accuracy_m, "notes": notes,
                    "come_back_at": come_back_at}  # fmt: skip
        data.update({k: v for k, v in optional.items() if v is not None})
        clean_visit(data, creating=True)
        if errors := count_errors(data):
            raise SyncError("validation_failed", "The visit's counts are invalid.", errors=errors)
        id_ = visit_id or str(uuid.uuid4())
        # What the server will show of the new visit that the tablet already knows.
        record = {**data, "canvasser": self.store.get("username"), "device_id": self.device_id,
                  "review_status": "pending", "voided": False}  # fmt: skip
        return self._record("visit.create", id_, None, data, record=record, record_version=0)

    def update_visit(
        self, visit_id: str, changes: dict[str, Any], *, base_version: int | None = None
    ) -> OutboxEntry:
        """Record a correction of one's own visit: only the changed fields."""
        base, known = self._base_version("visit", visit_id, base_version)
        clean_visit(dict(changes), creating=False)
        merged = {**known, **changes}
        if known and (errors := count_errors(merged)):
            raise SyncError("validation_failed", "The visit's counts are invalid.", errors=errors)
        return self._record("visit.update", visit_id, base, dict(changes), record=merged,
                            record_version=base)  # fmt: skip

    def void_visit(
        self, visit_id: str, reason: str, *, base_version: int | None = None
    ) -> OutboxEntry:
        """Record that a visit should not count (``visit.void``)."""
        base, known = self._base_version("visit", visit_id, base_version)
        record = {**known, "voided": True}
        return self._record("visit.void", visit_id, base, {"reason": reason}, record=record,
                            record_version=base)  # fmt: skip

    # --- push --------------------------------------------------------------------------

    def push(
        self,
        batch_size: int = MAX_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> PushReport:
        """Send the outbox in order, in consecutive batches of at most 500 (docs/sync-protocol.md).
        ``progress`` is called with the number of mutations each answered batch held."""
        device_id = self.require_login()
        batch_size = max(1, min(batch_size, MAX_BATCH))
        report = PushReport()
        start = self.store.first_pending_id()
        gap_restarts = 0
        while start is not None:
            batch = self.store.run_from(start, batch_size)
            body = {"device_id": device_id, "mutations": [e.wire() for e in batch]}
            resp = self._request("POST", f"{API}/sync/push", json=body)
            if resp.status == 413 and len(batch) > 1:
                # Too many bytes for one request (notes are long): the same mutations in
                # smaller batches are just as valid, the numbers do not change.
                batch_size = max(1, len(batch) // 2)
                continue
            if resp.status == 409 and resp.code == "mutation_gap":
                gap_restarts += 1
                start = self._after_gap(resp, start, gap_restarts)
                continue
            if resp.status != 200 or not isinstance(resp.body, dict):
                raise RefusedError.from_response(resp)
            results = resp.body.get("results") or []
            tally = self.store.record_push_results(
                batch,
                results,
                last_mutation_id=resp.body.get("last_mutation_id"),
                received_at=self._now_iso(),
            )
            report.batches += 1
            report.sent += len(batch)
            report.acknowledged += tally.acknowledged
            report.replayed += tally.replayed
            report.rejected += tally.rejected
            for result in results:
                for flag in result.get("flags") or ():
                    report.flags[flag] = report.flags.get(flag, 0) + 1
            if progress:
                progress(len(batch))
            following = self.store.first_pending_id()
            if tally.unanswered and following is not None and following <= batch[-1].mutation_id:
                # A 200 that leaves some of the batch unanswered would make us loop forever.
                raise SyncClientError(
                    "incomplete_answer",
                    f"The server answered without results for {tally.unanswered} "
                    f"mutation(s) from {following}; they stay in the outbox.",
                )
            start = following
        return report

    def _after_gap(self, resp: Response, start: int, restarts: int) -> int:
        """Where to resend from after 409 ``mutation_gap``. The server lacks
        ``expected`` … ``start - 1``: resend them when the outbox still holds them (kept
        rejected entries, say), otherwise stop — numbers are never changed."""
        details = resp.body.get("details") if isinstance(resp.body, dict) else None
        expected = (details or {}).get("expected")
        if not isinstance(expected, int) or restarts > 3:
            raise RefusedError.from_response(resp)
        if expected < start:
            held = self.store.run_from(expected, start - expected)
            if len(held) == start - expected:
                log.warning("server expects mutation %s: resending from there", expected)
                return expected
            raise MutationGapError(
                "mutation_gap",
                f"The server expects mutation {expected} next, but this tablet no longer "
                f"holds mutations {expected} to {start - 1} (its outbox resumes at {start}). "
                "Mutations are never renumbered, which could double visits: ask a "
                "supervisor or the operator to check this device.",
            )
        raise MutationGapError(
            "mutation_gap",
            f"The server expects mutation {expected} next, above this tablet's next unsent "
            f"mutation {start}; the numbering disagrees and mutations are never renumbered. "
            "Ask the operator to check this device.",
        )

    # --- pull --------------------------------------------------------------------------

    def pull(
        self,
        limit: int = 500,
        progress: Callable[[int, bool], None] | None = None,
    ) -> PullReport:
        """Page from the stored cursor until ``has_more`` is false (docs/sync-protocol.md#pull).
        ``progress`` is called after each stored page with its change count and has_more."""
        self.require_login()
        report = PullReport()
        while True:
            cursor = self.store.cursor
            query: dict[str, Any] = {"limit": limit}
            if cursor is not None:
                query["cursor"] = cursor
            resp = self._request("GET", f"{API}/sync/pull?{urlencode(query)}")
            if resp.status == 400 and resp.code == "cursor_invalid" and cursor is not None:
                if report.cursor_dropped:
                    raise RefusedError.from_response(resp)
                log.warning("cursor refused by the server: starting a full copy")
                self.store.drop_cursor()
                report.cursor_dropped = True
                continue
            if resp.status != 200 or not isinstance(resp.body, dict):
                raise RefusedError.from_response(resp)
            body = resp.body
            changes = body.get("changes") or []
            has_more = bool(body.get("has_more"))
            start_copy = cursor is None or bool(body.get("reset"))
            self.store.apply_page(
                changes,
                cursor=body.get("cursor"),
                has_more=has_more,
                start_copy=start_copy,
                last_mutation_id=body.get("last_mutation_id"),
            )
            report.pages += 1
            report.changes += len(changes)
            report.full_copy = report.full_copy or start_copy
            if progress:
                progress(len(changes), has_more)
            if not has_more:
                return report
            if body.get("cursor") in (None, cursor):
                raise SyncClientError(
                    "cursor_stuck", "The server said has_more but gave no new cursor."
                )

    # --- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The server's view of this device (``GET /sync/status``)."""
        self.require_login()
        resp = self._request("GET", f"{API}/sync/status")
        if resp.status != 200 or not isinstance(resp.body, dict):
            raise RefusedError.from_response(resp)
        return resp.body

    def local_status(self) -> dict[str, Any]:
        """What this tablet holds, without the network."""
        store = self.store
        cursor_state = "none"
        if store.copying:
            cursor_state = "full copy in progress"
        elif store.cursor is not None:
            cursor_state = "up to date as of the last pull"
        return {
            "device_id": self.device_id,
            "username": store.get("username"),
            "server": store.get("server_url"),
            "logged_in": bool(store.get("refresh_token")),
            "outbox": store.pending_count(),
            "attention": store.attention_count(),
            "next_mutation_id": store.next_mutation_id,
            "last_mutation_id": store.get("last_mutation_id"),
            "cursor": cursor_state,
            "records": store.record_count(),
            "last_push_at": store.get("last_push_at"),
        }

    def sync(self) -> tuple[PushReport, PullReport]:
        """Push, then pull (so the pull brings back what was just pushed)."""
        return self.push(), self.pull()

    def needs_attention(self) -> list[dict[str, Any]]:
        """Rejected mutations, with the server's code, message, errors and the payload."""
        return self.store.attention()
