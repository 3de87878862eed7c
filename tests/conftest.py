"""Shared fixtures: every database test runs once on SQLite and once on PostgreSQL.

Each backend gets one fresh database per test session, built by running the Alembic
migrations (so the migrations themselves are exercised), and emptied before every test.
PostgreSQL databases are created under a unique name and dropped at the end; the server's
other databases are never touched. `--backend sqlite` (or postgresql) narrows a local run;
CI runs both, and a PostgreSQL that does not answer is an error, never a skip.
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


def create_postgres_database(prefix: str = "field_test") -> tuple[str, str]:
    """A new, empty PostgreSQL database; returns (name, SQLAlchemy URL)."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
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


def empty_all_tables() -> None:
    from field_server.extensions import db

    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                conn.exec_driver_sql(f'DELETE FROM "{table}"')


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Build apps on the session database with extra settings; all are disposed after."""
    from field_server import create_app
    from field_server.extensions import db

    apps = []

    def make(**extra: Any) -> Any:
        app = create_app(base_config(tmp_path / "instance", database_url, **extra))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Any) -> Any:
    app = make_app()
    with app.app_context():
        empty_all_tables()
    return app


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
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def headers(self, client: Any, username: str, **extra: Any) -> dict[str, str]:
        token = self.login(client, username, **extra)["access_token"]
        return {"Authorization": f"Bearer {token}"}


def build_world(app: Any) -> World:
    """Units and one user per role (two supervisors, three canvassers)."""
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
        people = [
            ("admin", "admin", []),
            ("dt.vangiang", "district", [district]),
            ("sv.vangiang", "supervisor", [ward_a]),
            ("sv.xuanquan", "supervisor", [ward_b]),
            ("sv.hiennam", "supervisor", [ward_c]),
            ("cv.vg.001", "canvasser", [ward_a]),
            ("cv.vg.002", "canvasser", [group_a1]),
            ("cv.xq.001", "canvasser", [ward_b]),
        ]
        passwords = {}
        for username, role, units in people:
            passwords[username] = f"pw-{username}-secret"
            create_user(
                username=username,
                role=role,
                password_hash=hash_password(passwords[username]),
                full_name=username.upper(),
                units=units,
                now=now,
            )
        db.session.commit()
    return World(app=app, passwords=passwords)


@pytest.fixture
def world(app: Any) -> World:
    return build_world(app)
