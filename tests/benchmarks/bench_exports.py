"""Export throughput and memory: 1,000,000 visits as visits.csv through a real server
process on SQLite (`make bench`).

The database is migrated with `field-server db upgrade`, then filled directly with bulk
sqlite3 INSERTs (a district of 20 wards, 250,000 households, 1,000,000 visits): pushing a
million visits through the API would measure the push, not the export. The export is then
downloaded over HTTP from `field-server serve --workers 1`, and the worker's peak resident
memory read from /proc (VmHWM). Beside it, measured in the same run, a baseline: a bare
sqlite3 SELECT of the same columns written with csv.writer, in this process.

    python -m tests.benchmarks.bench_exports [--visits 1000000] [--write]
"""

from __future__ import annotations

import argparse
import csv
import io
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.benchmarks.bench_sync import machine, post
from tests.benchmarks.doc import write_section
from tests.e2e.processes import ServerPool, field_env, run_cli

START, END = "<!-- bench:exports -->", "<!-- /bench:exports -->"
WARDS = 20
VISITS_PER_HOUSEHOLD = 4
NOTES = ["", "Đã cài cho cả nhà", "Hẹn chiều quay lại", "=1+1 thử công thức", "-"]
OUTCOMES = ["installed", "partial", "already_installed", "refused", "not_home"]


def units_csv() -> str:
    lines = [
        "scheme,code,name,level,parent_code,adult_population,target_rate",
        "gso-2020,33,Tỉnh Hưng Yên,province,,,",
        "gso-2020,326,Huyện Văn Giang,district,33,,",
    ]
    for w in range(WARDS):
        code = 13000 + w
        lines.append(f"gso-2020,{code},Xã Thử {w + 1},ward,326,9000,0.6")
        lines.append(f"gso-2020,{code}-01,Thôn 1 xã {w + 1},group,{code},,")
    return "\n".join(lines) + "\n"


def fill(database: Path, visits: int) -> None:
    """Bulk INSERTs of households and visits, straight into the migrated database."""
    con = sqlite3.connect(database, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")  # a fixture, not the thing measured
    wards = con.execute(
        "SELECT id, (SELECT g.id FROM units g WHERE g.parent_id = w.id) FROM units w "
        "WHERE level = 'ward' ORDER BY id"
    ).fetchall()
    user_id = con.execute("SELECT id FROM users WHERE username = 'cv.bench'").fetchone()[0]
    device = str(uuid.uuid4())
    base = datetime(2020, 8, 15, 1, 0, tzinfo=UTC)
    now = "2020-08-20 10:00:00"
    households = visits // VISITS_PER_HOUSEHOLD
    con.execute("BEGIN")
    batch_h, batch_v = [], []
    for h in range(households):
        ward_id, group_id = wards[h % len(wards)]
        household_id = str(uuid.UUID(int=(1 << 124) + h))
        batch_h.append(
            (
                household_id,
                ward_id,
                group_id,
                f"Số {h}, ngõ {h % 50}, thôn 1",
                f"so {h} ngo {h % 50} thon 1",
                20.95,
                105.94,
                20.95,
                105.94,
                "Nguyễn Văn A",
                "0912345789",
                1,
                4,
                3,
                3,
                0,
                0,
                None,
                device,
                now,
                now,
                0,
            )
        )
        for k in range(VISITS_PER_HOUSEHOLD):
            i = h * VISITS_PER_HOUSEHOLD + k
            at = base + timedelta(seconds=37 * i % (6 * 86400))
            ms = int(at.timestamp() * 1000)
            batch_v.append(
                (
                    str(uuid.UUID(int=(2 << 124) + i)),
                    household_id,
                    ward_id,
                    group_id,
                    user_id,
                    device,
                    at.strftime("%Y-%m-%d %H:%M:%S"),
                    OUTCOMES[i % len(OUTCOMES)],
                    4,
                    3,
                    1,
                    2,
                    0,
                    0,
                    20.9501,
                    105.9402,
                    12.0,
                    NOTES[i % len(NOTES)],
                    None,
                    f"{ms}-0000-{device}",
                    ms,
                    0,
                    device,
                    1,
                    "pending",
                    None,
                    "[]" if i % 10 else '["too_fast"]',
                    0,
                    None,
                    now,
                    now,
                    0,
                    None,
                    None,
                    1 if i % 10 == 0 else 0,
                )
            )
        if len(batch_v) >= 50_000:
            _flush(con, batch_h, batch_v)
    _flush(con, batch_h, batch_v)
    con.execute("COMMIT")
    con.close()


def _flush(con: sqlite3.Connection, households: list, visits: list) -> None:
    con.executemany(f"INSERT INTO households VALUES ({','.join('?' * 22)})", households)
    con.executemany(f"INSERT INTO visits VALUES ({','.join('?' * 35)})", visits)
    households.clear()
    visits.clear()


def baseline(database: Path) -> tuple[int, float]:
    """(rows, seconds) of a bare SELECT of the same columns written with csv.writer."""
    con = sqlite3.connect(database)
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\r\n")
    start = time.perf_counter()
    rows = 0
    cursor = con.execute(
        "SELECT id, version, household_id, visited_at, outcome, adults, smartphones, "
        "installed_before, installed_during, priority_subjects, priority_installed, lat, lon, "
        "accuracy_m, notes, come_back_at, ward_id, group_id, canvasser_id, device_id, "
        "review_status, review_comment, flags, voided, received_at FROM visits"
    )
    for row in cursor:
        writer.writerow(row)
        rows += 1
        if sink.tell() > 65536:
            sink.seek(0)
            sink.truncate()
    elapsed = time.perf_counter() - start
    con.close()
    return rows, elapsed


def peak_kib(master_pid: int) -> int:
    """The largest VmHWM (peak resident set) among the server's processes, in KiB."""
    pids = [master_pid]
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    peak = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


def worker_rss_kib(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(visits: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = field_env(folder / "instance")
        run_cli(env, "init-secrets")
        run_cli(env, "db", "upgrade")
        (folder / "units.csv").write_text(units_csv())
        run_cli(env, "units", "import", str(folder / "units.csv"))
        cli = str(Path(sys.executable).with_name("field-server"))
        for name, role, unit in [
            ("cv.bench", "canvasser", "gso-2020:13000"),
            ("dt.bench", "district", "gso-2020:326"),
        ]:
            subprocess.run(
                [cli, "users", "create", name, "--role", role, "--unit", unit, "--password-stdin"],
                env=env,
                input="bench-password-1\n",
                text=True,
                check=True,
                capture_output=True,
            )
        database = folder / "instance" / "field.db"
        start = time.perf_counter()
        fill(database, visits)
        fill_seconds = time.perf_counter() - start
        print(f"filled {visits:,} visits in {fill_seconds:.0f} s", file=sys.stderr)

        base_rows, base_seconds = baseline(database)
        pool = ServerPool(folder)
        try:
            server = pool(env, "--workers", "1")
            master = server.process.pid
            login = post(
                f"{server.url}/api/v1/auth/login",
                {"username": "dt.bench", "password": "bench-password-1"},
            )
            idle_kib = worker_rss_kib(master)
            request = urllib.request.Request(  # noqa: S310 (loopback)
                f"{server.url}/api/v1/exports/visits.csv?unit=gso-2020:326"
            )
            request.add_header("Authorization", f"Bearer {login['access_token']}")
            start = time.perf_counter()
            first_byte = None
            size = lines = 0
            with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
                while True:
                    chunk = response.read(256 * 1024)
                    if first_byte is None:
                        first_byte = time.perf_counter() - start
                    if not chunk:
                        break
                    size += len(chunk)
                    lines += chunk.count(b"\n")  # a CRLF may straddle two reads
            seconds = time.perf_counter() - start
            peak = peak_kib(master)
        finally:
            pool.stop_all()
    # Line ends inside quoted cells would count too; the notes above hold none.
    rows = lines - 1
    assert rows == visits == base_rows, (rows, visits, base_rows)
    return {
        "visits": visits,
        "fill_seconds": fill_seconds,
        "rows": rows,
        "bytes": size,
        "seconds": seconds,
        "first_byte": first_byte or 0.0,
        "rate": rows / seconds,
        "peak_mib": peak / 1024,
        "idle_mib": idle_kib / 1024,
        "baseline_rate": base_rows / base_seconds,
    }


def report(result: dict) -> str:
    ratio = result["rate"] / result["baseline_rate"]
    return "\n".join(
        [
            START,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; SQLite, one server process "
            "(`field-server serve --workers 1`), HTTP on 127.0.0.1; a district of 20 wards, "
            f"{result['visits']:,} visits inserted directly (in {result['fill_seconds']:.0f} s).",
            "",
            "| figure | measured | bar |",
            "| --- | --- | --- |",
            f"| `GET /api/v1/exports/visits.csv?unit=gso-2020:326`: {result['rows']:,} rows, "
            f"{result['bytes'] / 1e6:,.0f} MB in {result['seconds']:.1f} s | "
            f"{result['rate']:,.0f} rows/s | 100,000 rows/s |",
            f"| first byte after | {result['first_byte'] * 1000:,.0f} ms | |",
            f"| server worker's peak memory (VmHWM), export included | "
            f"{result['peak_mib']:,.0f} MB (idle after login: {result['idle_mib']:,.0f} MB) | "
            "150 MB |",
            f"| bare `sqlite3` SELECT + `csv.writer` of the same rows, same run | "
            f"{result['baseline_rate']:,.0f} rows/s | (baseline) |",
            f"| export as a share of the bare SELECT | {ratio:.0%} | |",
            END,
        ]
    )


def write(section: str) -> None:
    write_section("exports", "Exports", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = report(run(args.visits))
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
