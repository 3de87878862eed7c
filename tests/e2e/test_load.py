"""The DESIGN.md bar "50 tablets syncing at once against several server processes on SQLite
and on PostgreSQL: no request fails, no 'database is locked' ever reaches a client".

One `field-server serve --workers 4` on a fresh database; 50 tablets (10 per ward, each its
own device) push 6 batches of 40 mutations at once, pulling after every push, while a
supervisor bulk-reviews what arrives. In each ward a few households are visited by every
tablet, so pushes and reviews update the same household and figure counter rows at the
same moment. Every request must answer 2xx (a 503 storage_unavailable is a failure here).
Afterwards every acknowledged visit is stored exactly once, every device's ledger stands
at its last mutation, pulls saw every visit their tablet pushed, the figures equal a full
recount (`stats verify`: lost counter updates would show there) and /stats agrees.
"""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import (
    TEST_JWT_KEY,
    TEST_SECRET,
    base_config,
    create_postgres_database,
    drop_postgres_database,
)
from tests.e2e.processes import field_env, run_cli

pytestmark = pytest.mark.e2e

WARDS = ("12019", "12022", "12025", "12028", "12031")
UNITS = "\n".join(
    [
        "scheme,code,name,level,parent_code,adult_population,target_rate",
        "gso-2020,33,Tỉnh Hưng Yên,province,,,",
        "gso-2020,326,Huyện Văn Giang,district,33,,",
        *(f"gso-2020,{code},Xã {code},ward,326,9000,0.6" for code in WARDS),
        "",
    ]
)
TABLETS_PER_WARD = 10
BATCHES = 6
BATCH = 40
SHARED_PER_WARD = 5  # households every tablet of the ward visits
SHARED_VISITS_PER_BATCH = 10
PASSWORD = "load-test-password-1"
REQUEST_TIMEOUT = 60  # seconds; a request queued behind 50 others on 4 workers still answers
JOIN_TIMEOUT = 150  # seconds for the whole run of all threads
MAX_PULL_PAGES = 50
MAX_REVIEW_ROUNDS = 500
START_MS = 1_597_458_600_000  # 2020-08-15 09:30 +07:00
STEP_MS = 5 * 60_000  # 5 minutes between a tablet's mutations: no `too_fast` flags


class Failures:
    """Every non-2xx answer or transport error, from any thread, with its body."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()

    def add(self, entry: str) -> None:
        with self.lock:
            self.items.append(entry)


def call(
    base: str,
    failures: Failures,
    who: str,
    method: str,
    path: str,
    body: dict | None = None,
    token: str = "",
) -> dict | None:
    """One request; None (and a recorded failure) unless it answered 2xx with JSON."""
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        base + path, data=json.dumps(body).encode() if body is not None else None, method=method
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Connection", "close")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        retry = error.headers.get("Retry-After")
        detail = error.read().decode(errors="replace")
        failures.add(f"{who}: {method} {path} -> {error.code} Retry-After={retry} {detail}")
    except (OSError, ValueError) as exc:  # timeouts, resets, a body that is not JSON
        failures.add(f"{who}: {method} {path} -> {exc!r}")
    return None


def counts(rng: random.Random) -> dict[str, int]:
    adults = rng.randint(1, 6)
    smartphones = rng.randint(0, adults)
    before = rng.randint(0, smartphones)
    subjects = rng.randint(0, adults)
    return {
        "adults": adults,
        "smartphones": smartphones,
        "installed_before": before,
        "installed_during": rng.randint(0, smartphones - before),
        "priority_subjects": subjects,
        "priority_installed": rng.randint(0, subjects),
    }


@dataclass
class Tablet:
    username: str
    ward: str
    shared: list[str]  # the ward's shared households
    leader: bool  # creates the shared households in its first batch
    seed: int
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_id: int = 1
    ms: int = START_MS
    visits: list[str] = field(default_factory=list)  # acknowledged by the server
    households: list[str] = field(default_factory=list)
    pulled_visits: set[str] = field(default_factory=set)

    def mutation(self, kind: str, record_id: str, data: dict, **extra: Any) -> dict:
        self.ms += STEP_MS
        m = {
            "mutation_id": self.next_id,
            "type": kind,
            "id": record_id,
            "hlc": f"{self.ms}-0000-{self.device_id}",
            "data": data,
            **extra,
        }
        self.next_id += 1
        return m

    def household(self, household_id: str) -> dict:
        data = {"ward": self.ward, "address": f"Số {self.next_id}, ngõ {self.username}"}
        return self.mutation("household.upsert", household_id, data, base_version=0)

    def visit(self, household_id: str, rng: random.Random) -> dict:
        visited_at = datetime.fromtimestamp((self.ms + STEP_MS) / 1000, UTC).isoformat()
        data = {
            "household_id": household_id,
            "visited_at": visited_at,
            "outcome": "partial",
            **counts(rng),
        }
        return self.mutation("visit.create", str(uuid.uuid4()), data)

    def batches(self) -> list[list[dict]]:
        rng = random.Random(self.seed)
        out = []
        for number in range(BATCHES):
            batch: list[dict] = []
            new = [str(uuid.uuid4()) for _ in range(BATCH // 2)]
            if number == 0 and self.leader:
                new[:SHARED_PER_WARD] = self.shared
            if number > 0:
                new = new[: (BATCH - SHARED_VISITS_PER_BATCH) // 2]
            for household_id in new:
                batch += [self.household(household_id), self.visit(household_id, rng)]
            if number > 0:
                batch += [
                    self.visit(rng.choice(self.shared), rng) for _ in range(SHARED_VISITS_PER_BATCH)
                ]
            assert len(batch) == BATCH
            out.append(batch)
        return out


def pull_to_end(base: str, failures: Failures, tablet: Tablet, token: str, cursor: str) -> str:
    for _ in range(MAX_PULL_PAGES):
        page = call(
            base,
            failures,
            tablet.username,
            "GET",
            f"/api/v1/sync/pull?limit=500&cursor={cursor}",
            token=token,
        )
        if page is None:
            return cursor
        tablet.pulled_visits.update(c["id"] for c in page["changes"] if c["entity"] == "visit")
        cursor = page["cursor"]
        if not page["has_more"]:
            return cursor
    failures.add(f"{tablet.username}: pull still has_more after {MAX_PULL_PAGES} pages")
    return cursor


def tablet_run(
    base: str,
    tablet: Tablet,
    start: threading.Barrier,
    shared_ready: threading.Event,
    failures: Failures,
) -> None:
    batches = tablet.batches()
    login = call(
        base,
        failures,
        tablet.username,
        "POST",
        "/api/v1/auth/login",
        {
            "username": tablet.username,
            "password": PASSWORD,
            "device_id": tablet.device_id,
            "device_secret": f"load-secret-of-{tablet.device_id}",
        },
    )
    try:
        start.wait(timeout=60)  # logged in: now all push at once
    except threading.BrokenBarrierError:
        failures.add(f"{tablet.username}: the others never got ready")
        return
    if login is None:
        return
    token, cursor = login["access_token"], ""
    for number, batch in enumerate(batches):
        # The shared households must exist before another tablet visits them (else
        # household_unknown): wait for the leader's first acknowledged batch.
        if number == 1 and not shared_ready.wait(timeout=60):
            failures.add(f"{tablet.username}: the ward's shared households never arrived")
            return
        answer = call(
            base,
            failures,
            tablet.username,
            "POST",
            "/api/v1/sync/push",
            {"device_id": tablet.device_id, "mutations": batch},
            token,
        )
        if answer is None:
            return
        bad = [r for r in answer["results"] if r["status"] not in ("applied", "merged")]
        if bad or len(answer["results"]) != len(batch):
            failures.add(f"{tablet.username}: batch {number} results {bad or answer}")
            return
        tablet.visits += [m["id"] for m in batch if m["type"] == "visit.create"]
        tablet.households += [m["id"] for m in batch if m["type"] == "household.upsert"]
        if number == 0 and tablet.leader:
            shared_ready.set()
        cursor = pull_to_end(base, failures, tablet, token, cursor)


@dataclass
class Reviews:
    approved: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    calls: int = 0


def supervisor_run(
    base: str,
    token: str,
    start: threading.Barrier,
    tablets_done: threading.Event,
    failures: Failures,
    reviews: Reviews,
) -> None:
    """Review what arrives while the tablets push: approve, and every fourth bulk reject
    (a rejected visit stops counting, so the review changes the same counter rows)."""
    try:
        start.wait(timeout=60)
    except threading.BrokenBarrierError:
        failures.add("supervisor: the tablets never got ready")
        return
    for _ in range(MAX_REVIEW_ROUNDS):
        if tablets_done.is_set():
            return
        for code in WARDS:
            page = call(
                base,
                failures,
                "supervisor",
                "GET",
                f"/api/v1/visits?ward=gso-2020:{code}&review_status=pending&limit=500",
                token=token,
            )
            if page is None:
                return
            ids = [item["id"] for item in page["items"]]
            if not ids:
                continue
            action = "reject" if reviews.calls % 4 == 3 else "approve"
            reviews.calls += 1
            done = call(
                base,
                failures,
                "supervisor",
                "POST",
                "/api/v1/visits/review",
                {"ids": ids, "action": action, "comment": "load test"},
                token,
            )
            if done is None:
                return
            (reviews.rejected if action == "reject" else reviews.approved).update(ids)
        tablets_done.wait(0.2)  # a supervisor's pace between rounds, not a wait for state


def create_users(instance: Path, url: str) -> None:
    """The 50 canvassers, a supervisor of the five wards and an admin, in-process (52 CLI
    runs would take longer than the load itself)."""
    from field_server import create_app
    from field_server.auth.passwords import hash_password
    from field_server.extensions import db
    from field_server.store.people import create_user
    from field_server.store.units import units_by_refs

    app = create_app(base_config(instance, url))
    with app.app_context():
        now = datetime.now(UTC)
        password_hash = hash_password(PASSWORD)
        wards = units_by_refs([f"gso-2020:{code}" for code in WARDS])
        people = [("admin", "admin", []), ("sv.load", "supervisor", list(wards.values()))]
        for code in WARDS:
            people += [
                (f"cv.{code}.{n}", "canvasser", [wards[f"gso-2020:{code}"]])
                for n in range(TABLETS_PER_WARD)
            ]
        for username, role, units in people:
            create_user(
                username=username,
                role=role,
                password_hash=password_hash,
                full_name=username,
                units=units,
                now=now,
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_fifty_tablets_sync_at_once_without_a_failed_request(request, tmp_path, servers, database):
    chosen = request.config.getoption("backend") or ["sqlite", "postgresql"]
    if database not in chosen:
        pytest.skip(f"--backend excludes {database}")
    pg_name = None
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'load.db'}"
    else:
        pg_name, url = create_postgres_database("field_load")
    try:
        env = field_env(
            tmp_path / "instance",
            FIELD_DATABASE_URL=url,
            FIELD_SECRET_KEY=TEST_SECRET,
            FIELD_JWT_KEY=TEST_JWT_KEY,
        )
        run_cli(env, "db", "upgrade")
        (tmp_path / "units.csv").write_text(UNITS)
        run_cli(env, "units", "import", str(tmp_path / "units.csv"))
        create_users(tmp_path / "setup", url)
        server = servers(env, "--workers", "4")
        base = server.url
        run_load_and_check(base, env, url, server.output)
    finally:
        servers.stop_all()  # before the drop: no server may hold a connection
        if pg_name is not None:
            drop_postgres_database(pg_name)


def run_load_and_check(base: str, env: dict[str, str], url: str, server_log: Any) -> None:
    failures = Failures()
    tablets: list[Tablet] = []
    ready: list[threading.Event] = []
    for w, code in enumerate(WARDS):
        shared = [str(uuid.uuid4()) for _ in range(SHARED_PER_WARD)]
        ready.append(threading.Event())
        tablets += [
            Tablet(
                username=f"cv.{code}.{n}",
                ward=f"gso-2020:{code}",
                shared=shared,
                leader=n == 0,
                seed=w * 100 + n,
            )
            for n in range(TABLETS_PER_WARD)
        ]
    supervisor = call(
        base,
        failures,
        "supervisor",
        "POST",
        "/api/v1/auth/login",
        {"username": "sv.load", "password": PASSWORD},
    )
    assert supervisor is not None, failures.items
    start = threading.Barrier(len(tablets) + 1)
    tablets_done = threading.Event()
    reviews = Reviews()
    threads = [
        threading.Thread(
            target=tablet_run,
            args=(base, t, start, ready[WARDS.index(t.ward.split(":")[1])], failures),
            daemon=True,
        )
        for t in tablets
    ]
    reviewer = threading.Thread(
        target=supervisor_run,
        args=(base, supervisor["access_token"], start, tablets_done, failures, reviews),
        daemon=True,
    )
    for thread in [*threads, reviewer]:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    tablets_done.set()
    reviewer.join(REQUEST_TIMEOUT * 2)
    stuck = [t.name for t in [*threads, reviewer] if t.is_alive()]
    assert not stuck, f"threads still running: {stuck}\n{server_log()[-5000:]}"
    assert failures.items == [], "\n".join(failures.items[:30]) + "\n" + server_log()[-5000:]
    assert reviews.approved and reviews.rejected  # the reviews really ran during the pushes

    acknowledged = sorted(v for t in tablets for v in t.visits)
    assert (
        len(acknowledged)
        == len(set(acknowledged))
        == len(tablets)
        * (
            BATCH // 2
            + (BATCHES - 1) * ((BATCH - SHARED_VISITS_PER_BATCH) // 2 + SHARED_VISITS_PER_BATCH)
        )
    )
    for tablet in tablets:
        missing = set(tablet.visits) - tablet.pulled_visits
        assert not missing, f"{tablet.username} never pulled {len(missing)} of its visits"

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = sorted(conn.execute(text("SELECT id FROM visits")).scalars())
            ledgers = {
                row[0]: row[1]
                for row in conn.execute(text("SELECT device_id, last_mutation_id FROM devices"))
            }
            households = conn.execute(text("SELECT count(*) FROM households")).scalar_one()
    finally:
        engine.dispose()
    assert stored == acknowledged  # none lost, none doubled
    assert ledgers == {t.device_id: BATCHES * BATCH for t in tablets}
    assert households == sum(len(t.households) for t in tablets)

    verified = run_cli(env, "stats", "verify")  # exit 0: the counters equal a recount
    assert "equal a full recount" in verified.stdout

    failures_after: Failures = Failures()
    admin = call(
        base,
        failures_after,
        "admin",
        "POST",
        "/api/v1/auth/login",
        {"username": "admin", "password": PASSWORD},
    )
    assert admin is not None, failures_after.items
    figures = call(
        base,
        failures_after,
        "admin",
        "GET",
        "/api/v1/stats?unit=gso-2020:326",
        token=admin["access_token"],
    )
    assert figures is not None, failures_after.items
    totals = figures["totals"]
    assert totals["visits"] == len(acknowledged) - len(reviews.rejected)
    assert totals["households"] == households
    assert totals["review"]["rejected"] == len(reviews.rejected)
    assert totals["review"]["approved"] == len(reviews.approved)
    assert sum(totals["review"].values()) == len(acknowledged)
    assert sum(child["totals"]["visits"] for child in figures["children"]) == totals["visits"]
