"""Tablets under fault: the reference client (``field_sync.SyncClient`` with its SQLite
outbox) in threads, pushing through the real protocol, with a ledger of what the server
acknowledged.

Each tablet records rounds of work offline — new households, a visit to each, now and then
another visit or a correction of one of its acknowledged visits — and pushes its outbox in
small batches until it is empty, whatever the faults do: the client retries with backoff
(honouring ``Retry-After``), and the tablet starts the push again after the client gives up.
When the faults stop, each tablet drains its outbox and, once every tablet has drained,
pulls, under a deadline. Pulling only then keeps the check that a pull brings every
acknowledged visit exact on PostgreSQL: a push still running there holds back the rows
committed after it began (docs/sync-protocol.md, "On the server"), which the tablet would
get at its next pull; the harness's one pull must find no push running.

``LedgerTransport`` sits between the client and HTTP: every 200 push answer's results go to
the tablet's ledger (mutation id -> status and id, as first acknowledged; a later ack of the
same mutation must say the same). It also fails the run on any answer a fault may never
cause: a 500, or a 503 that is not ``storage_unavailable`` with ``Retry-After``.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from field_sync import (
    HttpTransport,
    LocalStore,
    LoginRequired,
    RefusedError,
    Response,
    SyncClient,
    TransportError,
)

PASSWORD = "fault-harness-password-1"
REQUEST_TIMEOUT = 30.0  # seconds per HTTP request
DRAIN_DEADLINE = 180.0  # seconds for every tablet to empty its outbox once faults stop
ACKNOWLEDGED = frozenset({"applied", "merged", "conflict", "redirected"})


class Progress:
    """Acknowledged pushes and refusals across all tablets, for the fault injector to wait
    on ("the tablets are pushing again") instead of sleeping."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.pushes_acknowledged = 0
        self.refused_503 = 0
        self.abort = threading.Event()  # the test is over: every tablet stops at once

    def add(self, *, acknowledged: int = 0, refused: int = 0) -> None:
        with self.condition:
            self.pushes_acknowledged += acknowledged
            self.refused_503 += refused
            self.condition.notify_all()

    def wait_for(self, what: str, above: int, deadline: float) -> bool:
        """Until counter ``what`` is above ``above``, or the deadline (monotonic) passes."""
        with self.condition:
            return self.condition.wait_for(
                lambda: getattr(self, what) > above, max(0.0, deadline - time.monotonic())
            )


@dataclass
class Ledger:
    acknowledged: dict[int, dict[str, Any]] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)
    replays: int = 0

    def record(self, result: dict[str, Any]) -> None:
        number = result["mutation_id"]
        seen = {"status": result["status"], "id": result.get("id")}
        if result.get("replayed"):
            self.replays += 1
        first = self.acknowledged.setdefault(number, seen)
        if first != seen:
            self.disagreements.append(f"mutation {number}: first {first}, then {seen}")


class LedgerTransport:
    """A ``field_sync.Transport`` that keeps the ledger and the request figures."""

    def __init__(self, inner: HttpTransport, ledger: Ledger, progress: Progress) -> None:
        self.inner = inner
        self.ledger = ledger
        self.progress = progress
        self.figures: Counter[str] = Counter()
        self.bad_answers: list[str] = []
        self.last_answer: Response | None = None

    def request(
        self, method: str, path: str, *, json: Any = None, token: str | None = None
    ) -> Response:
        push = path.endswith("/sync/push")
        if push:
            self.figures["batches_sent"] += 1
        try:
            answer = self.inner.request(method, path, json=json, token=token)
        except TransportError:
            self.figures["no_answer"] += 1
            raise
        self.figures[f"http_{answer.status}"] += 1
        self.last_answer = answer
        if answer.status >= 500:
            retry_after = answer.header("Retry-After") or ""
            if answer.status != 503 or answer.code != "storage_unavailable":
                self.bad_answers.append(f"{method} {path}: {answer.status} {answer.body}")
            elif not retry_after.isdigit() or int(retry_after) < 1:
                self.bad_answers.append(f"{method} {path}: 503 without Retry-After")
            self.progress.add(refused=1)
        if push and answer.status == 200 and isinstance(answer.body, dict):
            for result in answer.body.get("results") or []:
                self.ledger.record(result)
            self.figures["push_ok"] += 1
            self.progress.add(acknowledged=1)
        return answer


@dataclass
class Recorded:
    """What the tablet recorded: every mutation's type and record id, and each visit's
    version once all its corrections are applied."""

    mutations: dict[int, tuple[str, str]] = field(default_factory=dict)
    visit_versions: dict[str, int] = field(default_factory=dict)


class FaultTablet:
    def __init__(
        self, number: int, username: str, ward: str, base_url: str, folder: Path, seed: int
    ) -> None:
        self.number = number
        self.username = username
        self.ward = ward
        self.base_url = base_url
        self.path = folder / f"tablet-{number}.db"
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.recorded = Recorded()
        self.transport: LedgerTransport | None = None
        self.client: SyncClient | None = None
        self.device_id = ""
        self.households: list[str] = []
        self.errors: list[str] = []
        self.pushes_given_up = 0
        self.logins = 0
        self.pulled_visits: set[str] = set()
        self.outbox_left = -1  # unknown until the thread ends
        self.attention = -1
        self.thread: threading.Thread | None = None
        self.abort = threading.Event()

    # --- set-up, in the thread that uses the store (sqlite3 objects stay in their thread)

    def open(self, progress: Progress) -> SyncClient:
        self.transport = LedgerTransport(
            HttpTransport(self.base_url, timeout=REQUEST_TIMEOUT), self.ledger, progress
        )
        self.client = SyncClient(
            self.transport,
            LocalStore(self.path),
            sleep=lambda seconds: time.sleep(min(seconds, 2.0)),  # the client's backoff
            rng=self.rng.random,
            max_attempts=4,
            backoff_base=0.05,
            backoff_cap=1.0,
            max_retry_after=2.0,
        )
        return self.client

    def login(self, deadline: float) -> None:
        assert self.client is not None
        while True:
            try:
                result = self.client.login(self.username, PASSWORD, f"Fault tablet {self.number}")
                self.device_id = result.device_id
                self.logins += 1
                return
            except (TransportError, RefusedError) as exc:
                if isinstance(exc, RefusedError) and exc.status < 500:
                    raise
                if time.monotonic() > deadline:
                    raise
                self.pause()

    def pause(self) -> None:
        """A tablet's wait before it tries the whole push again (the client already backed
        off inside); this is the retry policy, not a wait for a state."""
        if self.abort.wait(self.rng.uniform(0.05, 0.3)):
            raise AssertionError(f"{self.username}: stopped by the test")

    # --- work ---------------------------------------------------------------------------

    def record_round(self) -> None:
        client = self.client
        assert client is not None
        # A correction based on the version the server acknowledged (nothing waiting, so
        # the base is exact): applied once, it is version + 1 — applied twice would show.
        waiting = client.store.pending_count()
        if not waiting and self.recorded.visit_versions and self.rng.random() < 0.3:
            visit_id = self.rng.choice(sorted(self.recorded.visit_versions))
            entry = client.update_visit(visit_id, {"notes": f"note {uuid.uuid4().hex[:8]}"})
            self._note(entry)
            self.recorded.visit_versions[visit_id] += 1
        for _ in range(self.rng.randint(2, 4)):
            entry = client.add_household(
                ward=self.ward, address=f"Số {len(self.households) + 1}, ngõ {self.username}"
            )
            self._note(entry)
            self.households.append(entry.id)
            self._visit(entry.id)
        if len(self.households) > 3 and self.rng.random() < 0.3:
            self._visit(self.rng.choice(self.households[:-3]))  # a second visit

    def _visit(self, household_id: str) -> None:
        assert self.client is not None
        adults = self.rng.randint(1, 5)
        smartphones = self.rng.randint(0, adults)
        before = self.rng.randint(0, smartphones)
        entry = self.client.add_visit(
            household_id=household_id,
            outcome="partial",
            counts={
                "adults": adults,
                "smartphones": smartphones,
                "installed_before": before,
                "installed_during": smartphones - before,
                "priority_subjects": 0,
                "priority_installed": 0,
            },
        )
        self._note(entry)
        self.recorded.visit_versions[entry.id] = 1

    def _note(self, entry: Any) -> None:
        self.recorded.mutations[entry.mutation_id] = (entry.type, entry.id)

    def push_until_empty(self, keep_going: threading.Event | None, deadline: float) -> None:
        """Push until the outbox is empty; give up early only when ``keep_going`` is
        cleared (more work to record) — never on a fault."""
        client = self.client
        assert client is not None
        while client.store.pending_count():
            if time.monotonic() > deadline or self.abort.is_set():
                raise AssertionError(f"{self.username}: outbox not empty when stopped")
            try:
                client.push(batch_size=self.rng.randint(3, 12))
            except LoginRequired:
                self.login(deadline)  # a session cut short by a lost refresh answer
            except (TransportError, RefusedError) as exc:
                if isinstance(exc, RefusedError) and exc.status not in (429, 503):
                    raise
                self.pushes_given_up += 1
                self.pause()
            if keep_going is not None and not keep_going.is_set():
                return

    def pull_all(self, deadline: float) -> None:
        client = self.client
        assert client is not None
        while True:
            try:
                client.pull()
                break
            except (TransportError, RefusedError) as exc:
                if isinstance(exc, RefusedError) and exc.status not in (429, 503):
                    raise
                if time.monotonic() > deadline:
                    raise
                self.pause()
        rows = client.store.db.execute("SELECT id FROM records WHERE entity = 'visit'")
        self.pulled_visits = {row[0] for row in rows}

    def settle(self) -> None:
        """What the verdict reads from the store, kept before the store is closed."""
        assert self.client is not None
        self.outbox_left = self.client.store.pending_count()
        self.attention = self.client.store.attention_count()
        self.client.store.close()

    def run(
        self,
        progress: Progress,
        faults_on: threading.Event,
        run_deadline: float,
        drained: threading.Barrier,
    ) -> None:
        """Rounds of work while ``faults_on`` is set, then drain, wait for every tablet of
        ``drained`` to have drained too, and pull."""
        self.abort = progress.abort
        try:
            self.open(progress)
            self.login(run_deadline)
            while faults_on.is_set():
                if time.monotonic() > run_deadline:
                    raise AssertionError(f"{self.username}: the run passed its deadline")
                self.record_round()
                self.push_until_empty(faults_on, run_deadline)
            drain = time.monotonic() + DRAIN_DEADLINE
            self.push_until_empty(None, drain)
            drained.wait(max(drain - time.monotonic(), 0))
            self.pull_all(drain)
        except Exception as exc:  # reported by the test, with the tablet's name
            self.errors.append(f"{self.username}: {exc!r}")
            drained.abort()  # the others stop waiting for this one (and fail the run)
        finally:
            if self.client is not None:
                self.settle()

    def start(self, *run_args: Any) -> None:
        """``run(*run_args)`` in the tablet's own thread."""
        self.thread = threading.Thread(
            target=self.run, args=run_args, name=self.username, daemon=True
        )
        self.thread.start()

    @property
    def last_mutation_id(self) -> int:
        return max(self.recorded.mutations, default=0)
