"""The restore drill (docs/operations.md "Backup and restore").

SQLite: a real server takes pushes from three tablets, each in its own thread, without a
pause, while `field-server backup FILE` copies the database. The copy must be one consistent
moment (every device's ledger complete up to its last_mutation_id, no batch half in it),
mode 0600, `integrity_check` ok, and not replaced without `--force`. Restored into a new
instance (the file copied into place), `db upgrade` changes nothing, `stats verify` is
clean, the server starts, and a tablet that synced before the backup logs in, learns from
`device.last_mutation_id` where the copy stands, replays its outbox from the next mutation
(the pushes the copy lost are accepted as new) and goes on syncing: in the end the server
holds every visit the tablet ever recorded, once.

PostgreSQL: `field-server backup` refuses with the pg_dump command to run; that command and
the documented pg_restore steps give a database that `stats verify` finds clean.

The served process's own output (access log on stdout, log on stderr) is also searched for
the seeded names and phone numbers pushed during the drill (tests/api/test_personal_data_logs.py
does the same in-process).
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.test_personal_data_logs import leaks
from tests.conftest import (
    TEST_JWT_KEY,
    TEST_SECRET,
    base_config,
    create_postgres_database,
    drop_postgres_database,
)
from tests.e2e.processes import (
    COMMAND_TIMEOUT,
    FIELD_SERVER,
    Server,
    field_env,
    http,
    run_cli,
)

pytestmark = pytest.mark.e2e

KEYS = {"FIELD_SECRET_KEY": TEST_SECRET, "FIELD_JWT_KEY": TEST_JWT_KEY}
UNITS = """scheme,code,name,level,parent_code,adult_population,target_rate
gso-2020,33,Tỉnh Hưng Yên,province,,,
gso-2020,326,Huyện Văn Giang,district,33,,
gso-2020,12019,Thị trấn Văn Giang,ward,326,9000,0.6
gso-2020,12022,Xã Xuân Quan,ward,326,7000,0.6
"""
PASSWORD = "restore-drill-password-1"
TABLETS = (("cv.a", "gso-2020:12019"), ("cv.b", "gso-2020:12019"), ("cv.c", "gso-2020:12022"))
HOUSEHOLDS_PER_BATCH = 5  # each with one visit: batches of 10 mutations
BATCH = 2 * HOUSEHOLDS_PER_BATCH
BEFORE_BACKUP = 3  # batches each tablet has pushed when the backup starts
AFTER_BACKUP = 3  # batches each pushes after it ends (the copy lacks them)
DEADLINE = 120.0  # seconds for any of the waits below
NAME = "Nguyễn Thị Seeded"
PHONE = "0912 345 678"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``field-server ARGS`` whatever its exit code."""
    return subprocess.run(
        [FIELD_SERVER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def create_users(instance: Path, url: str) -> None:
    """The tablets' canvassers and a supervisor, in-process (quicker than one command each)."""
    from field_server import create_app
    from field_server.auth.passwords import hash_password
    from field_server.extensions import db
    from field_server.store.people import create_user
    from field_server.store.units import units_by_refs

    app = create_app(base_config(instance, url))
    with app.app_context():
        wards = units_by_refs(["gso-2020:12019", "gso-2020:12022"])
        people = [(name, "canvasser", [wards[ward]]) for name, ward in TABLETS]
        people.append(("sv.drill", "supervisor", list(wards.values())))
        for username, role, units in people:
            create_user(
                username=username,
                role=role,
                password_hash=hash_password(PASSWORD),
                full_name=None,
                units=units,
                now=datetime.now(UTC),
            )
        db.session.commit()
        db.engine.dispose()


@dataclass
class DrillTablet:
    """A tablet that keeps every mutation it ever made (its outbox) and the last one the
    server acknowledged."""

    username: str
    ward: str
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    secret: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    acked: int = 0
    batches: int = 0
    ms: int = 1_597_458_600_000
    token: str = ""

    def login(self, base: str) -> dict[str, Any]:
        body = {
            "username": self.username,
            "password": PASSWORD,
            "device_id": self.device_id,
            "device_secret": self.secret,
        }
        status, _, answer = http("POST", f"{base}/api/v1/auth/login", body)
        assert status == 200, answer
        self.token = answer["access_token"]
        return answer

    def mutation(self, kind: str, record_id: str, data: dict[str, Any], **extra: Any) -> dict:
        self.ms += 5 * 60_000
        m = {
            "mutation_id": len(self.outbox) + 1,
            "type": kind,
            "id": record_id,
            "hlc": f"{self.ms}-0000-{self.device_id}",
            "data": data,
            **extra,
        }
        self.outbox.append(m)
        return m

    def new_batch(self) -> list[dict[str, Any]]:
        batch = []
        for _ in range(HOUSEHOLDS_PER_BATCH):
            household_id = str(uuid.uuid4())
            number = len(self.outbox) + 1
            data = {
                "ward": self.ward,
                "address": f"Số {number}, ngõ {self.username}",
                "head_name": f"{NAME} {number}",
                "phone": PHONE,
            }
            batch.append(self.mutation("household.upsert", household_id, data, base_version=0))
            visited_at = datetime.fromtimestamp(self.ms / 1000 + 60, UTC).isoformat()
            counts = {
                "adults": 3,
                "smartphones": 2,
                "installed_before": 1,
                "installed_during": 1,
                "priority_subjects": 0,
                "priority_installed": 0,
            }
            visit = {"household_id": household_id, "visited_at": visited_at, **counts}
            visit |= {"outcome": "installed", "notes": f"gọi {PHONE}"}
            batch.append(self.mutation("visit.create", str(uuid.uuid4()), visit))
        return batch

    def push(self, base: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"device_id": self.device_id, "mutations": batch}
        status, _, answer = http("POST", f"{base}/api/v1/sync/push", body, self.token)
        assert status == 200, answer
        self.acked = answer["last_mutation_id"]
        return answer["results"]

    def visit_ids(self, up_to: int | None = None) -> set[str]:
        return {
            m["id"]
            for m in self.outbox
            if m["type"] == "visit.create" and (up_to is None or m["mutation_id"] <= up_to)
        }


def keep_pushing(base: str, tablet: DrillTablet, stop: threading.Event, errors: list) -> None:
    try:
        tablet.login(base)
        while not stop.is_set():
            results = tablet.push(base, tablet.new_batch())
            assert {r["status"] for r in results} == {"applied"}, results
            tablet.batches += 1
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(f"{tablet.username}: {exc!r}")


def wait_for(condition: Any, what: str, errors: list) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert not errors, errors
        assert time.monotonic() < deadline, f"no {what} after {DEADLINE}s"
        time.sleep(0.05)  # poll interval, bounded by the deadline


def ledger(copy: Path) -> dict[str, tuple[int, list[int], int]]:
    """Per device in a database file: (last_mutation_id, ledger's mutation ids, visits)."""
    with sqlite3.connect(copy) as conn:
        found = {}
        for device_id, last in conn.execute("SELECT device_id, last_mutation_id FROM devices"):
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT mutation_id FROM device_mutations WHERE device_id = ? "
                    "ORDER BY mutation_id",
                    (device_id,),
                )
            ]
            (visits,) = conn.execute(
                "SELECT count(*) FROM visits WHERE device_id = ?", (device_id,)
            ).fetchone()
            found[device_id] = (last, ids, visits)
    return found


def alembic_version(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


@pytest.fixture
def drill_instance(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    instance = tmp_path / "live"
    env = field_env(instance, **KEYS)
    run_cli(env, "db", "upgrade")
    (tmp_path / "units.csv").write_text(UNITS)
    run_cli(env, "units", "import", str(tmp_path / "units.csv"))
    create_users(instance, f"sqlite:///{instance / 'field.db'}")
    return instance, env


def test_restore_drill_backup_while_tablets_push(tmp_path, servers, drill_instance):
    _, env = drill_instance
    live = servers(env)
    tablets = [DrillTablet(username, ward) for username, ward in TABLETS]
    stop, errors = threading.Event(), []
    threads = [
        threading.Thread(target=keep_pushing, args=(live.url, t, stop, errors), daemon=True)
        for t in tablets
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(t.batches >= BEFORE_BACKUP for t in tablets), "pushes", errors)
        before = {t.device_id: t.acked for t in tablets}
        copy = tmp_path / "backups" / "field-copy.db"
        copy.parent.mkdir()
        made = cli(env, "backup", str(copy))
        assert made.returncode == 0, made.stderr
        after = {t.device_id: t.acked for t in tablets}
        pushed = {t.device_id: t.batches for t in tablets}
        wait_for(
            lambda: all(t.batches >= pushed[t.device_id] + AFTER_BACKUP for t in tablets),
            "pushes after the backup",
            errors,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    assert errors == []
    assert "Copied" in made.stdout

    # The copy: private, sound, one consistent moment.
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary left
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copied = ledger(copy)
    for t in tablets:
        last, ids, visits = copied[t.device_id]
        assert before[t.device_id] <= last <= after[t.device_id]
        assert ids == list(range(1, last + 1))  # the ledger is whole up to last_mutation_id
        assert last % BATCH == 0 and visits == last // 2  # no batch half in the copy
        assert last < t.acked  # and it lacks what came after

    # Never replaced without --force; replaced with it.
    size = copy.stat().st_size
    refused = cli(env, "backup", str(copy))
    assert refused.returncode == 1
    assert "exists" in refused.stderr and "--force" in refused.stderr
    assert copy.stat().st_size == size and ledger(copy) == copied
    forced = cli(env, "backup", "--force", str(copy.with_name("second.db")))
    assert forced.returncode == 0, forced.stderr

    # Restore into a new instance: the file copied into place.
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copyfile(copy, restored / "field.db")
    restored_env = field_env(restored, **KEYS)
    version = alembic_version(restored / "field.db")
    run_cli(restored_env, "db", "upgrade")
    assert alembic_version(restored / "field.db") == version
    verify = cli(restored_env, "stats", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    server = servers(restored_env)

    # The first tablet logs in again with its own device: the copy's numbering comes back,
    # and it replays what the copy lacks, then goes on.
    tablet = tablets[0]
    answer = tablet.login(server.url)
    restart = answer["device"]["last_mutation_id"]
    assert restart == copied[tablet.device_id][0]
    lost = tablet.outbox[restart:]
    assert lost, "the copy should lack some of the tablet's pushes"
    for start in range(0, len(lost), BATCH):
        results = tablet.push(server.url, lost[start : start + BATCH])
        assert {r["status"] for r in results} == {"applied"}, results
    results = tablet.push(server.url, tablet.new_batch())
    assert {r["status"] for r in results} == {"applied"}
    assert ledger(restored / "field.db")[tablet.device_id] == (
        len(tablet.outbox),
        list(range(1, len(tablet.outbox) + 1)),
        len(tablet.visit_ids()),
    )
    verify = cli(restored_env, "stats", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Traceback" not in live.output() + server.output()


def test_served_process_logs_no_personal_data(servers, drill_instance):
    """Everything a served process writes, access log included, after pushes, reads and
    searches holding the seeded name and phone."""
    _, env = drill_instance
    server: Server = servers(env)
    tablet = DrillTablet(*TABLETS[0])
    tablet.login(server.url)
    tablet.push(server.url, tablet.new_batch())
    status, _, body = http(
        "POST",
        f"{server.url}/api/v1/auth/login",
        {"username": "sv.drill", "password": PASSWORD},
    )
    assert status == 200
    token = body["access_token"]
    found = []
    for query in (quote(NAME), quote(PHONE), "Seeded"):
        status, _, page = http(
            "GET", f"{server.url}/api/v1/households?ward=gso-2020:12019&q={query}", None, token
        )
        assert status == 200, page
        found += page["items"]
    assert found  # the search by name found the households
    wrong = dict.fromkeys(("username", "password"), NAME)
    assert http("POST", f"{server.url}/api/v1/auth/login", wrong)[0] == 401
    assert leaks(server.output()) == [], server.output()


@pytest.fixture
def postgres_url() -> Any:
    name, url = create_postgres_database("field_backup")
    try:
        yield url
    finally:
        drop_postgres_database(name)


def test_postgresql_backup_points_to_pg_dump_whose_copy_restores(tmp_path, postgres_url):
    env = field_env(tmp_path / "instance", FIELD_DATABASE_URL=postgres_url, **KEYS)
    run_cli(env, "db", "upgrade")
    (tmp_path / "units.csv").write_text(UNITS)
    run_cli(env, "units", "import", str(tmp_path / "units.csv"))
    target = tmp_path / "field.dump"

    refused = cli(env, "backup", str(target))
    assert refused.returncode == 1
    assert not target.exists()
    line = refused.stderr.strip()
    assert line.startswith("Error: ") and "pg_dump" in line
    command = line.split(": ", 2)[-1]
    assert command.startswith("pg_dump --format=custom")

    # The command as printed, then the documented restore into a new, empty database.
    subprocess.run(command, shell=True, check=True, timeout=COMMAND_TIMEOUT)  # noqa: S602
    name, restored_url = create_postgres_database("field_restored")
    try:
        dsn = restored_url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={dsn}", str(target)],
            check=True,
            timeout=COMMAND_TIMEOUT,
        )
        restored_env = {**env, "FIELD_DATABASE_URL": restored_url}
        run_cli(restored_env, "db", "upgrade")
        verify = cli(restored_env, "stats", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        listed = cli(restored_env, "units", "list")
        assert listed.returncode == 0 and "Xã Xuân Quan" in listed.stdout
    finally:
        drop_postgres_database(name)
