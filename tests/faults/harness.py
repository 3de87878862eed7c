"""One fault run: a fresh database with a ward and its canvassers, the server, the proxy in
front of it, the tablets pushing through the proxy — and, when the faults are over, the
verdict read straight from the database, and the run's figures.

The verdict (``Campaign.verify``), after every tablet has drained its outbox:
- every mutation each tablet recorded was acknowledged (none rejected, none left waiting),
  and the server's own ledger (``device_mutations``) holds the same answer for each;
- each device's ``last_mutation_id`` on the server is the tablet's last mutation;
- every acknowledged visit and household is in the database exactly once, no row is there
  that nobody was told about, and each visit's version is one plus its acknowledged
  corrections (a correction applied twice would show);
- each tablet's pull brought back every visit it pushed;
- SQLite's ``PRAGMA integrity_check`` says ok, and ``field-server stats verify`` exits 0
  (the figures equal a full recount).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from field_sync import RefusedError
from tests.conftest import (
    TEST_JWT_KEY,
    TEST_SECRET,
    base_config,
    create_postgres_database,
    drop_postgres_database,
)
from tests.e2e.processes import field_env, run_cli
from tests.faults.proxy import FaultProxy
from tests.faults.server import POLL, ServerProcess
from tests.faults.tablets import DRAIN_DEADLINE, PASSWORD, FaultTablet, Progress

SOAK = os.environ.get("FIELD_SOAK") == "1"
WARDS = ("12019", "12022")
UNITS = "\n".join(
    [
        "scheme,code,name,level,parent_code,adult_population,target_rate",
        "gso-2020,33,Tỉnh Hưng Yên,province,,,",
        "gso-2020,326,Huyện Văn Giang,district,33,,",
        *(f"gso-2020,{code},Xã {code},ward,326,9000,0.6" for code in WARDS),
        "",
    ]
)
TABLETS = 4
WORKERS = 2
RUN_DEADLINE = 3600.0 if SOAK else 600.0  # seconds for the fault phase of one run
PROGRESS_DEADLINE = 60.0  # seconds for the tablets to get a push through after a fault


def soak_count(short: int, soak: int, variable: str | None = None) -> int:
    """``short`` in ``make test``; under FIELD_SOAK=1, ``soak`` (or the variable's value)."""
    if not SOAK:
        return short
    return int(os.environ.get(variable, "") or soak) if variable else soak


def run_seed() -> int:
    """FIELD_FAULT_SEED repeats a run's choices (thread timing still varies)."""
    given = os.environ.get("FIELD_FAULT_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**32)


@dataclass
class Database:
    backend: str
    url: str
    sqlite_path: Path | None = None
    postgres_name: str | None = None

    @classmethod
    def create(cls, backend: str, folder: Path) -> Database:
        if backend == "sqlite":
            path = folder / "field.db"
            return cls(backend, f"sqlite:///{path}", sqlite_path=path)
        name, url = create_postgres_database("field_faults")
        return cls(backend, url, postgres_name=name)

    def drop(self) -> None:
        if self.postgres_name is not None:
            drop_postgres_database(self.postgres_name)


@dataclass
class RunFigures:
    """What a run went through and what it proved; printed, and written as one JSON line
    to FIELD_SOAK_REPORT when that is set."""

    run: str
    backend: str
    seed: int
    tablets: int = TABLETS
    workers: int = WORKERS
    kills_group: int = 0
    kills_worker: int = 0
    server_starts: int = 0
    proxy_faults: dict[str, int] = field(default_factory=dict)
    storage_episodes: dict[str, int] = field(default_factory=dict)
    connections_cut: int = 0
    batches_sent: int = 0
    batches_retried: int = 0
    pushes_given_up: int = 0
    answers_503: int = 0
    mutations_acknowledged: int = 0
    replays_acknowledged: int = 0
    visits_acknowledged: int = 0
    lost: int = 0
    doubled: int = 0
    fault_phase_s: float = 0.0
    drain_s: float = 0.0
    total_s: float = 0.0

    @property
    def kills(self) -> int:
        return self.kills_group + self.kills_worker

    def report(self) -> None:
        lines = [f"fault run {self.run} on {self.backend}: seed {self.seed}"]
        for name, value in asdict(self).items():
            if name not in ("run", "backend", "seed"):
                lines.append(f"  {name}: {value}")
        print("\n".join(lines))
        target = os.environ.get("FIELD_SOAK_REPORT")
        if target:
            # `make soak` names a file under instance/, which a fresh clone does not have.
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps({**asdict(self), "at": datetime.now(UTC).isoformat()}) + "\n")


class Campaign:
    def __init__(self, name: str, database: Database, folder: Path) -> None:
        self.database = database
        self.folder = folder
        self.seed = run_seed()
        print(f"fault run {name} on {database.backend}: seed {self.seed}")
        self.rng = random.Random(self.seed)
        self.figures = RunFigures(name, database.backend, self.seed)
        self.env = field_env(
            folder / "instance",
            FIELD_DATABASE_URL=database.url,
            FIELD_SECRET_KEY=TEST_SECRET,
            FIELD_JWT_KEY=TEST_JWT_KEY,
            FIELD_RETRY_AFTER_SECONDS="1",
            FIELD_WORKER_TIMEOUT="30",
        )
        self.server = ServerProcess(self.env, folder, WORKERS)
        self.proxy: FaultProxy | None = None
        self.progress = Progress()
        self.faults_on = threading.Event()
        self.tablets: list[FaultTablet] = []
        self.started = 0.0
        self.faults_over = 0.0
        self.marked = 0
        self._prepare()

    # --- set-up ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Schema, the two wards and the canvassers, in-process (quicker than the CLI)."""
        from flask_migrate import upgrade

        from field_server import create_app
        from field_server.auth.passwords import hash_password
        from field_server.extensions import db
        from field_server.store.people import create_user
        from field_server.store.units import units_by_refs

        units_csv = self.folder / "units.csv"
        units_csv.write_text(UNITS)
        app = create_app(base_config(self.folder / "setup", self.database.url))
        with app.app_context():
            upgrade()
            imported = app.test_cli_runner().invoke(args=["units", "import", str(units_csv)])
            assert imported.exit_code == 0, imported.output
            wards = units_by_refs([f"gso-2020:{code}" for code in WARDS])
            password_hash = hash_password(PASSWORD)
            for n in range(TABLETS + 1):  # the last one is the probe (storage faults)
                create_user(
                    username=f"cv.fault.{n}",
                    role="canvasser",
                    password_hash=password_hash,
                    full_name=None,
                    units=[wards[self.ward_of(n)]],
                    now=datetime.now(UTC),
                )
            db.session.commit()
            db.session.remove()
            db.engine.dispose()

    @staticmethod
    def ward_of(n: int) -> str:
        return f"gso-2020:{WARDS[n % len(WARDS)]}"

    def tablet(self, n: int) -> FaultTablet:
        assert self.proxy is not None
        return FaultTablet(
            n, f"cv.fault.{n}", self.ward_of(n), self.proxy.url, self.folder,
            seed=self.rng.randrange(2**32),
        )  # fmt: skip

    # --- the run ------------------------------------------------------------------------

    def start(self, tablets: int = TABLETS) -> None:
        """Server, proxy, and the tablets pushing."""
        self.server.start()
        self.proxy = FaultProxy(self.server.port, self.rng.randrange(2**32))
        self.started = time.monotonic()
        self.faults_on.set()
        deadline = self.started + RUN_DEADLINE
        drained = threading.Barrier(tablets)  # the tablets pull once all have drained
        for n in range(tablets):
            tablet = self.tablet(n)
            self.tablets.append(tablet)
            tablet.start(self.progress, self.faults_on, deadline, drained)
        self.wait_pushing()

    def deadline(self) -> float:
        return time.monotonic() + PROGRESS_DEADLINE

    def wait_pushing(self, pushes: int = 2) -> None:
        """Until ``pushes`` more pushes were acknowledged since the last mark: the server
        serves and the tablets got through. A run that cannot is a stuck run."""
        deadline = time.monotonic() + PROGRESS_DEADLINE
        if not self.progress.wait_for("pushes_acknowledged", self.marked + pushes - 1, deadline):
            raise AssertionError(
                f"no push got through for {PROGRESS_DEADLINE}s (seed {self.seed}); "
                f"tablet errors: {[t.errors for t in self.tablets]}\n{self.server.log()}"
            )
        self.mark()

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds; a run where it never does is a stuck run."""
        deadline = time.monotonic() + PROGRESS_DEADLINE
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not {what} after {PROGRESS_DEADLINE}s (seed {self.seed}); tablet "
                    f"errors: {[t.errors for t in self.tablets]}\n{self.server.log()}"
                )
            time.sleep(POLL)

    def mark(self) -> None:
        self.marked = self.progress.pushes_acknowledged

    def random_moment(self, longest: float = 0.5) -> None:
        """Let the tablets run for a random while before the next fault: the fault's
        timing, chosen by the seeded generator (not a wait for a state)."""
        time.sleep(self.rng.uniform(0, longest))

    def kill_server(self) -> None:
        """kill -9 of the whole process group, then a new server (the proxy is told)."""
        assert self.proxy is not None
        self.server.kill_group()
        self.figures.kills_group += 1
        self.server.start()
        self.proxy.set_upstream(self.server.port)
        self.mark()

    def kill_worker(self) -> None:
        self.server.kill_worker(self.rng.randrange(WORKERS))
        self.figures.kills_worker += 1
        self.mark()

    # --- storage faults ---------------------------------------------------------------

    def open_probe(self) -> FaultTablet:
        """One more tablet, driven from the test's thread: it pushes a batch once, without
        retrying, to see the answer a fault gives."""
        probe = self.tablet(TABLETS)
        probe.open(self.progress)
        probe.login(time.monotonic() + PROGRESS_DEADLINE)
        return probe

    def storage_episode(
        self, name: str, probe: FaultTablet, fault: Callable[[], None], heal: Callable[[], None]
    ) -> None:
        """While ``fault`` lasts, every write answers 503 ``storage_unavailable`` with
        Retry-After, nothing is committed and nothing is acknowledged that is not in the
        database; after ``heal`` the tablets (and the probe) get through again."""
        assert probe.client is not None and probe.transport is not None
        fault()
        try:
            pushed = probe.last_mutation_id
            probe.record_round()
            probe.client.max_attempts = 1
            with pytest.raises(RefusedError) as refused:
                probe.client.push()
            answer = probe.transport.last_answer
            assert answer is not None and refused.value.status == 503, answer
            assert answer.code == "storage_unavailable", answer.body
            assert int(answer.header("Retry-After") or 0) >= 1
            # No commit can have slipped past the probe's refusal: from here the database
            # stands still while the tablets keep trying.
            before = self._counts()
            self.progress.wait_for(
                "refused_503", self.progress.refused_503 + 10, time.monotonic() + PROGRESS_DEADLINE
            )
            acknowledged = [
                (t.device_id, number)
                for t in [*self.tablets, probe]
                for number in list(t.ledger.acknowledged)
            ]
            after = self._counts()
            assert after == before, f"{name}: the database changed under the fault"
            kept = self._read_database()["ledger"]
            unkept = [key for key in acknowledged if key not in kept]
            assert not unkept, f"{name}: acknowledged without a commit: {unkept[:10]}"
            refused_batch = [(probe.device_id, n) for n in probe.recorded.mutations if n > pushed]
            assert not [key for key in refused_batch if key in kept], f"{name}: probe kept"
        finally:
            heal()
        self.figures.storage_episodes[name] = self.figures.storage_episodes.get(name, 0) + 1
        self.mark()
        self.wait_pushing()
        probe.client.max_attempts = 4
        probe.push_until_empty(None, time.monotonic() + PROGRESS_DEADLINE)

    def _counts(self) -> tuple[int, ...]:
        engine = create_engine(self.database.url)
        try:
            with engine.connect() as conn:
                return tuple(
                    conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM visits), (SELECT count(*) FROM "
                            "households), (SELECT count(*) FROM device_mutations), "
                            "(SELECT coalesce(sum(last_mutation_id), 0) FROM devices)"
                        )
                    ).one()
                )
        finally:
            engine.dispose()

    def finish(self) -> None:
        """Stop the faults' phase: the tablets drain their outboxes and pull."""
        self.faults_over = time.monotonic()
        self.faults_on.clear()
        for tablet in self.tablets:
            assert tablet.thread is not None
            tablet.thread.join(DRAIN_DEADLINE + 60)
        stuck = [t.username for t in self.tablets if t.thread and t.thread.is_alive()]
        assert not stuck, f"tablets still running (seed {self.seed}): {stuck}"

    # --- the verdict --------------------------------------------------------------------

    def verify(self, extra: list[FaultTablet] | None = None) -> RunFigures:
        tablets = self.tablets + (extra or [])
        figures = self.figures
        rows = self._read_database()
        problems: list[str] = []
        acked_visits: dict[str, int] = {}
        acked_households: set[str] = set()
        for t in tablets:
            transport = t.transport
            problems += t.errors + t.ledger.disagreements
            if transport is not None:
                problems += [f"{t.username}: {bad}" for bad in transport.bad_answers]
                sent, ok = transport.figures["batches_sent"], transport.figures["push_ok"]
                figures.batches_sent += sent
                figures.batches_retried += sent - ok
                figures.answers_503 += transport.figures["http_503"]
            figures.pushes_given_up += t.pushes_given_up
            figures.replays_acknowledged += t.ledger.replays
            if t.outbox_left or t.attention:
                problems.append(f"{t.username}: {t.outbox_left} waiting, {t.attention} rejected")
            numbers = set(t.recorded.mutations)
            if set(t.ledger.acknowledged) != numbers:
                unacked = sorted(numbers - set(t.ledger.acknowledged))[:10]
                problems.append(f"{t.username}: never acknowledged {unacked}")
            if rows["devices"].get(t.device_id) != t.last_mutation_id:
                problems.append(
                    f"{t.username}: server's last_mutation_id "
                    f"{rows['devices'].get(t.device_id)}, tablet's {t.last_mutation_id}"
                )
            for number, (kind, record_id) in sorted(t.recorded.mutations.items()):
                ack = t.ledger.acknowledged.get(number)
                if ack is None:
                    continue
                figures.mutations_acknowledged += 1
                if ack["status"] not in ("applied", "merged", "conflict", "redirected"):
                    problems.append(f"{t.username}: mutation {number} {ack}")
                    continue
                stored = rows["ledger"].get((t.device_id, number))
                if stored is None or (stored["status"], stored.get("id")) != (
                    ack["status"],
                    ack["id"],
                ):
                    problems.append(f"{t.username}: mutation {number} acked {ack}, kept {stored}")
                if kind == "visit.create":
                    acked_visits[record_id] = t.recorded.visit_versions[record_id]
                elif kind == "household.upsert":
                    acked_households.add(record_id)
            own = {rid for kind, rid in t.recorded.mutations.values() if kind == "visit.create"}
            if own - t.pulled_visits:
                problems.append(f"{t.username}: pulls never brought {len(own - t.pulled_visits)}")
        visits = rows["visits"]
        lost = [v for v, version in acked_visits.items() if visits.get(v, 0) < version]
        doubled = [v for v in visits if v not in acked_visits or visits[v] > acked_visits[v]]
        lost += sorted(acked_households - rows["households"])
        doubled += sorted(rows["households"] - acked_households)
        figures.visits_acknowledged = len(acked_visits)
        figures.lost, figures.doubled = len(lost), len(doubled)
        if lost or doubled:
            problems.append(f"lost {lost[:10]}, doubled {doubled[:10]}")
        if self.database.sqlite_path is not None:
            check = sqlite3.connect(self.database.sqlite_path)
            verdict = check.execute("PRAGMA integrity_check").fetchall()
            check.close()
            if verdict != [("ok",)]:
                problems.append(f"integrity_check: {verdict[:5]}")
        recount = run_cli(self.env, "stats", "verify")  # exit 0, else run_cli fails
        assert "equal a full recount" in recount.stdout, recount.stdout
        figures.server_starts = self.server.starts
        if self.proxy is not None:
            figures.proxy_faults = dict(self.proxy.counts)
        end = time.monotonic()
        figures.fault_phase_s = round(self.faults_over - self.started, 1)
        figures.drain_s = round(end - self.faults_over, 1)
        figures.total_s = round(end - self.started, 1)
        figures.report()
        assert not problems, f"seed {self.seed}:\n" + "\n".join(problems[:40])
        assert figures.visits_acknowledged > 0
        return figures

    def _read_database(self) -> dict[str, Any]:
        engine = create_engine(self.database.url)
        try:
            with engine.connect() as conn:
                visits = {
                    row[0]: row[1] for row in conn.execute(text("SELECT id, version FROM visits"))
                }
                households = set(conn.execute(text("SELECT id FROM households")).scalars())
                devices = {
                    row[0]: row[1]
                    for row in conn.execute(text("SELECT device_id, last_mutation_id FROM devices"))
                }
                ledger = {
                    (device, number): json.loads(result)
                    for device, number, result in conn.execute(
                        text("SELECT device_id, mutation_id, result FROM device_mutations")
                    )
                }
        finally:
            engine.dispose()
        return {"visits": visits, "households": households, "devices": devices, "ledger": ledger}

    def close(self) -> None:
        """Whatever happened: tablets told to stop, proxy and server down."""
        self.progress.abort.set()
        self.faults_on.clear()
        if self.proxy is not None:
            self.proxy.close()
        self.server.close()
        for tablet in self.tablets:
            if tablet.thread is not None:
                tablet.thread.join(5)
