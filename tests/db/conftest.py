"""The SQLite app of the engine's tests: a file database, migrated, with a short busy timeout
(200 ms) so that a refused write is quick to see."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from tests.conftest import base_config


@contextmanager
def migrated_sqlite_app(tmp_path: Path, busy_timeout_ms: int) -> Iterator[Flask]:
    """An app on ``tmp_path/field.db``, migrated; its connections closed afterwards."""
    from field_server import create_app
    from field_server.extensions import db

    app = create_app(
        base_config(
            tmp_path, f"sqlite:///{tmp_path}/field.db", SQLITE_BUSY_TIMEOUT_MS=busy_timeout_ms
        )
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path):
    with migrated_sqlite_app(tmp_path, busy_timeout_ms=200) as app:
        yield app


def admin_headers(app, client) -> dict[str, str]:
    from field_server.auth.passwords import hash_password
    from field_server.extensions import db
    from field_server.store.people import create_user

    with app.app_context():
        create_user(
            username="admin",
            role="admin",
            password_hash=hash_password("pw-admin-12"),
            full_name=None,
            units=[],
            now=datetime.now(UTC),
        )
        db.session.commit()
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": "pw-admin-12"})
    return {"Authorization": f"Bearer {login.get_json()['access_token']}"}
