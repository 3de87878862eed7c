"""GET /healthz answers whether the database does."""

from sqlalchemy import text


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "database": "ok"}


def test_healthz_503_when_database_is_gone(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/field.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "storage_unavailable"
    assert body["details"]["database"] == "unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def test_database_pragmas_on_sqlite(app, backend):
    from field_server.extensions import db

    with app.app_context():
        values = (
            {
                name: db.session.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            if backend == "sqlite"
            else None
        )
    if backend == "sqlite":
        assert values == {
            "journal_mode": "wal",
            "synchronous": 2,
            "foreign_keys": 1,
            "busy_timeout": 5000,
        }
