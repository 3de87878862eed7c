"""GET /healthz answers whether the database does."""


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


def test_json_is_utf8_and_keeps_the_envelope_order(client):
    response = client.get("/api/v1/units", headers={"Accept-Language": "vi"})
    text = response.get_data(as_text=True)
    assert "Mã truy cập" in text  # not \u-escaped
    assert list(response.get_json()) == ["ok", "status", "code", "message", "errors", "details"]
    assert response.mimetype == "application/json"
