"""Export throughput and memory: 1,000,000 visits as visits.csv through a real server
process, on SQLite and on PostgreSQL, each beside the floor of the same run (`make bench`).

For each database a fresh one is migrated with `field-server db upgrade` and filled
directly (a district of 20 wards, 250,000 households, 1,000,000 visits; sqlite3
executemany, PostgreSQL COPY FROM): pushing a million visits through the API would measure
the push, not the export. The export is then downloaded over HTTP from `field-server serve
--workers 1`, and the worker's peak resident memory read from /proc (VmHWM, the whole
process: the app's own size included). The floor, measured in this process in the same
run, alternating with the export: on SQLite a bare sqlite3 SELECT of the stored columns the
export reads, written with csv.writer (fetchmany + writerows, the fastest plain form); on
PostgreSQL a bare `COPY (SELECT those columns FROM visits) TO STDOUT WITH (FORMAT csv)`.
Each is the best of ROUNDS runs. Bars (DESIGN.md): the export at 0.9x the floor or more,
its worker under 150 MB.

    python -m tests.benchmarks.bench_exports [--visits 1000000] [--backend sqlite|postgresql]
        [--write]
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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from domain.exports import columns
from field_server.store.exports import FROM, Spelling, cell_sql
from tests.benchmarks.bench_sync import machine, post
from tests.benchmarks.doc import write_section
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.processes import ServerPool, field_env, run_cli

START, END = "<!-- bench:exports -->", "<!-- /bench:exports -->"
BACKENDS = ("sqlite", "postgresql")
WARDS = 20
VISITS_PER_HOUSEHOLD = 4
ROUNDS = 2
RATIO_BAR = 0.9
MEMORY_BAR_MIB = 150
NOTES = ["", "Đã cài cho cả nhà", "Hẹn chiều quay lại", "=1+1 thử công thức", "-"]
OUTCOMES = ["installed", "partial", "already_installed", "refused", "not_home"]
HOUSEHOLD_FIELDS = (
    "id, ward_id, group_id, address, address_norm, lat, lon, first_lat, first_lon, head_name, "
    "phone, version, adults, smartphones, installed, priority_subjects, priority_installed, "
    "merged_into, created_by_device, created_at, updated_at, change_seq"
)
VISIT_FIELDS = (
    "id, household_id, ward_id, group_id, canvasser_id, device_id, visited_at, outcome, "
    "adults, smartphones, installed_before, installed_during, priority_subjects, "
    "priority_installed, lat, lon, accuracy_m, notes, come_back_at, hlc, order_ms, "
    "order_counter, order_node, version, review_status, review_comment, flags, voided, "
    "void_reason, received_at, updated_at, change_seq, reviewed_at, reviewed_by, queue_rank"
)
# The stored columns visits.csv is made of (its ward, group and canvasser as ids).
FLOOR_COLUMNS = (
    "id, version, household_id, visited_at, outcome, adults, smartphones, installed_before, "
    "installed_during, priority_subjects, priority_installed, lat, lon, accuracy_m, notes, "
    "come_back_at, ward_id, group_id, canvasser_id, device_id, review_status, "
    "review_comment, flags, voided, received_at"
)


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


def records(
    visits: int, wards: list[tuple[int, int]], user_id: int, zone: str
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(household, its visits) rows, times as UTC text (``zone`` is appended: "" for
    SQLite's stored spelling, "+00" for PostgreSQL)."""
    device = str(uuid.uuid4())
    base = datetime(2020, 8, 15, 1, 0, tzinfo=UTC)
    now = "2020-08-20 10:00:00" + zone
    for h in range(visits // VISITS_PER_HOUSEHOLD):
        ward_id, group_id = wards[h % len(wards)]
        household_id = str(uuid.UUID(int=(1 << 124) + h))
        household = (
            household_id, ward_id, group_id, f"Số {h}, ngõ {h % 50}, thôn 1",
            f"so {h} ngo {h % 50} thon 1", 20.95, 105.94, 20.95, 105.94, "Nguyễn Văn A",
            "0912345789", 1, 4, 3, 3, 0, 0, None, device, now, now, 0,
        )  # fmt: skip
        rows = []
        for k in range(VISITS_PER_HOUSEHOLD):
            i = h * VISITS_PER_HOUSEHOLD + k
            at = base + timedelta(seconds=37 * i % (6 * 86400))
            ms = int(at.timestamp() * 1000)
            rows.append(
                (
                    str(uuid.UUID(int=(2 << 124) + i)), household_id, ward_id, group_id,
                    user_id, device, at.strftime("%Y-%m-%d %H:%M:%S") + zone,
                    OUTCOMES[i % len(OUTCOMES)], 4, 3, 1, 2, 0, 0, 20.9501, 105.9402, 12.0,
                    NOTES[i % len(NOTES)], None, f"{ms}-0000-{device}", ms, 0, device, 1,
                    "pending", None, "[]" if i % 10 else '["too_fast"]', 0, None, now, now,
                    0, None, None, 1 if i % 10 == 0 else 0,
                )
            )  # fmt: skip
        yield household, rows


def fill_sqlite(database: Path, visits: int) -> None:
    """Bulk INSERTs of households and visits, straight into the migrated database."""
    con = sqlite3.connect(database, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")  # a fixture, not the thing measured
    wards = con.execute(
        "SELECT id, (SELECT g.id FROM units g WHERE g.parent_id = w.id) FROM units w "
        "WHERE level = 'ward' ORDER BY w.id"
    ).fetchall()
    user_id = con.execute("SELECT id FROM users WHERE username = 'cv.bench'").fetchone()[0]
    households_sql = f"INSERT INTO households ({HOUSEHOLD_FIELDS}) VALUES ({','.join('?' * 22)})"
    visits_sql = f"INSERT INTO visits ({VISIT_FIELDS}) VALUES ({','.join('?' * 35)})"
    con.execute("BEGIN")
    batch_h: list[tuple[Any, ...]] = []
    batch_v: list[tuple[Any, ...]] = []
    for household, rows in records(visits, wards, user_id, ""):
        batch_h.append(household)
        batch_v += rows
        if len(batch_v) >= 50_000:
            con.executemany(households_sql, batch_h)
            con.executemany(visits_sql, batch_v)
            batch_h.clear()
            batch_v.clear()
    con.executemany(households_sql, batch_h)
    con.executemany(visits_sql, batch_v)
    con.execute("COMMIT")
    con.close()


def _pg(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def fill_postgresql(url: str, visits: int) -> None:
    """COPY FROM of households and visits, then ANALYZE (as autovacuum would, later)."""
    with _pg(url) as con:
        wards = con.execute(
            "SELECT id, (SELECT g.id FROM units g WHERE g.parent_id = w.id) FROM units w "
            "WHERE level = 'ward' ORDER BY w.id"
        ).fetchall()
        user_id = con.execute("SELECT id FROM users WHERE username = 'cv.bench'").fetchone()[0]
        cursor = con.cursor()
        households = list(records(visits, wards, user_id, "+00"))
        with cursor.copy(f"COPY households ({HOUSEHOLD_FIELDS}) FROM STDIN") as copy:
            for household, _ in households:
                copy.write_row(household)
        with cursor.copy(f"COPY visits ({VISIT_FIELDS}) FROM STDIN") as copy:
            for _, rows in households:
                for row in rows:
                    copy.write_row(row)
        con.commit()
        con.autocommit = True
        con.execute("VACUUM ANALYZE households")
        con.execute("VACUUM ANALYZE visits")


def export_select(postgres: bool) -> str:
    """The server's own SELECT for this export (every ward: no condition), rendered cells
    and joins included: the second floor, which leaves out only the server itself."""
    spelling = Spelling(postgres=postgres, format="csv")
    cells = ", ".join(cell_sql(c, spelling) for c in columns("visits"))
    return f"SELECT {cells} FROM {FROM['visits']}"


def floor_sqlite(database: Path, select: str) -> tuple[int, float]:
    """(rows, seconds) of a bare SELECT written with csv.writer."""
    con = sqlite3.connect(database)
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\r\n")
    start = time.perf_counter()
    rows = 0
    cursor = con.execute(select)
    while batch := cursor.fetchmany(1000):
        writer.writerows(batch)
        rows += len(batch)
        if sink.tell() > 65536:
            sink.seek(0)
            sink.truncate()
    elapsed = time.perf_counter() - start
    con.close()
    return rows, elapsed


def floor_postgresql(url: str, select: str) -> tuple[int, float]:
    """(rows, seconds) of a bare COPY of a SELECT (in UTC, as the export's session)."""
    with _pg(url) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET DateStyle = 'ISO, YMD'")
        start = time.perf_counter()
        rows = 0
        statement = f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"
        with con.cursor().copy(statement) as copy:
            for _ in copy:
                rows += 1
        return rows, time.perf_counter() - start


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


def download(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/api/v1/exports/visits.csv?unit=gso-2020:326")  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    start = time.perf_counter()
    first_byte = None
    size = lines = 0
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 (loopback)
        while True:
            chunk = response.read(256 * 1024)
            if first_byte is None:
                first_byte = time.perf_counter() - start
            if not chunk:
                break
            size += len(chunk)
            lines += chunk.count(b"\n")  # a CRLF may straddle two reads
    # Line ends inside quoted cells would count too; the notes here hold none.
    return {
        "rows": lines - 1,
        "bytes": size,
        "seconds": time.perf_counter() - start,
        "first_byte": first_byte or 0.0,
    }


def run(visits: int, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = None
        extra: dict[str, str] = {}
        if backend == "postgresql":
            database, url = create_postgres_database("field_bench_exports")
            extra["FIELD_DATABASE_URL"] = url
        try:
            return _run(folder, field_env(folder / "instance", **extra), visits, backend)
        finally:
            if database is not None:
                drop_postgres_database(database)


def _run(folder: Path, env: dict[str, str], visits: int, backend: str) -> dict[str, Any]:
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
    url = env.get("FIELD_DATABASE_URL", "")
    sqlite_file = folder / "instance" / "field.db"
    start = time.perf_counter()
    if backend == "postgresql":
        fill_postgresql(url, visits)
    else:
        fill_sqlite(sqlite_file, visits)
    fill_seconds = time.perf_counter() - start
    print(f"{backend}: filled {visits:,} visits in {fill_seconds:.0f} s", file=sys.stderr)

    stored = f"SELECT {FLOOR_COLUMNS} FROM visits"
    rendered = export_select(bool(url))

    def floor(select: str) -> tuple[int, float]:
        return floor_postgresql(url, select) if url else floor_sqlite(sqlite_file, select)

    pool = ServerPool(folder)
    exports, floors, cells = [], [], []
    try:
        server = pool(env, "--workers", "1")
        master = server.process.pid
        login = post(
            f"{server.url}/api/v1/auth/login",
            {"username": "dt.bench", "password": "bench-password-1"},
        )
        idle_kib = worker_rss_kib(master)
        for _ in range(ROUNDS):  # alternating, so both see the same machine
            floors.append(floor(stored))
            exports.append(download(server.url, login["access_token"]))
            cells.append(floor(rendered))
            print(
                f"{backend}: export {exports[-1]['rows'] / exports[-1]['seconds']:,.0f} "
                f"rows/s, floor {floors[-1][0] / floors[-1][1]:,.0f} rows/s, "
                f"same SELECT bare {cells[-1][0] / cells[-1][1]:,.0f} rows/s",
                file=sys.stderr,
            )
        peak = peak_kib(master)
    finally:
        pool.stop_all()
    best = min(exports, key=lambda e: e["seconds"])
    floor_rows, floor_seconds = min(floors, key=lambda f: f[1])
    cells_rows, cells_seconds = min(cells, key=lambda f: f[1])
    assert best["rows"] == visits == floor_rows, (best["rows"], visits, floor_rows)
    return {
        "backend": backend,
        "visits": visits,
        "fill_seconds": fill_seconds,
        **best,
        "rate": best["rows"] / best["seconds"],
        "floor_rate": floor_rows / floor_seconds,
        "cells_rate": cells_rows / cells_seconds,
        "peak_mib": peak / 1024,
        "idle_mib": idle_kib / 1024,
    }


def verdicts(result: dict[str, Any]) -> tuple[float, bool, bool]:
    ratio = result["rate"] / result["floor_rate"]
    return ratio, ratio >= RATIO_BAR, result["peak_mib"] < MEMORY_BAR_MIB


FLOORS = {
    "sqlite": "bare `sqlite3` SELECT + `csv.writer`",
    "postgresql": "bare `COPY (SELECT …) TO STDOUT`",
}
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        START,
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; one server process "
        "(`field-server serve --workers 1`), HTTP on 127.0.0.1; a district of 20 wards, "
        f"{results[0]['visits']:,} visits inserted directly; "
        f"`GET /api/v1/exports/visits.csv?unit=gso-2020:326`. Best of {ROUNDS} rounds each, "
        "the export and its floors alternating in the same run. The floor is a bare reader "
        "of the stored columns the export is made of (ward, group and canvasser as ids, "
        "times and flags as stored); the second floor runs the server's own SELECT (joins "
        "and rendered cells) bare, so the gap to it is the server alone.",
        "",
        "| database | export | floor: stored columns | export / floor (bar 0.9x) "
        "| the server's SELECT, bare | export / it | worker's peak memory (bar 150 MB) "
        "| first byte |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        ratio, fast, small = verdicts(r)
        lines.append(
            f"| {NAMES[r['backend']]} | {r['rows']:,} rows, {r['bytes'] / 1e6:,.0f} MB in "
            f"{r['seconds']:.1f} s: {r['rate']:,.0f} rows/s | {FLOORS[r['backend']]}: "
            f"{r['floor_rate']:,.0f} rows/s | {ratio:.2f}x {'pass' if fast else 'FAIL'} | "
            f"{r['cells_rate']:,.0f} rows/s | {r['rate'] / r['cells_rate']:.2f}x | "
            f"{r['peak_mib']:,.0f} MB (idle after login {r['idle_mib']:,.0f} MB) "
            f"{'pass' if small else 'FAIL'} | {r['first_byte'] * 1000:,.0f} ms |"
        )
    lines.append(END)
    return "\n".join(lines)


def write(section: str) -> None:
    write_section("exports", "Exports", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    results = [run(args.visits, backend) for backend in args.backend or BACKENDS]
    section = report(results)
    print(section)
    for r in results:
        ratio, fast, small = verdicts(r)
        print(
            f"{NAMES[r['backend']]}: export/floor {ratio:.2f}x "
            f"{'PASS' if fast else 'FAIL'} (bar {RATIO_BAR}x; "
            f"{r['rate'] / r['cells_rate']:.2f}x of its own SELECT bare); "
            f"peak {r['peak_mib']:.0f} MB "
            f"{'PASS' if small else 'FAIL'} (bar {MEMORY_BAR_MIB} MB)"
        )
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
