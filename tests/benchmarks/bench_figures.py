"""/stats for a ward, a district, a province and the whole country, at a district's size and at
the country's, on SQLite and PostgreSQL (`make bench`).

The figures are counters, and every unit carries its adult population, so an answer reads
the unit, its siblings and its children and nothing below them: it must cost the same for
the country (about 63,000 units and 1,000,000 visits) as for one district with 1,000
visits. For each backend and each size: a fresh
database, the unit tree loaded with `field-server units import` (the operators' bulk path;
a synthetic tree of 63 provinces x 11 districts x 15 wards x 5 residential groups, or one
district of that shape), one server process (`serve --workers 1`) and visits pushed through
`POST /api/v1/sync/push` by one canvasser per province (batches of 500 mutations: 100
households with four visits each over 30 days, each batch in one ward, wards taken in turn
across the provinces) for ``--budget`` seconds; at the country's size, what they made is
then copied in SQL until there are ``--visits`` (``copy_visits``). Then, with both sizes'
servers up and timed in turn, request by
request (so that whatever else the machine does weighs on both alike), the median over
HTTP of `GET /api/v1/stats` for the first ward, its district, its province and the country
(`gso-2020:*`), of a review-queue page for that ward, and of the first province's
`units.csv`. The bars (DESIGN.md, issue 13): under
50 ms, no slower at the country's size than at the district's by more than 1.5x, and a
province's units.csv under 1 s, printed as pass or FAIL. Results go to docs/benchmarks.md
(the bench:figures section).

    python -m tests.benchmarks.bench_figures [--budget 120] [--visits 1000000]
        [--backend sqlite|postgresql ...] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import create_engine, inspect, text

from domain.stats import DAY_FIGURES, UNDATED_FIGURES
from tests.benchmarks.bench_sync import machine, post
from tests.benchmarks.doc import write_section
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.processes import ServerPool, field_env, run_cli

PROVINCES, DISTRICTS, WARDS, GROUPS = 63, 11, 15, 5
DAYS = 30
HOUSEHOLDS_PER_BATCH = 100
VISITS_PER_HOUSEHOLD = 4  # 100 x (1 + 4) = 500 mutations a batch
SMALL_VISITS = 1000
REQUESTS = 40
CSV_REQUESTS = 10  # a province's units.csv
QUEUE_PAGE = 25
TO = "2020-08-31"
START = datetime(2020, 8, 1, 1, 0, tzinfo=UTC)
OUTCOMES = ("installed", "partial", "already_installed", "refused", "not_home")
PASSWORD = "bench-password-1"
FIELD_SERVER = str(Path(sys.executable).with_name("field-server"))
BAR_MS, BAR_RATIO = 50.0, 1.5
CSV_BAR_MS = 1000.0
LEVELS = ("ward", "district", "province", "country")


@dataclass(frozen=True)
class Tree:
    """The synthetic tree: ``provinces`` x ``districts`` x WARDS x GROUPS, GSO-shaped codes
    (provinces 2 digits, districts 3, wards 5, groups ward-NN)."""

    provinces: int
    districts: int

    def district_code(self, p: int, d: int) -> str:
        return f"{p * DISTRICTS + d + 1:03d}"

    def ward_code(self, p: int, d: int, w: int) -> str:
        return f"{(p * DISTRICTS + d) * WARDS + w + 1:05d}"

    def csv(self) -> str:
        rows = ["scheme,code,name,level,parent_code,adult_population,target_rate"]
        for p in range(self.provinces):
            province = f"{p + 1:02d}"
            rows.append(f"gso-2020,{province},Tỉnh {province},province,,,")
            for d in range(self.districts):
                district = self.district_code(p, d)
                rows.append(f"gso-2020,{district},Huyện {district},district,{province},,")
                for w in range(WARDS):
                    ward = self.ward_code(p, d, w)
                    population = 3000 + (int(ward) * 37) % 9000
                    rows.append(f"gso-2020,{ward},Xã {ward},ward,{district},{population},0.6")
                    rows += [
                        f"gso-2020,{ward}-{g + 1:02d},Tổ {g + 1},group,{ward},,"
                        for g in range(GROUPS)
                    ]
        return "\n".join(rows) + "\n"

    def units(self) -> int:
        wards = self.provinces * self.districts * WARDS
        return self.provinces + self.provinces * self.districts + wards * (1 + GROUPS)

    def ward_order(self) -> list[tuple[int, str]]:
        """(province index, ward code): the provinces' wards taken in turn, so that every
        province gets visits early and the measured ward (the first) gets the first batch."""
        return [
            (p, self.ward_code(p, k // WARDS, k % WARDS))
            for k in range(self.districts * WARDS)
            for p in range(self.provinces)
        ]


def create_user(env: dict[str, str], name: str, role: str, *units: str) -> None:
    args = [FIELD_SERVER, "users", "create", name, "--role", role, "--password-stdin"]
    for unit in units:
        args += ["--unit", unit]
    subprocess.run(args, env=env, input=f"{PASSWORD}\n", text=True, check=True, capture_output=True)


def canvassers(database_url: str, tree: Tree) -> None:
    """One canvasser per province, assigned to every ward of it: `cv.p00` is made by
    `users create`; the others are copies of it written directly (63 more commands would
    take a minute), with the same password."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        template = conn.execute(text("SELECT id FROM users WHERE username = 'cv.p00'")).scalar()
        assignment = conn.execute(
            text("SELECT id FROM assignments WHERE user_id = :u"), {"u": template}
        ).scalar()
        for p in range(tree.provinces):
            if p:
                conn.execute(
                    text(
                        "INSERT INTO users (username, role, password_hash, active, "
                        "token_version, created_at, updated_at) SELECT :name, role, "
                        "password_hash, active, token_version, created_at, updated_at "
                        "FROM users WHERE id = :t"
                    ),
                    {"name": f"cv.p{p:02d}", "t": template},
                )
            user = conn.execute(
                text("SELECT id FROM users WHERE username = :n"), {"n": f"cv.p{p:02d}"}
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO assignments (user_id, unit_id, starts_at, version, change_seq) "
                    "SELECT :u, units.id, a.starts_at, 1, 0 FROM units, assignments AS a "
                    "WHERE a.id = :a AND units.level = 'ward' AND units.code >= :lo "
                    "AND units.code <= :hi AND units.id <> a.unit_id"
                ),
                {
                    "u": user,
                    "a": assignment,
                    "lo": tree.ward_code(p, 0, 0),
                    "hi": tree.ward_code(p, tree.districts - 1, WARDS - 1),
                },
            )
    engine.dispose()


class Tablet:
    """A canvasser's device: numbered mutations and increasing clocks."""

    def __init__(self, url: str, username: str) -> None:
        self.device = str(uuid.uuid4())
        self.url = url
        login = post(
            f"{url}/api/v1/auth/login",
            {
                "username": username,
                "password": PASSWORD,
                "device_id": self.device,
                "device_secret": f"bench-secret-of-{self.device}",
            },
        )
        self.token = login["access_token"]
        self.next_id = 1
        self.ms = 1_598_000_000_000

    def _mutation(self, kind: str, record: str, data: dict, **extra: int) -> dict:
        self.ms += 1
        mutation = {
            "mutation_id": self.next_id,
            "type": kind,
            "id": record,
            "hlc": f"{self.ms}-0000-{self.device}",
            "data": data,
            **extra,
        }
        self.next_id += 1
        return mutation

    def push_ward(self, ward: str, households: int, serial: int) -> int:
        """One batch of households, each with its visits, in one ward; the visits made."""
        batch = []
        for h in range(households):
            n = serial + h
            household = str(uuid.uuid4())
            data = {
                "ward": f"gso-2020:{ward}",
                "group": f"gso-2020:{ward}-{n % GROUPS + 1:02d}",
                "address": f"Số {n % 300 + 1}, ngõ {n % 97}, thôn {n % GROUPS + 1}",
                "lat": 21.0,
                "lon": 105.8,
                "head_name": "Nguyễn Văn A",
                "phone": None,
            }
            batch.append(self._mutation("household.upsert", household, data, base_version=0))
            for v in range(VISITS_PER_HOUSEHOLD):
                when = START + timedelta(
                    days=(n + v * 7) % DAYS, minutes=(n * 13 + v * 151) % (12 * 60)
                )
                installed = (n + v) % 3
                visit = {
                    "household_id": household,
                    "visited_at": when.isoformat(),
                    "outcome": OUTCOMES[(n + v) % len(OUTCOMES)],
                    "adults": 4,
                    "smartphones": 3,
                    "installed_before": installed % 2,
                    "installed_during": installed,
                    "priority_subjects": 0,
                    "priority_installed": 0,
                    "lat": 21.0,
                    "lon": 105.8,
                    "accuracy_m": 10,
                    "notes": "",
                }
                batch.append(self._mutation("visit.create", str(uuid.uuid4()), visit))
        answer = post(
            f"{self.url}/api/v1/sync/push",
            {"device_id": self.device, "mutations": batch},
            self.token,
        )
        assert all(r["status"] == "applied" for r in answer["results"]), answer["results"][:3]
        return households * VISITS_PER_HOUSEHOLD


def get(url: str, token: str) -> tuple[float, dict]:
    """(seconds to the answer's last byte, the answer decoded). The decoding is the client's
    work, not the server's, and is left out of the time: the standard library's decoder took
    0.85 ms of a country's 45 KB answer, a third of a one-province country's whole answer."""
    request = urllib.request.Request(url)  # noqa: S310 (loopback only)
    request.add_header("Authorization", f"Bearer {token}")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
        body = response.read()
    return time.perf_counter() - start, orjson.loads(body)


def push_visits(url: str, tree: Tree, wanted: int, budget: float) -> tuple[int, float]:
    """Push until ``wanted`` visits or ``budget`` seconds: (visits, seconds)."""
    tablets = [Tablet(url, f"cv.p{p:02d}") for p in range(tree.provinces)]
    order = tree.ward_order()
    made, batch, start = 0, 0, time.perf_counter()
    while made < wanted and time.perf_counter() - start < budget:
        province, ward = order[batch % len(order)]
        households = min(HOUSEHOLDS_PER_BATCH, (wanted - made) // VISITS_PER_HOUSEHOLD)
        made += tablets[province].push_ward(ward, max(households, 1), made)
        batch += 1
    return made, time.perf_counter() - start


def copy_visits(database_url: str, copies: int) -> None:
    """Add ``copies`` copies of every household and visit pushed, in the same wards and
    groups, with new ids (the copy's number in the id's first eight hex digits), and
    multiply every counter they add to by 1 + ``copies``: the figures are sums over
    households and visits, so each counter of every unit grows by exactly that factor.
    Pushing a million visits through the API would take longer than `make bench` may; the
    pushes above still run through the whole write path. Open conflicts are not copied and
    not multiplied (the bench makes none)."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        for table, ids in (
            ("households", ("id", "merged_into")),
            ("visits", ("id", "household_id")),
        ):
            names = [c["name"] for c in inspect(conn).get_columns(table)]
            picked = ", ".join(f"(:prefix || substr({n}, 9))" if n in ids else n for n in names)
            statement = text(
                f"INSERT INTO {table} ({', '.join(names)}) SELECT {picked} FROM {table} "
                "WHERE id NOT LIKE 'c0py%'"
            )
            for copy in range(1, copies + 1):
                conn.execute(statement, {"prefix": f"c0py{copy:04x}"})
        factor = {"factor": 1 + copies}
        counted = [n for n in (*UNDATED_FIGURES, *DAY_FIGURES) if n != "open_conflicts"]
        for table, names in (
            ("unit_day_figures", DAY_FIGURES),
            ("unit_figures", counted),
            ("figure_deltas", counted),
            ("country_day_figures", ("visits", "installed_during", "installed")),
        ):
            assignments = ", ".join(f"{n} = {n} * :factor" for n in names)
            conn.execute(text(f"UPDATE {table} SET {assignments}"), factor)
    engine.dispose()


def download(url: str, token: str) -> tuple[float, int]:
    """The seconds to read a whole CSV, and its rows (the header left out)."""
    request = urllib.request.Request(url)  # noqa: S310 (loopback only)
    request.add_header("Authorization", f"Bearer {token}")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
        body = response.read()
    return time.perf_counter() - start, body.count(b"\n") - 1


@dataclass
class Side:
    """One size's database and server, ready to be timed, and its timings."""

    info: dict
    token: str
    urls: dict[str, str]
    queue_url: str
    units_csv_url: str
    times: dict[str, list[float]] = field(default_factory=dict)
    csv_times: list[tuple[float, int]] = field(default_factory=list)

    def time_once(self) -> None:
        for level, url in self.urls.items():
            self.times.setdefault(level, []).append(get(url, self.token)[0])
        first, page = get(self.queue_url, self.token)
        cursor = urllib.parse.quote(page["cursor"] or "")
        second, _ = get(f"{self.queue_url}&cursor={cursor}", self.token)
        self.times.setdefault("queue", []).append((first + second) / 2)

    def result(self) -> dict:
        return {
            **self.info,
            "ms": {level: statistics.median(t) * 1000 for level, t in self.times.items()},
            "units_csv_ms": statistics.median(t for t, _ in self.csv_times) * 1000,
            "units_csv_rows": self.csv_times[0][1],
        }


@contextmanager
def prepared(backend: str, tree: Tree, wanted: int, budget: float) -> Iterator[Side]:
    """A fresh database of this tree with the visits pushed, and its server running."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database, extra = None, {}
        if backend == "postgresql":
            database, url = create_postgres_database("field_bench")
            extra["FIELD_DATABASE_URL"] = url
        else:
            url = f"sqlite:///{folder / 'instance' / 'field.db'}"
        pool = ServerPool(folder)
        try:
            yield _prepare(pool, folder, field_env(folder / "instance", **extra), url, tree,
                           wanted, budget)  # fmt: skip
        finally:
            pool.stop_all()
            if database is not None:
                drop_postgres_database(database)


def _prepare(
    pool: ServerPool,
    folder: Path,
    env: dict[str, str],
    url: str,
    tree: Tree,
    wanted: int,
    budget: float,
) -> Side:
    run_cli(env, "init-secrets")
    run_cli(env, "db", "upgrade")
    (folder / "units.csv").write_text(tree.csv())
    started = time.perf_counter()
    run_cli(env, "units", "import", str(folder / "units.csv"))
    import_seconds = time.perf_counter() - started
    first_ward = tree.ward_code(0, 0, 0)
    create_user(env, "admin.bench", "admin")
    create_user(env, "cv.p00", "canvasser", f"gso-2020:{first_ward}")
    canvassers(url, tree)
    refs = {
        "ward": f"gso-2020:{first_ward}",
        "district": f"gso-2020:{tree.district_code(0, 0)}",
        "province": "gso-2020:01",
        "country": "gso-2020:*",
    }
    server = pool(env, "--workers", "1")
    pushed, push_seconds = push_visits(server.url, tree, wanted, budget)
    copies = -(-wanted // pushed) - 1 if pushed else 0  # enough copies to reach ``wanted``
    started = time.perf_counter()
    copy_visits(url, copies)
    copy_seconds = time.perf_counter() - started
    visits = pushed * (1 + copies)
    token = post(
        f"{server.url}/api/v1/auth/login", {"username": "admin.bench", "password": PASSWORD}
    )["access_token"]
    urls = {
        level: f"{server.url}/api/v1/stats?unit={urllib.parse.quote(ref)}&to={TO}"
        for level, ref in refs.items()
    }
    bodies = {level: get(u, token)[1] for level, u in urls.items()}  # warm, and checked
    country = bodies["country"]["totals"]
    assert country["visits"] == visits, country
    assert country["households"] == visits // VISITS_PER_HOUSEHOLD, country
    info = {
        "units": tree.units(),
        "import_s": import_seconds,
        "visits": visits,
        "pushed": pushed,
        "push_s": push_seconds,
        "copies": copies,
        "copy_s": copy_seconds,
        "ward_visits": bodies["ward"]["totals"]["visits"],
        "provinces_visited": sum(1 for c in bodies["country"]["children"] if c["totals"]["visits"]),
    }
    return Side(
        info,
        token,
        urls,
        f"{server.url}/api/v1/visits?ward={refs['ward']}&limit={QUEUE_PAGE}",
        f"{server.url}/api/v1/exports/units.csv?unit={refs['province']}&to={TO}",
    )


def measure(backend: str, wanted: int, budget: float) -> tuple[dict, dict]:
    """(a) and (b) of one backend, both servers up at once and timed in turn, request by
    request, so that whatever else the machine does weighs on both alike."""
    with ExitStack() as stack:
        small = stack.enter_context(prepared(backend, Tree(1, 1), SMALL_VISITS, budget))
        large = stack.enter_context(prepared(backend, Tree(PROVINCES, DISTRICTS), wanted, budget))
        for _ in range(REQUESTS):
            small.time_once()
            large.time_once()
        for _ in range(CSV_REQUESTS):
            for side in (small, large):
                side.csv_times.append(download(side.units_csv_url, side.token))
        return small.result(), large.result()


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def report(results: dict[str, tuple[dict, dict]], budget: float, wanted: int) -> str:
    lines = [
        "<!-- bench:figures -->",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; one server process, HTTP on "
        f"127.0.0.1; median of {REQUESTS} requests each, `to={TO}`. (a): one district "
        f"({WARDS} wards x {GROUPS} groups) and {SMALL_VISITS:,} visits; (b): the whole "
        f"country ({PROVINCES} provinces x {DISTRICTS} districts x {WARDS} wards x {GROUPS} "
        f"groups) and {wanted:,} visits or more: those {budget:.0f} s of pushing through "
        f"`POST /api/v1/sync/push` made, over {DAYS} days, then copied in SQL (new ids, same "
        f"wards) as many times as it takes, every counter multiplied to match.",
    ]
    for backend, (small, large) in results.items():
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        lines += [
            "",
            f"**{name}**: (a) {small['units']:,} units, {small['visits']:,} visits; "
            f"(b) {large['units']:,} units (`units import`: {large['import_s']:.1f} s), "
            f"{large['visits']:,} visits ({large['pushed']:,} pushed in "
            f"{large['push_s']:.0f} s, {large['pushed'] / large['push_s']:,.0f} visits/s, "
            f"{large['provinces_visited']} provinces visited; {large['copies']} copies of "
            f"them written in {large['copy_s']:.0f} s); the measured ward holds "
            f"{small['ward_visits']:,} and {large['ward_visits']:,} visits.",
            "",
            "| GET | (a) district | (b) country | b/a | under 50 ms | b/a at most 1.5x |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for level in [*LEVELS, "queue"]:
            a, b = small["ms"][level], large["ms"][level]
            what = (
                f"/api/v1/stats, the {level}"
                if level != "queue"
                else f"/api/v1/visits (review queue), a page of {QUEUE_PAGE}"
            )
            lines.append(
                f"| {what} | {a:.1f} ms | {b:.1f} ms | {b / a:.2f}x | "
                f"{verdict(b < BAR_MS and a < BAR_MS)} | {verdict(b / a <= BAR_RATIO)} |"
            )
        a, b = small["units_csv_ms"], large["units_csv_ms"]
        lines.append(
            f"| /api/v1/exports/units.csv, the province ({small['units_csv_rows']} and "
            f"{large['units_csv_rows']} wards), median of {CSV_REQUESTS} | {a:.1f} ms | "
            f"{b:.1f} ms | {b / a:.2f}x | under 1 s: {verdict(b < CSV_BAR_MS)} | |"
        )
    lines.append("<!-- /bench:figures -->")
    return "\n".join(lines)


def write(section: str) -> None:
    write_section("figures", "Figures and the review queue", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds of pushing (b)")
    parser.add_argument(
        "--visits", type=int, default=1_000_000, help="for (b): pushed, then copied up to this"
    )
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    results = {}
    for backend in args.backend or ["sqlite", "postgresql"]:
        small, large = measure(backend, args.visits, args.budget)
        results[backend] = (small, large)
        print(f"{backend}: {small} {large}", file=sys.stderr)
    section = report(results, args.budget, args.visits)
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
