"""Shared fixtures: every database test runs once on SQLite and once on PostgreSQL.

Each backend gets one fresh database per test session, built by running the Alembic
migrations (so the migrations themselves are exercised), and emptied before every test.
PostgreSQL databases are created under a unique name and dropped at the end; the server's
other databases are never touched. `--backend sqlite` (or postgresql) narrows a local run;
CI runs both, and a PostgreSQL that does not answer is an error, never a skip.

Set-up is paid once where it can be, so the suite gets faster as it grows: the `app`
fixture is one app per backend for the whole session (its settings and instance folder put
back for every test; a test that needs other settings builds its own with `make_app`);
emptying deletes only from the tables that hold rows, found in one query, over a
connection kept for the session; and the world is built through the store once per
session, its password hashes included (a fresh salt per test would prove nothing), then
written again from its rows in one transaction. No test sees another's rows: every table
is empty when it starts, and on PostgreSQL every sequence a test used starts again at 1, as
TRUNCATE ... RESTART IDENTITY did.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ADMIN_URL = os.environ.get(
    "FIELD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret-key-0123456789abcdefghijklmnop"
TEST_JWT_KEY = "test-jwt-key-0123456789abcdefghijklmnopqrs-0123456789abcdefghijklmnop"

settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="database backend(s) to run against (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend") or list(BACKENDS)
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:  # e.g. PostgreSQL's locks: SQLite serialises writers by design
            chosen = [name for name in chosen if name in only.args]
        metafunc.parametrize("backend", chosen, scope="session", indirect=True)


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def base_config(instance: Path, database_url: str, **extra: Any) -> dict[str, Any]:
    """The settings every test app uses: cheap argon2, fixed keys, its own instance folder."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "JWT_KEY": TEST_JWT_KEY,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 8,
        "ARGON2_PARALLELISM": 1,
        **extra,
    }


def create_postgres_database(prefix: str = "field_test", options: str = "") -> tuple[str, str]:
    """A new, empty PostgreSQL database (``options``: more of CREATE DATABASE, such as a
    locale); returns (name, SQLAlchemy URL)."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" {options}')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def empty_database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A brand-new empty database of the backend, dropped at the end of the session."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'field.db'}"
        return
    name, url = create_postgres_database()
    try:
        yield url
    finally:
        engine = _EMPTYING_ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()
        drop_postgres_database(name)


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend for one test (migration tests), dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name, url = create_postgres_database("field_fresh")
    try:
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def database_url(empty_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's database, migrated to the newest revision once."""
    from flask_migrate import upgrade

    from field_server import create_app

    app = create_app(base_config(tmp_path_factory.mktemp("migrate"), empty_database_url))
    with app.app_context():
        upgrade()
        from field_server.extensions import db

        db.engine.dispose()
    return empty_database_url


# One engine per PostgreSQL test database for emptying it and writing the world, whichever
# app asks: connecting costs more than the deletes, and so does waiting for each commit to
# reach the disk (a test database need not survive a crash). SQLite's own connection is
# cheap: there the app's engine does it.
_EMPTYING_ENGINES: dict[str, Any] = {}


def _emptying_engine(app_engine: Any) -> Any:
    if app_engine.dialect.name != "postgresql":
        return app_engine
    url = app_engine.url.render_as_string(hide_password=False)
    if url not in _EMPTYING_ENGINES:
        from sqlalchemy import create_engine

        _EMPTYING_ENGINES[url] = create_engine(
            url,
            pool_size=1,
            max_overflow=0,
            connect_args={"options": "-c synchronous_commit=off"},
        )
    return _EMPTYING_ENGINES[url]


def _filled_tables(conn: Any) -> tuple[set[str], list[tuple[str, int]]]:
    """In one query: the tables that hold at least one row, and (PostgreSQL) each sequence
    that handed out a value since it last (re)started, with that value."""
    from field_server.extensions import db

    probe = " UNION ALL ".join(
        f"SELECT '{t.name}', CAST(NULL AS BIGINT) WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
        for t in db.metadata.sorted_tables
    )
    if conn.dialect.name == "postgresql":
        probe += (
            " UNION ALL SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
            "last_value FROM pg_sequences WHERE last_value IS NOT NULL"
        )
    tables, sequences = set(), []
    for name, value in conn.exec_driver_sql(probe):
        if value is None:
            tables.add(name)
        else:
            sequences.append((name, value))
    return tables, sequences


def empty_all_tables() -> None:
    """Empty every table of the current app's database, as if it were new.

    One query finds the tables that hold rows (and, on PostgreSQL, the sequences that were
    used); only those are emptied, children before parents, and the sequences restarted.
    DELETE, not TRUNCATE: on tables of a few rows TRUNCATE's new files cost a hundred times
    more than the rows.
    """
    from field_server.extensions import db

    with _emptying_engine(db.engine).begin() as conn:
        tables, sequences = _filled_tables(conn)
        statements = [
            f'DELETE FROM "{table.name}"'
            for table in reversed(db.metadata.sorted_tables)
            if table.name in tables
        ]
        if conn.dialect.name == "postgresql":
            # One round trip: PostgreSQL takes several statements in one query string.
            statements += [f"ALTER SEQUENCE {name} RESTART" for name, _ in sequences]
            if statements:
                conn.exec_driver_sql("; ".join(statements))
        else:
            for statement in statements:
                conn.exec_driver_sql(statement)


def dispose_app(app: Any) -> None:
    """Close an app's pooled connections (a test database is dropped at the end)."""
    from field_server.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Build apps on the session database with extra settings; all are disposed after."""
    from field_server import create_app

    apps = []

    def make(**extra: Any) -> Any:
        app = create_app(base_config(tmp_path / "instance", database_url, **extra))
        apps.append(app)
        return app

    yield make
    for app in apps:
        dispose_app(app)


@pytest.fixture(scope="session")
def session_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The default app of a backend, built once; `app` hands it to each test afresh."""
    from field_server import create_app

    app = create_app(base_config(tmp_path_factory.mktemp("instance"), database_url))
    yield app
    dispose_app(app)


@pytest.fixture
def app(session_app: Any, tmp_path: Path) -> Iterator[Any]:
    """The backend's app on an empty database, with the default test settings and this
    test's own instance folder (what make_app() would build, without building it)."""
    from field_server.extensions import db

    app = session_app
    saved_config, saved_instance = dict(app.config), app.instance_path
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    app.instance_path = app.config["INSTANCE_PATH"] = str(instance)
    with app.app_context():
        empty_all_tables()
    try:
        yield app
    finally:
        app.config.clear()
        app.config.update(saved_config)
        app.instance_path = saved_instance
        with app.app_context():
            db.session.remove()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@dataclass
class World:
    """A small real-looking tree: Hưng Yên > Văn Giang > two wards > groups, plus users."""

    app: Any
    passwords: dict[str, str]

    def login(self, client: Any, username: str, **extra: Any) -> dict[str, Any]:
        body = {"username": username, "password": self.passwords[username], **extra}
        if "device_id" not in body and username.startswith("cv."):
            body["device_id"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, username))
        if body.get("device_id") and "device_secret" not in body:
            # Each tablet knows its own secret (API v1.1): one per device id, whoever logs in.
            body["device_secret"] = device_secret_for(body["device_id"])
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def headers(self, client: Any, username: str, **extra: Any) -> dict[str, str]:
        token = self.login(client, username, **extra)["access_token"]
        return {"Authorization": f"Bearer {token}"}


def device_secret_for(device_id: str) -> str:
    """The secret a test tablet made beside its device id: the same for every login on it."""
    return f"secret-of-{device_id}"


# (password, argon2 settings) -> hash: the world's users get the same passwords every test.
_WORLD_HASHES: dict[tuple[str, int, int, int], str] = {}


def _argon2_settings(app: Any) -> tuple[int, int, int]:
    return (
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_KIB"],
        app.config["ARGON2_PARALLELISM"],
    )


def world_hash(app: Any, password: str, hash_password: Any) -> str:
    """The password's argon2id hash under the app's cost settings, made once per session."""
    key = (password, *_argon2_settings(app))
    if key not in _WORLD_HASHES:
        _WORLD_HASHES[key] = hash_password(password)
    return _WORLD_HASHES[key]


@dataclass
class WorldRows:
    """Every row a fresh world wrote into an empty database, and (PostgreSQL) where each
    sequence it used stood: enough to write the same world again in one transaction."""

    tables: list[tuple[Any, list[dict[str, Any]]]]
    sequences: list[tuple[str, int]]


# (dialect, argon2 settings) -> the world as first built in this session.
_WORLD_ROWS: dict[tuple[str, int, int, int], WorldRows] = {}


def _read_world(conn: Any) -> WorldRows:
    from sqlalchemy import select

    from field_server.extensions import db

    tables = []
    for table in db.metadata.sorted_tables:
        # In key order: a unit's parent (or a household's) is written before it.
        result = conn.execute(select(table).order_by(*table.primary_key.columns))
        rows = [{c.key: row[i] for i, c in enumerate(table.columns)} for row in result]
        if rows:
            tables.append((table, rows))
    return WorldRows(tables, _filled_tables(conn)[1])


def _write_world(conn: Any, world: WorldRows) -> None:
    from sqlalchemy import text

    for table, rows in world.tables:
        conn.execute(table.insert(), rows)
    if world.sequences:
        calls = ", ".join(f"setval(:s{i}, :v{i})" for i in range(len(world.sequences)))
        values = {}
        for i, (sequence, value) in enumerate(world.sequences):
            values |= {f"s{i}": sequence, f"v{i}": value}
        conn.execute(text(f"SELECT {calls}"), values)


def build_world(app: Any) -> World:
    """Units and one user per role (two supervisors, three canvassers), in an empty database.

    The first world of a session (per backend and password cost) is built through the
    store, as a test would; its rows are then kept, and every later world is those rows
    written again in one transaction: the same ids, hashes and change sequence, and the
    timestamps of that first build (earlier than anything a test writes, as before).
    """
    from field_server.extensions import db

    passwords = {username: f"pw-{username}-secret" for username, _, _ in WORLD_PEOPLE}
    with app.app_context():
        key = (db.engine.dialect.name, *_argon2_settings(app))
        kept = _WORLD_ROWS.get(key)
        if kept is not None:
            with _emptying_engine(db.engine).begin() as conn:
                _write_world(conn, kept)
            return World(app=app, passwords=passwords)
        with db.engine.connect() as conn:
            was_empty = not _filled_tables(conn)[0]
        _store_world(app, passwords)
        if was_empty:
            with db.engine.connect() as conn:
                _WORLD_ROWS[key] = _read_world(conn)
    return World(app=app, passwords=passwords)


# username, role, the codes of their units
WORLD_PEOPLE = [
    ("admin", "admin", []),
    ("dt.vangiang", "district", ["326"]),
    ("sv.vangiang", "supervisor", ["12019"]),
    ("sv.xuanquan", "supervisor", ["12022"]),
    ("sv.hiennam", "supervisor", ["11953"]),
    ("cv.vg.001", "canvasser", ["12019"]),
    ("cv.vg.002", "canvasser", ["12019-01"]),
    ("cv.xq.001", "canvasser", ["12022"]),
]


def _store_world(app: Any, passwords: dict[str, str]) -> None:
    """The world written through the store (the first time in a session)."""
    from field_server.auth.passwords import hash_password
    from field_server.extensions import db
    from field_server.store.people import create_user
    from field_server.store.units import create_unit

    now = datetime.now(UTC)
    with app.app_context():
        unit = create_unit
        province = unit(
            scheme="gso-2020", code="33", name="Tỉnh Hưng Yên", level="province", parent=None
        )
        district = unit(
            scheme="gso-2020",
            code="326",
            name="Huyện Văn Giang",
            level="district",
            parent=province,
            target_rate=0.6,
        )
        other_district = unit(
            scheme="gso-2020",
            code="323",
            name="Thành phố Hưng Yên",
            level="district",
            parent=province,
        )
        ward_a = unit(
            scheme="gso-2020",
            code="12019",
            name="Thị trấn Văn Giang",
            level="ward",
            parent=district,
            adult_population=9000,
            target_rate=0.6,
        )
        ward_b = unit(
            scheme="gso-2020",
            code="12022",
            name="Xã Xuân Quan",
            level="ward",
            parent=district,
            adult_population=7000,
            target_rate=0.6,
        )
        ward_c = unit(
            scheme="gso-2020",
            code="11953",
            name="Phường Hiến Nam",
            level="ward",
            parent=other_district,
            adult_population=8000,
            target_rate=0.6,
        )
        group_a1 = unit(
            scheme="gso-2020", code="12019-01", name="Tổ dân phố 1", level="group", parent=ward_a
        )
        unit(scheme="gso-2020", code="12022-01", name="Thôn 1", level="group", parent=ward_b)
        by_code = {u.code: u for u in (district, ward_a, ward_b, ward_c, group_a1)}
        for username, role, codes in WORLD_PEOPLE:
            create_user(
                username=username,
                role=role,
                password_hash=world_hash(app, passwords[username], hash_password),
                full_name=username.upper(),
                units=[by_code[code] for code in codes],
                now=now,
            )
        db.session.commit()


@pytest.fixture
def world(app: Any) -> World:
    return build_world(app)
