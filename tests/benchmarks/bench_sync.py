"""Push and pull throughput against a real server process (`make bench`).

Absolute times are noisy on a shared machine, so each figure is reported beside a floor
measured in the same run, after the server has stopped, with the same rows in tables of the
same shape: on SQLite a bare `sqlite3` executemany with the same durability (WAL,
synchronous=FULL), one transaction per batch, and for the pull a bare SELECT of those rows;
on PostgreSQL a `COPY … FROM STDIN` per batch, one transaction each (the server's default
durability), and for the pull a `COPY (SELECT …) TO STDOUT` of them. Results go to
docs/benchmarks.md (the section between the sync markers is rewritten).

On PostgreSQL (``--backend postgresql``, a new database made for the run on the server that
``FIELD_TEST_POSTGRES_URL`` names, as the tests do, and dropped after; the floor's tables
live in it too) the pull is measured twice: right after the push, on a freshly filled
database whose tables have no statistics yet (autovacuum is turned off on them for the run,
so it cannot analyse them behind the benchmark's back), and again after an ``ANALYZE``.

    python -m tests.benchmarks.bench_sync [--batches 40] [--backend sqlite|postgresql] [--write]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tests.benchmarks.doc import Row, machine, write_section
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.processes import ServerPool, field_env, run_cli

BATCH = 500
UNITS_CSV = """scheme,code,name,level,parent_code,adult_population,target_rate
gso-2020,33,Tỉnh Hưng Yên,province,,,
gso-2020,326,Huyện Văn Giang,district,33,,
gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,0.6
"""


# The client encodes and decodes with orjson, as the server does: a page of 500 changes is
# about 275 KB of JSON, and the standard library's decoder took about an eighth of each
# pull's time, which is the client's and not the server's.
def post(url: str, body: dict, token: str | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        url, data=orjson.dumps(body), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
        return orjson.loads(response.read())


def get(url: str, token: str) -> dict:
    request = urllib.request.Request(url)  # noqa: S310 (loopback)
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return orjson.loads(response.read())


def mutation(
    kind: str, mutation_id: int, record_id: str, device_id: str, ms: int, data: dict, **extra: Any
) -> dict:
    """One mutation of a bench tablet's log, its clock at ``ms`` (bench_load's too)."""
    return {
        "mutation_id": mutation_id,
        "type": kind,
        "id": record_id,
        "hlc": f"{ms}-0000-{device_id}",
        "data": data,
        **extra,
    }


def visit_data(household: str, ms: int, **fields: Any) -> dict:
    """A visit.create's data: to ``household``, made at ``ms``, no priority person."""
    return {
        "household_id": household,
        "visited_at": datetime.fromtimestamp(ms / 1000, UTC).isoformat(),
        "priority_subjects": 0,
        "priority_installed": 0,
        **fields,
    }


def make_batches(device_id: str, batches: int) -> list[list[dict]]:
    out, mutation_id, ms = [], 1, 1_597_458_600_000
    for b in range(batches):
        batch = []
        for i in range(BATCH // 2):
            household = str(uuid.uuid4())
            ms += 1000
            place = {
                "ward": "gso-2020:12019",
                "group": None,
                "address": f"Số {b * BATCH + i}, ngõ {i % 40}, phố Bench",
                "lat": 20.95,
                "lon": 105.94,
                "head_name": "Nguyễn Văn A",
                "phone": None,
            }
            batch.append(
                mutation(
                    "household.upsert", mutation_id, household, device_id, ms, place, base_version=0
                )
            )
            ms += 1000
            visit = visit_data(
                household,
                ms,
                outcome="installed",
                adults=4,
                smartphones=3,
                installed_before=1,
                installed_during=2,
                lat=20.9501,
                lon=105.9402,
                accuracy_m=12,
                notes="",
            )
            batch.append(
                mutation("visit.create", mutation_id + 1, str(uuid.uuid4()), device_id, ms, visit)
            )
            mutation_id += 2
        out.append(batch)
    return out


FLOOR_HOUSEHOLDS = (
    "CREATE TABLE {prefix}households (id TEXT PRIMARY KEY, ward TEXT, address TEXT, "
    "lat REAL, lon REAL, head_name TEXT, version INT)"
)
FLOOR_VISITS = (
    "CREATE TABLE {prefix}visits (id TEXT PRIMARY KEY, household_id TEXT REFERENCES "
    "{prefix}households(id), visited_at TEXT, outcome TEXT, adults INT, smartphones INT, "
    "installed_before INT, installed_during INT, lat REAL, lon REAL, notes TEXT)"
)


def floor_rows(batch: list[dict]) -> tuple[list[tuple], list[tuple]]:
    """A batch's households and visits as the floor's tables hold them."""
    households = [
        (
            m["id"],
            m["data"]["ward"],
            m["data"]["address"],
            m["data"]["lat"],
            m["data"]["lon"],
            m["data"]["head_name"],
            1,
        )
        for m in batch
        if m["type"] == "household.upsert"
    ]
    visits = [
        (
            m["id"],
            m["data"]["household_id"],
            m["data"]["visited_at"],
            m["data"]["outcome"],
            4,
            3,
            1,
            2,
            20.95,
            105.94,
            "",
        )
        for m in batch
        if m["type"] == "visit.create"
    ]
    return households, visits


def sqlite_floor(batches: list[list[dict]], folder: Path) -> tuple[float, float]:
    """Rows per second for a bare sqlite3 executemany of the same rows, then for a bare
    SELECT of them all."""
    db = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(FLOOR_HOUSEHOLDS.format(prefix=""))
    db.execute(FLOOR_VISITS.format(prefix=""))
    start = time.perf_counter()
    for batch in batches:
        households, visits = floor_rows(batch)
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO households VALUES (?,?,?,?,?,?,?)", households)
        db.executemany("INSERT INTO visits VALUES (?,?,?,?,?,?,?,?,?,?,?)", visits)
        db.execute("COMMIT")
    push = sum(len(b) for b in batches) / (time.perf_counter() - start)
    start = time.perf_counter()
    read = len(db.execute("SELECT * FROM households").fetchall())
    read += len(db.execute("SELECT * FROM visits").fetchall())
    pull = read / (time.perf_counter() - start)
    db.close()
    return push, pull


def postgres_floor(url: str, batches: list[list[dict]]) -> tuple[float, float]:
    """Rows per second for a `COPY … FROM STDIN` of the same rows, one transaction per
    batch, then for a `COPY (SELECT …) TO STDOUT` of them all."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(FLOOR_HOUSEHOLDS.format(prefix="floor_"))
        conn.execute(FLOOR_VISITS.format(prefix="floor_"))
        conn.commit()
        start = time.perf_counter()
        for batch in batches:
            households, visits = floor_rows(batch)
            with conn.cursor() as cursor:
                with cursor.copy("COPY floor_households FROM STDIN") as copy:
                    for row in households:
                        copy.write_row(row)
                with cursor.copy("COPY floor_visits FROM STDIN") as copy:
                    for row in visits:
                        copy.write_row(row)
            conn.commit()
        push = sum(len(b) for b in batches) / (time.perf_counter() - start)
        start, read = time.perf_counter(), 0
        with conn.cursor() as cursor:
            for table in ("floor_households", "floor_visits"):
                with cursor.copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as copy:
                    read += sum(1 for _ in copy.rows())
        pull = read / (time.perf_counter() - start)
        conn.rollback()
    return push, pull


def _postgres(url: str, *statements: str) -> None:
    """Run statements on the benchmark's PostgreSQL database (autocommit)."""
    import psycopg

    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        for statement in statements:
            conn.execute(statement)


PULLED_TABLES = ("units", "assignments", "households", "visits")


def pull_all(url: str, token: str) -> tuple[int, float]:
    """Every change from an empty cursor: (changes, seconds)."""
    start, changes, cursor = time.perf_counter(), 0, ""
    for _ in range(100_000):
        page = get(f"{url}/api/v1/sync/pull?limit=500&cursor={cursor}", token)
        changes += len(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    return changes, time.perf_counter() - start


def run(batch_count: int, backend: str = "sqlite") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = None
        extra: dict[str, str] = {}
        if backend == "postgresql":
            database, url = create_postgres_database("field_bench")
            extra["FIELD_DATABASE_URL"] = url
        try:
            return _run(folder, field_env(folder / "instance", **extra), batch_count, backend)
        finally:
            if database is not None:
                drop_postgres_database(database)


def _run(folder: Path, env: dict[str, str], batch_count: int, backend: str) -> dict:
    run_cli(env, "init-secrets")
    run_cli(env, "db", "upgrade")
    database_url = env.get("FIELD_DATABASE_URL", "")
    if backend == "postgresql":
        _postgres(
            database_url,
            *(f"ALTER TABLE {t} SET (autovacuum_enabled = false)" for t in PULLED_TABLES),
        )
    (folder / "units.csv").write_text(UNITS_CSV)
    run_cli(env, "units", "import", str(folder / "units.csv"))
    created = subprocess.run(
        [
            str(Path(sys.executable).with_name("field-server")),
            "users",
            "create",
            "cv.bench",
            "--role",
            "canvasser",
            "--unit",
            "gso-2020:12019",
            "--password-stdin",
        ],
        env=env,
        input="bench-password-1\n",
        text=True,
        capture_output=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    pool = ServerPool(folder)
    try:
        server = pool(env, "--workers", "1")
        device = str(uuid.uuid4())
        login = post(
            f"{server.url}/api/v1/auth/login",
            {
                "username": "cv.bench",
                "password": "bench-password-1",
                "device_id": device,
                "device_secret": f"bench-secret-of-{device}",
            },
        )
        token = login["access_token"]
        batches = make_batches(device, batch_count)
        start = time.perf_counter()
        for batch in batches:
            answer = post(
                f"{server.url}/api/v1/sync/push",
                {"device_id": device, "mutations": batch},
                token,
            )
            assert all(r["status"] == "applied" for r in answer["results"]), answer
        push_seconds = time.perf_counter() - start
        mutations = sum(len(b) for b in batches)

        changes, pull_seconds = pull_all(server.url, token)
        analysed_rate = None
        if backend == "postgresql":
            _postgres(database_url, *(f"ANALYZE {t}" for t in PULLED_TABLES))
            analysed, analysed_seconds = pull_all(server.url, token)
            analysed_rate = analysed / analysed_seconds
    finally:
        pool.stop_all()
    if backend == "sqlite":
        push_floor, pull_floor = sqlite_floor(batches, folder)
    else:
        push_floor, pull_floor = postgres_floor(database_url, batches)
    return {
        "backend": backend,
        "mutations": mutations,
        "push_rate": mutations / push_seconds,
        "baseline_rate": push_floor,
        "changes": changes,
        "pull_rate": changes / pull_seconds,
        "pull_floor_rate": pull_floor,
        "analysed_pull_rate": analysed_rate,
    }


def section_name(backend: str) -> str:
    return "sync" if backend == "sqlite" else f"sync-{backend}"


# DESIGN.md's bars, one server process, batches of 500 and limit=500.
BARS = {"sqlite": (18_000, 60_000), "postgresql": (8_000, 50_000)}


def _against(rate: float, bar: int) -> str:
    return f"{bar:,} ({'pass' if rate >= bar else 'FAIL'})"


FLOORS = {
    "sqlite": ("bare `sqlite3` executemany", "bare `sqlite3` SELECT"),
    "postgresql": ("`COPY … FROM STDIN` (a transaction per batch)", "`COPY (SELECT …) TO STDOUT`"),
}


def report(result: dict) -> str:
    name = section_name(result["backend"])
    push_bar, pull_bar = BARS[result["backend"]]
    push_floor, pull_floor = FLOORS[result["backend"]]
    database = "SQLite" if result["backend"] == "sqlite" else "PostgreSQL"
    push_share = result["push_rate"] / result["baseline_rate"]
    pull_share = result["pull_rate"] / result["pull_floor_rate"]
    fresh = " from the freshly filled database (no statistics)" if name != "sync" else ""
    lines = [
        f"<!-- bench:{name} -->",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; {database}, one server "
        "process (`field-server serve --workers 1`), HTTP on 127.0.0.1; each floor is the "
        "same rows in tables of the same shape, same run.",
        "",
        "| figure | measured | bar |",
        "| --- | --- | --- |",
        f"| push: {result['mutations']:,} mutations in batches of 500 (250 households + 250 "
        f"visits) | {result['push_rate']:,.0f} mutations/s | "
        f"{_against(result['push_rate'], push_bar)} mutations/s |",
        f"| floor: {push_floor} of the same rows | {result['baseline_rate']:,.0f} rows/s "
        "| (floor) |",
        f"| push as a share of the floor | {push_share:.1%} | |",
        f"| pull: {result['changes']:,} changes with limit=500{fresh} | "
        f"{result['pull_rate']:,.0f} changes/s | {_against(result['pull_rate'], pull_bar)} "
        "changes/s |",
        f"| floor: {pull_floor} of the same rows | {result['pull_floor_rate']:,.0f} rows/s "
        "| (floor) |",
        f"| pull as a share of the floor | {pull_share:.1%} | |",
    ]
    if result["analysed_pull_rate"] is not None:
        lines.append(
            f"| the same pull after `ANALYZE` | {result['analysed_pull_rate']:,.0f} changes/s "
            f"| {_against(result['analysed_pull_rate'], pull_bar)} changes/s |"
        )
    lines.append(f"<!-- /bench:{name} -->")
    return "\n".join(lines)


def headlines(result: dict) -> list[Row]:
    """The summary's rows (tests/benchmarks/summary.py): push and pull beside their floors."""
    database = "SQLite" if result["backend"] == "sqlite" else "PostgreSQL"
    push_bar, pull_bar = BARS[result["backend"]]
    fresh = ", fresh database" if result["backend"] != "sqlite" else ""
    rows = [
        {
            "figure": f"{database}: push, one process, batches of 500",
            "value": f"{result['push_rate']:,.0f} mutations/s",
            "floor": f"{result['baseline_rate']:,.0f} rows/s",
            "ratio": f"{result['push_rate'] / result['baseline_rate']:.1%}",
            "bar": f"{push_bar:,}/s",
            "verdict": "pass" if result["push_rate"] >= push_bar else "FAIL",
        },
        {
            "figure": f"{database}: pull, limit=500{fresh}",
            "value": f"{result['pull_rate']:,.0f} changes/s",
            "floor": f"{result['pull_floor_rate']:,.0f} rows/s",
            "ratio": f"{result['pull_rate'] / result['pull_floor_rate']:.1%}",
            "bar": f"{pull_bar:,}/s",
            "verdict": "pass" if result["pull_rate"] >= pull_bar else "FAIL",
        },
    ]
    if result["analysed_pull_rate"] is not None:
        rate = result["analysed_pull_rate"]
        rows.append(
            {
                "figure": f"{database}: pull, limit=500, after ANALYZE",
                "value": f"{rate:,.0f} changes/s",
                "floor": f"{result['pull_floor_rate']:,.0f} rows/s",
                "ratio": f"{rate / result['pull_floor_rate']:.1%}",
                "bar": f"{pull_bar:,}/s",
                "verdict": "pass" if rate >= pull_bar else "FAIL",
            }
        )
    return rows


def write(section: str, backend: str = "sqlite", rows: list[Row] | None = None) -> None:
    heading = "Sync" if backend == "sqlite" else "Sync on PostgreSQL"
    write_section(section_name(backend), heading, section, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    result = run(args.batches, args.backend)
    section = report(result)
    print(section)
    if args.write:
        write(section, args.backend, headlines(result))


if __name__ == "__main__":
    main()
