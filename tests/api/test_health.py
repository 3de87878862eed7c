"""GET /healthz answers whether the database does and whether its schema is the code's."""

from flask_migrate import upgrade

from field_server.migrations_support import head_revision


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    head = head_revision()
    assert response.get_json() == {
        "ok": True,
        "database": "ok",
        "schema": {"revision": head, "head": head, "current": True},
    }
    assert client.get("/api/v1/healthz").get_json() == response.get_json()


def test_healthz_503_when_database_is_gone(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/field.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "storage_unavailable"
    assert body["details"]["database"] == "unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def test_healthz_503_when_the_schema_is_behind(make_app, fresh_database_url):
    """A server whose database was not upgraded would fail request after request; its
    health check fails as a whole and says which revision the database is at."""
    from field_server.extensions import db

    app = make_app(DATABASE_URL=fresh_database_url)
    with app.app_context():
        upgrade(revision="dff402d7ef2f")
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["code"] == "storage_unavailable"
        assert body["details"] == {
            "database": "ok",
            "schema": {"revision": "dff402d7ef2f", "head": head_revision(), "current": False},
        }
        assert int(response.headers["Retry-After"]) >= 1
        with app.app_context():
            upgrade()
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()


def test_healthz_503_when_the_database_has_no_schema(make_app, fresh_database_url):
    from field_server.extensions import db

    app = make_app(DATABASE_URL=fresh_database_url)
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        schema = response.get_json()["details"]["schema"]
        assert schema == {"revision": None, "head": head_revision(), "current": False}
    finally:
        with app.app_context():
            db.engine.dispose()


def test_json_is_utf8_and_keeps_the_envelope_order(client):
    response = client.get("/api/v1/units", headers={"Accept-Language": "vi"})
    text = response.get_data(as_text=True)
    assert "Mã truy cập" in text  # not \u-escaped
    assert list(response.get_json()) == ["ok", "status", "code", "message", "errors", "details"]
    assert response.mimetype == "application/json"
