"""Ward figures and the review queue at 1,000 and at 1,000,000 visits (`make bench`).

The figures are counters and the queue is one backward index scan, so both must answer
as fast with a million visits as with a thousand. Each size gets its own SQLite database,
filled directly (households and visits inserted with sqlite3, then `field-server stats
rebuild` builds the counters, which is timed too), and a real server process; the median
latency of GET /api/v1/stats for a ward and of the first two pages of GET /api/v1/visits
for that ward are measured over HTTP. The figure that matters is the ratio between the two
sizes, measured in the same run. Results go to docs/benchmarks.md (the bench:figures
section).

    python -m tests.benchmarks.bench_figures [--large 1000000] [--small 1000] [--write]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.benchmarks.bench_sync import machine, post
from tests.benchmarks.doc import write_section
from tests.e2e.processes import ServerPool, field_env, run_cli

WARDS = 20
DAYS = 30
REQUESTS = 40
# Two full pages at both sizes (the small ward has about 50 visits), so that both sizes
# dump the same number of visits and only the table's size differs.
QUEUE_PAGE = 25
OUTCOMES = ("installed", "partial", "already_installed", "refused", "not_home")
FIELD_SERVER = str(Path(sys.executable).with_name("field-server"))


def units_csv() -> str:
    rows = [
        "scheme,code,name,level,parent_code,adult_population,target_rate",
        "gso-2020,33,Tỉnh Hưng Yên,province,,,",
        "gso-2020,326,Huyện Văn Giang,district,33,,",
    ]
    rows += [f"gso-2020,{20000 + w},Xã {w},ward,326,{9000 + w * 10},0.6" for w in range(WARDS)]
    return "\n".join(rows) + "\n"


def create_user(env: dict[str, str], name: str, role: str, *units: str) -> None:
    args = [FIELD_SERVER, "users", "create", name, "--role", role, "--password-stdin"]
    for unit in units:
        args += ["--unit", unit]
    subprocess.run(
        args, env=env, input="bench-password-1\n", text=True, check=True, capture_output=True
    )


def fill(db_path: Path, visits: int) -> None:
    """Households (four visits each) and visits spread over the wards and 30 days."""
    db = sqlite3.connect(db_path, isolation_level=None)
    ward_ids = [
        row[0] for row in db.execute("SELECT id FROM units WHERE level = 'ward' ORDER BY code")
    ]
    canvasser = db.execute("SELECT id FROM users WHERE username = 'cv.bench'").fetchone()[0]
    device = str(uuid.uuid4())
    start = datetime(2020, 8, 1, 1, 0, tzinfo=UTC)
    stamp = "2020-09-01 00:00:00.000000"
    households, rows = [], []
    for index in range(visits):
        household_index = index // 4
        ward = ward_ids[household_index % WARDS]
        household = uuid.UUID(int=household_index + 1).hex
        if index % 4 == 0:
            households.append(
                (household, ward, f"Số {household_index}, ngõ {household_index % 97}",
                 f"so {household_index} ngo {household_index % 97}", 4, 3, 2, 0, 0, stamp, stamp)
            )  # fmt: skip
        when = start + timedelta(minutes=(index * 7) % (DAYS * 24 * 60))
        flags = '["too_fast"]' if index % 10 == 0 else "[]"
        ms = int(when.timestamp() * 1000)
        rows.append(
            (
                uuid.UUID(int=index + 1).hex, household, ward, canvasser, device,
                when.strftime("%Y-%m-%d %H:%M:%S.%f"), OUTCOMES[index % len(OUTCOMES)],
                4, 3, 1, 1, 0, 0, f"{ms}-0000-{device}", ms, 0, device, flags,
                1 if index % 10 == 0 else 0, stamp, stamp,
            )
        )  # fmt: skip
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO households (id, ward_id, address, address_norm, adults, smartphones, "
        "installed, priority_subjects, priority_installed, created_at, updated_at, version, "
        "change_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,1,0)",
        households,
    )
    db.executemany(
        "INSERT INTO visits (id, household_id, ward_id, canvasser_id, device_id, visited_at, "
        "outcome, adults, smartphones, installed_before, installed_during, priority_subjects, "
        "priority_installed, hlc, order_ms, order_counter, order_node, flags, queue_rank, "
        "received_at, updated_at, version, review_status, voided, change_seq) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,'pending',0,0)",
        rows,
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    # The bulk load went through the write-ahead log; fold it back into the database, as
    # the server's own checkpoints do over time, so both sizes are read from the same state.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def get(url: str, token: str) -> tuple[float, dict]:
    request = urllib.request.Request(url)  # noqa: S310 (loopback only)
    request.add_header("Authorization", f"Bearer {token}")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
        body = json.loads(response.read())
    return time.perf_counter() - start, body


def measure(visits: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = field_env(folder / "instance")
        run_cli(env, "init-secrets")
        run_cli(env, "db", "upgrade")
        (folder / "units.csv").write_text(units_csv())
        run_cli(env, "units", "import", str(folder / "units.csv"))
        ward = "gso-2020:20000"
        create_user(env, "cv.bench", "canvasser", ward)
        create_user(env, "sv.bench", "supervisor", ward)
        fill(folder / "instance" / "field.db", visits)
        started = time.perf_counter()
        run_cli(env, "stats", "rebuild")
        rebuild_seconds = time.perf_counter() - started
        pool = ServerPool(folder)
        try:
            server = pool(env, "--workers", "1")
            token = post(
                f"{server.url}/api/v1/auth/login",
                {"username": "sv.bench", "password": "bench-password-1"},
            )["access_token"]
            stats_url = f"{server.url}/api/v1/stats?unit={ward}&to=2020-08-31"
            queue_url = f"{server.url}/api/v1/visits?ward={ward}&limit={QUEUE_PAGE}"
            stats_times, queue_times = [], []
            for _ in range(REQUESTS):
                seconds, body = get(stats_url, token)
                stats_times.append(seconds)
                first, page = get(queue_url, token)
                cursor = urllib.parse.quote(page["cursor"] or "")
                second, _ = get(f"{queue_url}&cursor={cursor}", token)
                queue_times.append((first + second) / 2)
            visits_in_ward = body["totals"]["visits"]
        finally:
            pool.stop_all()
    return {
        "visits": visits,
        "ward_visits": visits_in_ward,
        "stats_ms": statistics.median(stats_times) * 1000,
        "queue_ms": statistics.median(queue_times) * 1000,
        "rebuild_s": rebuild_seconds,
    }


def report(small: dict, large: dict) -> str:
    def row(name: str, key: str) -> str:
        ratio = large[key] / small[key]
        return (
            f"| {name} | {small[key]:.1f} ms | {large[key]:.1f} ms | {ratio:.2f}x | "
            "under 50 ms, same at both sizes |"
        )

    return "\n".join(
        [
            "<!-- bench:figures -->",
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; SQLite, one server process, "
            f"HTTP on 127.0.0.1; {WARDS} wards, visits over {DAYS} days; median of {REQUESTS} "
            "requests for one ward.",
            "",
            f"| figure | {small['visits']:,} visits | {large['visits']:,} visits | ratio | bar |",
            "| --- | --- | --- | --- | --- |",
            row("GET /api/v1/stats, one ward", "stats_ms"),
            row(f"GET /api/v1/visits (review queue), a page of {QUEUE_PAGE}", "queue_ms"),
            f"| visits in that ward | {small['ward_visits']:,} | {large['ward_visits']:,} | | |",
            f"| `field-server stats rebuild` (recount from the visits) | {small['rebuild_s']:.1f} s"
            f" | {large['rebuild_s']:.1f} s | | |",
            "<!-- /bench:figures -->",
        ]
    )


def write(section: str) -> None:
    write_section("figures", "Figures and the review queue", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = report(measure(args.small), measure(args.large))
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
