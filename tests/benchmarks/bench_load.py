"""50 tablets syncing at once against `serve --workers 1` and `--workers 4` (`make bench`).

Issue 13, acceptance 2: on PostgreSQL, with `field-server serve --workers 4`, 50 tablets
pushing and pulling at once in batches of 100 across many wards: no failed request,
p50/p95/p99 latency and throughput reported, and push throughput at least 1.5x that of one
worker in the same run (DESIGN.md: "on PostgreSQL writers in different wards never wait for
each other").

The server side. For each configuration, one worker and then four, with the same sizes: a
fresh database (PostgreSQL: a new database on the server that ``FIELD_TEST_POSTGRES_URL``
names, as the tests do, dropped after; ``--backend sqlite``: a file), `field-server db
upgrade`, a province of 5 districts x 5 wards from `units import`, and 50 canvassers (two
per ward) created in-process, each with a tablet of its own (device id and secret, given at
login). Then `field-server serve --workers N` on 127.0.0.1.

The load generator. A 2-core machine also runs the server and the database, so the clients
must cost little and must not queue on one interpreter's lock: the 50 tablets are shared out
among ``--clients`` processes (multiprocessing, forked), one thread per tablet inside each
(a tablet's thread spends its time waiting on its socket). Every push body is encoded before
the start, and answers are parsed with orjson. Each process logs its tablets in; then every
process waits at one barrier, and from there each tablet does ``--batches`` rounds of: push
one batch of 100 mutations (50 new households of its ward, a visit to each), then pull its
scope with ``limit=100`` until ``has_more`` is false. Each request is timed from the connection
to the last byte of the answer. The client processes' CPU time is reported beside the wall
time, so a saturated generator would show.

A request fails if it answers anything but 2xx, times out or breaks, or if a push result is
not ``applied``; a tablet stops at its first failure. Throughput is what was acknowledged
(mutations pushed, changes pulled) over the load's wall time, from the barrier to the last
answer, pushes and pulls interleaved as tablets do them. Afterwards the visits stored are
counted against those acknowledged.

Bounded: a fixed number of rounds per tablet, no new request after ``--budget`` seconds, a
timeout per request, client processes terminated if they outlive budget and timeout; every
request goes to 127.0.0.1. Results go to docs/benchmarks.md (the bench:load section).

    python -m tests.benchmarks.bench_load [--batches 4] [--clients 5] [--budget 180]
        [--backend postgresql|sqlite ...] [--write]
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
import queue
import random
import resource
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from tests.benchmarks.bench_sync import mutation, visit_data
from tests.benchmarks.doc import machine, write_section
from tests.conftest import base_config, create_postgres_database, drop_postgres_database
from tests.e2e.processes import ServerPool, field_env, run_cli

DISTRICTS = 5
WARDS_PER_DISTRICT = 5
TABLETS_PER_WARD = 2
TABLETS = DISTRICTS * WARDS_PER_DISTRICT * TABLETS_PER_WARD
BATCH = 100  # mutations per push: half households, half visits
PULL_LIMIT = 100
WORKER_COUNTS = (1, 4)
RATIO_BAR = 1.5  # push throughput, four workers over one
PASSWORD = "load-bench-password-1"
REQUEST_TIMEOUT = 60.0  # seconds; a request queued behind 49 others still answers
BARRIER_TIMEOUT = 120.0  # seconds for every process to log its tablets in
MAX_PULL_PAGES = 1_000
START_MS = 1_597_458_600_000  # 2020-08-15 09:30 +07:00
STEP_MS = 5 * 60_000  # 5 minutes between a tablet's mutations: no `too_fast` flags
BACKENDS = ("postgresql", "sqlite")
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def ward_codes() -> list[str]:
    return [
        f"9{d:02d}{w:02d}"
        for d in range(1, DISTRICTS + 1)
        for w in range(1, WARDS_PER_DISTRICT + 1)
    ]


def units_csv() -> str:
    lines = [
        "scheme,code,name,level,parent_code,adult_population,target_rate",
        "gso-2020,90,Tỉnh Tải Thử,province,,,",
    ]
    lines += [f"gso-2020,9{d:02d},Huyện {d},district,90,," for d in range(1, DISTRICTS + 1)]
    lines += [f"gso-2020,{code},Phường {code},ward,{code[:3]},9000,0.6" for code in ward_codes()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Tablet:
    """One canvasser's tablet and everything it will push, encoded before the start."""

    username: str
    ward: str
    device_id: str
    login: bytes
    pushes: tuple[bytes, ...]


def make_tablet(username: str, ward: str, batches: int, seed: int) -> Tablet:
    rng = random.Random(seed)
    device_id = str(uuid.uuid4())
    ms, mutation_id, pushes = START_MS, 1, []
    for b in range(batches):
        mutations: list[dict[str, Any]] = []
        for i in range(BATCH // 2):
            household = str(uuid.uuid4())
            ms += STEP_MS
            place = {
                "ward": f"gso-2020:{ward}",
                "address": f"Số {b * BATCH + i}, ngõ {i % 40}, {username}",
            }
            mutations.append(
                mutation(
                    "household.upsert", mutation_id, household, device_id, ms, place, base_version=0
                )
            )
            ms += STEP_MS
            adults = rng.randint(1, 6)
            smartphones = rng.randint(0, adults)
            before = rng.randint(0, smartphones)
            visit = visit_data(
                household,
                ms,
                outcome="partial",
                adults=adults,
                smartphones=smartphones,
                installed_before=before,
                installed_during=rng.randint(0, smartphones - before),
            )
            mutations.append(
                mutation("visit.create", mutation_id + 1, str(uuid.uuid4()), device_id, ms, visit)
            )
            mutation_id += 2
        pushes.append(orjson.dumps({"device_id": device_id, "mutations": mutations}))
    login = orjson.dumps(
        {
            "username": username,
            "password": PASSWORD,
            "device_id": device_id,
            "device_secret": f"load-bench-secret-of-{device_id}",
        }
    )
    return Tablet(username, ward, device_id, login, tuple(pushes))


def make_tablets(batches: int) -> list[Tablet]:
    return [
        make_tablet(f"cv.{code}.{n}", code, batches, seed=w * 100 + n)
        for w, code in enumerate(ward_codes())
        for n in range(TABLETS_PER_WARD)
    ]


def create_users(instance: Path, url: str) -> None:
    """The 50 canvassers, in-process (50 CLI runs would take longer than the load)."""
    from field_server import create_app
    from field_server.auth.passwords import hash_password
    from field_server.extensions import db
    from field_server.store.people import create_user
    from field_server.store.units import units_by_refs

    app = create_app(base_config(instance, url))
    with app.app_context():
        now = datetime.now(UTC)
        password_hash = hash_password(PASSWORD)
        wards = units_by_refs([f"gso-2020:{code}" for code in ward_codes()])
        for code in ward_codes():
            for n in range(TABLETS_PER_WARD):
                create_user(
                    username=f"cv.{code}.{n}",
                    role="canvasser",
                    password_hash=password_hash,
                    full_name=f"cv.{code}.{n}",
                    units=[wards[f"gso-2020:{code}"]],
                    now=now,
                )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # no connection may be inherited by the forked clients


# --- the client processes -------------------------------------------------------------------


@dataclass
class ClientReport:
    """What one client process sends back: every request timed, and its own CPU time."""

    # (kind, started at [monotonic], seconds, ok, items acknowledged)
    requests: list[tuple[str, float, float, bool, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    visits_acknowledged: int = 0
    not_started: int = 0  # requests the budget cut off
    cpu_seconds: float = 0.0


def request(
    host: str, port: int, method: str, path: str, body: bytes | None, token: str | None
) -> tuple[int, bytes]:
    # A new connection per request: gunicorn's sync workers close every connection anyway.
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def timed(
    report: ClientReport,
    lock: threading.Lock,
    who: str,
    kind: str,
    call: tuple[str, int, str, str, bytes | None, str | None],
) -> tuple[float, float, dict[str, Any] | None]:
    """One request: (start, seconds, answer), the answer None (and a failure noted) unless
    it was 2xx with a JSON body."""
    started = time.monotonic()
    try:
        status, body = request(*call)
        seconds = time.monotonic() - started
        if 200 <= status < 300:
            return started, seconds, orjson.loads(body)
        problem = f"{status} {body[:300].decode(errors='replace')}"
    except (OSError, http.client.HTTPException, orjson.JSONDecodeError) as exc:
        seconds = time.monotonic() - started
        problem = repr(exc)
    with lock:
        report.failures.append(f"{who}: {kind} {call[2]} {call[3][:60]} -> {problem}")
        report.requests.append((kind, started, seconds, False, 0))
    return started, seconds, None


def reported(run: Callable[[], None], who: str, report: ClientReport, lock: threading.Lock) -> None:
    """Run a tablet's rounds; anything unexpected (an answer of the wrong shape) is a
    failure, never a thread that dies unseen."""
    try:
        run()
    except Exception as exc:
        with lock:
            report.failures.append(f"{who}: {exc!r}")


def tablet_run(
    host: str,
    port: int,
    tablet: Tablet,
    token: str,
    deadline: float,
    report: ClientReport,
    lock: threading.Lock,
) -> None:
    cursor = ""
    for number, body in enumerate(tablet.pushes):
        if time.monotonic() > deadline:
            with lock:
                report.not_started += len(tablet.pushes) - number
            return
        call = (host, port, "POST", "/api/v1/sync/push", body, token)
        started, seconds, answer = timed(report, lock, tablet.username, "push", call)
        if answer is None:
            return
        statuses = [r.get("status") for r in answer.get("results", [])]
        if len(statuses) != BATCH or any(s != "applied" for s in statuses):
            with lock:
                report.failures.append(f"{tablet.username}: push {number} results {statuses}")
                report.requests.append(("push", started, seconds, False, 0))
            return
        with lock:
            report.requests.append(("push", started, seconds, True, BATCH))
            report.visits_acknowledged += BATCH // 2
        for _ in range(MAX_PULL_PAGES):
            path = f"/api/v1/sync/pull?limit={PULL_LIMIT}&cursor={cursor}"
            call = (host, port, "GET", path, None, token)
            started, seconds, page = timed(report, lock, tablet.username, "pull", call)
            if page is None:
                return
            with lock:
                report.requests.append(("pull", started, seconds, True, len(page["changes"])))
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        else:
            with lock:
                report.failures.append(f"{tablet.username}: still has_more after many pages")
            return


def client_process(
    base: str,
    tablets: list[Tablet],
    barrier: Any,
    results: Any,
    budget: float,
) -> None:
    """Log this process's tablets in, wait for every process, then run them all at once."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    report, lock = ClientReport(), threading.Lock()
    tokens: list[str | None] = []
    for tablet in tablets:
        call = (host, port, "POST", "/api/v1/auth/login", tablet.login, None)
        _, _, login = timed(report, lock, tablet.username, "login", call)
        tokens.append(login["access_token"] if login else None)
    try:
        barrier.wait(timeout=BARRIER_TIMEOUT)
    except threading.BrokenBarrierError:
        report.failures.append("the other client processes never got ready")
        results.put(report)
        return
    deadline = time.monotonic() + budget
    threads = [
        threading.Thread(
            target=reported,
            args=(
                partial(tablet_run, host, port, tablet, token, deadline, report, lock),
                tablet.username,
                report,
                lock,
            ),
            daemon=True,
        )
        for tablet, token in zip(tablets, tokens, strict=True)
        if token is not None
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(budget + REQUEST_TIMEOUT * 2)
    if any(thread.is_alive() for thread in threads):
        report.failures.append("a tablet's thread was still running after the budget")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.cpu_seconds = usage.ru_utime + usage.ru_stime
    # Only the load's own requests are timed and counted from here on (not the logins).
    report.requests = [r for r in report.requests if r[0] != "login"]
    results.put(report)


# --- one configuration ----------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def run_clients(base: str, tablets: list[Tablet], clients: int, budget: float) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients + 1)
    results = context.Queue()
    shares = [tablets[i::clients] for i in range(clients)]
    processes = [
        context.Process(
            target=client_process, args=(base, share, barrier, results, budget), daemon=True
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    reports: list[ClientReport] = []
    lost = 0
    try:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        started = time.monotonic()
        for _ in processes:
            reports.append(results.get(timeout=budget + REQUEST_TIMEOUT * 3))
    except (threading.BrokenBarrierError, queue.Empty):
        started = time.monotonic()
        lost = len(processes) - len(reports)
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(10)
    requests = [r for report in reports for r in report.requests]
    failures = [f for report in reports for f in report.failures]
    if lost:
        failures.append(f"{lost} client process(es) never reported")
    ended = max((s + d for _, s, d, _, _ in requests), default=started)
    wall = max(ended - started, 1e-9)

    def of(kind: str) -> list[tuple[str, float, float, bool, int]]:
        return [r for r in requests if r[0] == kind]

    pushes, pulls = of("push"), of("pull")
    mutations = sum(r[4] for r in pushes if r[3])
    changes = sum(r[4] for r in pulls if r[3])
    return {
        "requests": len(requests),
        "pushes": len(pushes),
        "pulls": len(pulls),
        # Failed requests (logins too) and anything else that went wrong, one each.
        "failed": len(failures),
        "failures": failures,
        "not_started": sum(report.not_started for report in reports),
        "mutations": mutations,
        "changes": changes,
        "visits_acknowledged": sum(report.visits_acknowledged for report in reports),
        "wall": wall,
        "push_rate": mutations / wall,
        "pull_rate": changes / wall,
        "request_rate": len(requests) / wall,
        "push_ms": [percentile([r[2] for r in pushes], q) * 1000 for q in (0.5, 0.95, 0.99)],
        "pull_ms": [percentile([r[2] for r in pulls], q) * 1000 for q in (0.5, 0.95, 0.99)],
        "client_cpu": sum(report.cpu_seconds for report in reports),
    }


def stored_visits(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM visits")).scalar_one())
    finally:
        engine.dispose()


def measure(
    backend: str, workers: int, batches: int, clients: int, budget: float
) -> dict[str, Any]:
    """One configuration on a fresh database: set up, load, count what was stored."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = None
        if backend == "postgresql":
            database, url = create_postgres_database("field_bench_load")
        else:
            url = f"sqlite:///{folder / 'load.db'}"
        pool = ServerPool(folder)
        try:
            env = field_env(folder / "instance", FIELD_DATABASE_URL=url)
            run_cli(env, "init-secrets")
            run_cli(env, "db", "upgrade")
            (folder / "units.csv").write_text(units_csv())
            run_cli(env, "units", "import", str(folder / "units.csv"))
            create_users(folder / "setup", url)
            tablets = make_tablets(batches)
            server = pool(env, "--workers", str(workers))
            result = run_clients(server.url, tablets, clients, budget)
            pool.stop_all()
            result["stored_visits"] = stored_visits(url)
            if result["failures"]:
                errors = [line for line in server.output().splitlines() if "Error" in line]
                result["server_errors"] = errors[-20:]
        finally:
            pool.stop_all()  # before the drop: no server may hold a connection
            if database is not None:
                drop_postgres_database(database)
    result.update(backend=backend, workers=workers, batches=batches, clients=clients)
    return result


def run(
    backends: list[str], batches: int, clients: int, budget: float
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for backend in backends:
        out[backend] = []
        for workers in WORKER_COUNTS:
            result = measure(backend, workers, batches, clients, budget)
            print(progress(result), flush=True)
            out[backend].append(result)
    return out


def progress(r: dict[str, Any]) -> str:
    push, pull = r["push_ms"], r["pull_ms"]
    return (
        f"{NAMES[r['backend']]} --workers {r['workers']}: {r['requests']} requests, "
        f"{r['failed']} failed, {r['not_started']} not started; push {r['push_rate']:,.0f} "
        f"mutations/s (p50/p95/p99 {push[0]:.0f}/{push[1]:.0f}/{push[2]:.0f} ms), pull "
        f"{r['pull_rate']:,.0f} changes/s ({pull[0]:.0f}/{pull[1]:.0f}/{pull[2]:.0f} ms) in "
        f"{r['wall']:.1f} s; clients' CPU {r['client_cpu']:.1f} s; visits stored "
        f"{r['stored_visits']:,} of {r['visits_acknowledged']:,} acknowledged"
    )


# --- the report -----------------------------------------------------------------------------


def verdicts(results: list[dict[str, Any]]) -> tuple[float, bool, bool]:
    """(push ratio of the last configuration over the first, ratio passes, no failures)."""
    one, many = results[0], results[-1]
    ratio = many["push_rate"] / one["push_rate"] if one["push_rate"] else math.nan
    clean = all(
        r["failed"] == 0
        and r["not_started"] == 0
        and r["stored_visits"] == r["visits_acknowledged"]
        for r in results
    )
    return ratio, ratio >= RATIO_BAR, clean


def _ms(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in values)


def report(results: dict[str, list[dict[str, Any]]]) -> str:
    first = next(iter(results.values()))[0]
    lines = [
        "<!-- bench:load -->",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; {TABLETS} tablets (two per "
        f"ward, {DISTRICTS * WARDS_PER_DISTRICT} wards in {DISTRICTS} districts), each doing "
        f"{first['batches']} rounds of: push a batch of {BATCH} mutations ({BATCH // 2} "
        f"households + {BATCH // 2} visits), then pull its ward with limit={PULL_LIMIT} to the "
        f"end; all at once from {first['clients']} client processes, HTTP on 127.0.0.1. "
        "Each configuration on a fresh database; latencies in ms (p50 / p95 / p99); "
        "throughput is what was acknowledged over the load's wall time.",
        "",
        "| database | server | requests (push + pull) | failed | push latency | pull latency "
        "| push mutations/s | pull changes/s | wall time | clients' CPU | visits stored / "
        "acknowledged |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, rows in results.items():
        for r in rows:
            cut = f" ({r['not_started']} not started)" if r["not_started"] else ""
            lines.append(
                f"| {NAMES[backend]} | `serve --workers {r['workers']}` | {r['requests']:,} "
                f"({r['pushes']:,} + {r['pulls']:,}) | {r['failed']}{cut} "
                f"| {_ms(r['push_ms'])} | {_ms(r['pull_ms'])} | {r['push_rate']:,.0f} | "
                f"{r['pull_rate']:,.0f} | {r['wall']:.1f} s | {r['client_cpu']:.1f} s | "
                f"{r['stored_visits']:,} / {r['visits_acknowledged']:,} |"
            )
    lines += ["", "| database | push throughput, 4 workers / 1 | bar | no failed request |"]
    lines.append("| --- | --- | --- | --- |")
    for backend, rows in results.items():
        ratio, fast, clean = verdicts(rows)
        lines.append(
            f"| {NAMES[backend]} | {ratio:.2f}x | {RATIO_BAR}x ({'pass' if fast else 'FAIL'}) "
            f"| {'yes' if clean else 'no'} ({'pass' if clean else 'FAIL'}) |"
        )
    lines.append("<!-- /bench:load -->")
    return "\n".join(lines)


def headlines(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, str]]:
    """The summary's rows (tests/benchmarks/summary.py)."""
    rows = []
    for backend, configurations in results.items():
        ratio, fast, clean = verdicts(configurations)
        one, many = configurations[0], configurations[-1]
        rows += [
            {
                "figure": f"{NAMES[backend]}, {TABLETS} tablets, push with "
                f"{many['workers']} workers (floor: 1 worker, same run)",
                "value": f"{many['push_rate']:,.0f} mutations/s",
                "floor": f"{one['push_rate']:,.0f} mutations/s",
                "ratio": f"{ratio:.2f}x",
                "bar": f"{RATIO_BAR}x",
                "verdict": "pass" if fast else "FAIL",
            },
            {
                "figure": f"{NAMES[backend]}, {TABLETS} tablets: failed requests (both runs), "
                f"push p95 with {many['workers']} workers",
                "value": f"{one['failed'] + many['failed']} failed; "
                f"p95 {many['push_ms'][1]:,.0f} ms",
                "floor": "",
                "ratio": "",
                "bar": "0 failed",
                "verdict": "pass" if clean else "FAIL",
            },
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=4, help="rounds per tablet")
    parser.add_argument("--clients", type=int, default=5, help="client processes")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds per configuration")
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    clients = max(1, min(args.clients, TABLETS))
    results = run(args.backend or ["postgresql"], args.batches, clients, args.budget)
    section = report(results)
    print(section)
    for rows in results.values():
        for r in rows:
            for failure in r["failures"][:10]:
                print("failure:", failure[:300])
            for line in r.get("server_errors", []):
                print("server:", line[:300])
    if args.write:
        write_section("load", "Fifty tablets at once", section, headlines(results))


if __name__ == "__main__":
    main()
