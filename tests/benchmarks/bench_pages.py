"""The supervisors' pages at 40,000 and at 1,000,000 visits (`make bench`).

Issue 11's bar: a ward dashboard and a review queue page render in under 100 ms of server
time at 1,000,000 visits, and a page weighs under 100 KB without images. Each size gets its
own SQLite database, filled as bench_figures fills it (its ``fill``: households of four
visits over 20 wards and 30 days, every tenth visit flagged ``too_fast``), with the visits
then shared out among the ward's canvassers, each of whom has a tablet; `field-server stats
rebuild` builds the counters. A supervisor signs in through the web login form (CSRF token
and session cookie), and the app answers in-process (Flask's test client, so the time is the
server's: routing, session, queries, template, no network). Measured, median and max of
REQUESTS runs after one warm-up: the ward dashboard (GET /units/{ward}), the review queue's
first page, a later page (the cursor after PAGES_DEEP pages), and the queue filtered by one
canvasser and by one canvasser and flag (the links of the dashboard's canvassers' table);
and the bytes of each page (no image is ever part of one). Results go to docs/benchmarks.md
(the bench:pages section).

    python -m tests.benchmarks.bench_pages [--large 1000000] [--small 40000] [--write]
"""

from __future__ import annotations

import argparse
import gzip
import html
import os
import re
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.benchmarks.bench_figures import create_user
from tests.benchmarks.bench_sync import machine
from tests.benchmarks.doc import write_section
from tests.e2e.processes import field_env, run_cli

# The district that `fill` loads (bench_figures measures a whole country since 92b8976).
WARDS = 20
DAYS = 30
OUTCOMES = ("installed", "partial", "already_installed", "refused", "not_home")


def units_csv() -> str:
    rows = [
        "scheme,code,name,level,parent_code,adult_population,target_rate",
        "gso-2020,33,Tỉnh Hưng Yên,province,,,",
        "gso-2020,326,Huyện Văn Giang,district,33,,",
    ]
    rows += [f"gso-2020,{20000 + w},Xã {w},ward,326,{9000 + w * 10},0.6" for w in range(WARDS)]
    return "\n".join(rows) + "\n"


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


WARD = "gso-2020:20000"
CANVASSERS = 12  # the ward's canvassers, who share its visits
REQUESTS = 30
PAGES_DEEP = 20  # the "later page": the one after this many pages of the queue
PASSWORD = "bench-password-1"
BAR_MS = 100.0
BAR_BYTES = 100 * 1024
CURSOR = re.compile(r'href="([^"]*[?&]amp;cursor=[^"]*|[^"]*[?&]cursor=[^"]*)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def canvasser_names() -> list[str]:
    return [f"cv.bench.{n:02d}" for n in range(CANVASSERS)]


def share_out(db_path: Path) -> None:
    """Give the visits to the ward's canvassers in turn (``fill`` gives them all to one) and
    each canvasser a tablet that synced at a different time."""
    db = sqlite3.connect(db_path, isolation_level=None)
    ids = [
        row[0]
        for row in db.execute(
            "SELECT id FROM users WHERE username LIKE 'cv.bench.%' ORDER BY username"
        )
    ]
    db.execute("CREATE TEMP TABLE share (slot INTEGER PRIMARY KEY, user_id INTEGER)")
    db.executemany("INSERT INTO share VALUES (?, ?)", list(enumerate(ids)))
    db.execute("BEGIN")
    db.execute(
        "UPDATE visits SET canvasser_id = "
        "(SELECT user_id FROM share WHERE slot = visits.rowid % ?)",
        (len(ids),),
    )
    db.executemany(
        "INSERT INTO devices (device_id, user_id, name, last_mutation_id, created_at, "
        "last_seen_at) VALUES (?, ?, ?, 0, ?, ?)",
        [
            (
                f"00000000-0000-4000-8000-{user:012d}",
                user,
                f"Tablet {i}",
                "2020-08-01 00:00:00.000000",
                f"2020-08-31 {8 + i % 12:02d}:00:00.000000",
            )
            for i, user in enumerate(ids)
        ],
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def build(folder: Path, visits: int) -> dict[str, str]:
    """A filled instance in ``folder``; returns its environment."""
    env = field_env(folder / "instance")
    run_cli(env, "init-secrets")
    run_cli(env, "db", "upgrade")
    (folder / "units.csv").write_text(units_csv())
    run_cli(env, "units", "import", str(folder / "units.csv"))
    create_user(env, "cv.bench", "canvasser", WARD)  # fill's canvasser
    for name in canvasser_names():
        create_user(env, name, "canvasser", WARD)
    create_user(env, "sv.bench", "supervisor", WARD)
    fill(folder / "instance" / "field.db", visits)
    share_out(folder / "instance" / "field.db")
    run_cli(env, "stats", "rebuild")
    return env


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """The instance's FIELD_* settings for an app built in this process."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def login(client: Any) -> None:
    """Sign the supervisor in through the web form, as a browser would."""
    form = client.get("/login").get_data(as_text=True)
    token = CSRF.search(form)
    assert token is not None, "no CSRF token on the login form"
    answer = client.post(
        "/login",
        data={
            "username": "sv.bench",
            "password": PASSWORD,
            "csrf_token": token.group(1),
        },
    )
    assert answer.status_code == 302, answer.status_code


def next_page(body: str) -> str | None:
    found = CURSOR.search(body)
    return html.unescape(found.group(1)) if found else None


def timed(client: Any, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    answer = client.get(url)
    seconds = time.perf_counter() - started
    assert answer.status_code == 200, (url, answer.status_code)
    return seconds, answer.data


def pages(client: Any) -> dict[str, str]:
    """The pages measured, by name: their URLs (the later page found by paging)."""
    queue = f"/review?ward={WARD}"
    url: str | None = queue
    for _ in range(PAGES_DEEP):
        assert url is not None, "the queue ended early"
        url = next_page(client.get(url).get_data(as_text=True))
    assert url is not None
    someone = canvasser_names()[1]
    return {
        "dashboard": f"/units/{WARD}",
        "queue": queue,
        "queue_later": url,
        "queue_canvasser": f"{queue}&canvasser={quote(someone)}",
        "queue_canvasser_flag": f"{queue}&canvasser={quote(someone)}&flag=too_fast",
    }


def measure(visits: int) -> dict[str, Any]:
    from field_server import create_app

    with tempfile.TemporaryDirectory() as tmp:
        env = build(Path(tmp), visits)
        with environment(env):
            app = create_app()
        client = app.test_client()
        login(client)
        urls = pages(client)
        results: dict[str, Any] = {"visits": visits}
        for name, url in urls.items():
            _, body = timed(client, url)  # warm-up
            times = [timed(client, url)[0] for _ in range(REQUESTS)]
            results[name] = {
                "median_ms": statistics.median(times) * 1000,
                "max_ms": max(times) * 1000,
                "bytes": len(body),
                "gzip_bytes": len(gzip.compress(body)),
            }
        with app.app_context():
            from field_server.extensions import db

            ward_visits = db.session.execute(
                db.text(
                    "SELECT count(*) FROM visits JOIN units ON units.id = visits.ward_id "
                    "WHERE units.scheme || ':' || units.code = :ward"
                ),
                {"ward": WARD},
            ).scalar_one()
            db.session.remove()
            db.engine.dispose()
        results["ward_visits"] = ward_visits
    return results


NAMES = {
    "dashboard": "ward dashboard, GET /units/{ward}",
    "queue": "review queue, first page (GET /review?ward=…)",
    "queue_later": f"review queue, page {PAGES_DEEP + 1} (cursor)",
    "queue_canvasser": "review queue of one canvasser (&canvasser=…)",
    "queue_canvasser_flag": "review queue of one canvasser and flag (&flag=too_fast)",
}


def report(small: dict[str, Any], large: dict[str, Any]) -> str:
    def verdict(result: dict[str, Any]) -> str:
        fast = "yes" if result["median_ms"] < BAR_MS else "**no**"
        light = "yes" if result["bytes"] < BAR_BYTES else "**no**"
        return f"{fast} / {light}"

    lines = [
        "<!-- bench:pages -->",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; SQLite; server time in-process "
        "(Flask's test client after a web login: routing, session, queries and template, no "
        f"network); median and max of {REQUESTS} requests after one warm-up; {WARDS} wards, the "
        f"measured ward's visits shared among {CANVASSERS} canvassers. Bar: under "
        f"{BAR_MS:.0f} ms and under {BAR_BYTES // 1024} KB at 1,000,000 visits.",
        "",
        f"| page | {small['visits']:,} visits: median / max | {large['visits']:,} visits: "
        "median / max | ratio of medians | bytes (gzip) | under the bars (time / size) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, name in NAMES.items():
        s, g = small[key], large[key]
        lines.append(
            f"| {name} | {s['median_ms']:.1f} / {s['max_ms']:.1f} ms | {g['median_ms']:.1f} / "
            f"{g['max_ms']:.1f} ms | {g['median_ms'] / s['median_ms']:.2f}x | "
            f"{g['bytes'] / 1024:.1f} KB ({g['gzip_bytes'] / 1024:.1f} KB) | {verdict(g)} |"
        )
    lines += [
        f"| visits in that ward | {small['ward_visits']:,} | {large['ward_visits']:,} | | | |",
        "<!-- /bench:pages -->",
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    write_section("pages", "Supervisors' pages", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=40_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = report(measure(args.small), measure(args.large))
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
