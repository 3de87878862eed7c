"""The error envelope of §1, from every source: our code, Werkzeug, the database, a bug."""

import logging

import pytest
from sqlalchemy.exc import OperationalError

ENVELOPE_KEYS = {"ok", "status", "code", "message", "errors", "details"}


def assert_envelope(response, status, code):
    body = response.get_json()
    assert response.status_code == status
    assert set(body) == ENVELOPE_KEYS
    assert body["ok"] is False and body["status"] == status and body["code"] == code
    assert body["message"]
    return body


@pytest.fixture
def boom_app(make_app):
    app = make_app()

    def boom():
        raise RuntimeError("secret detail /etc/passwd")

    def locked():
        raise OperationalError("UPDATE x", {}, Exception("database is locked"))

    def full():
        import sqlite3

        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    app.add_url_rule("/api/v1/_boom", view_func=boom)
    app.add_url_rule("/api/v1/_locked", view_func=locked)
    app.add_url_rule("/api/v1/_full", view_func=full)
    app.add_url_rule("/_boom_page", view_func=boom, endpoint="boom_page")
    return app


def test_unknown_path_and_method(client):
    assert_envelope(client.get("/api/v1/nothing-here"), 404, "not_found")
    response = client.delete("/api/v1/units")
    assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_internal_error_hides_the_traceback_and_logs_it(boom_app, caplog):
    client = boom_app.test_client()
    with caplog.at_level(logging.ERROR, logger="field_server"):
        response = client.get("/api/v1/_boom", headers={"X-Request-Id": "req-42"})
    body = assert_envelope(response, 500, "internal_error")
    assert "passwd" not in response.get_data(as_text=True)
    assert body["details"] == {"request_id": "req-42"}
    assert response.headers["X-Request-Id"] == "req-42"
    assert any("req-42" in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize("path", ["/api/v1/_locked", "/api/v1/_full"])
def test_storage_errors_are_503_with_retry_after(boom_app, path):
    response = boom_app.test_client().get(path)
    assert_envelope(response, 503, "storage_unavailable")
    assert int(response.headers["Retry-After"]) >= 1


def test_browsers_get_an_html_page(boom_app):
    client = boom_app.test_client()
    response = client.get("/no-such-page", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found." in response.get_data(as_text=True)
    page = client.get("/_boom_page", headers={"Accept": "text/html"})
    assert page.status_code == 500 and "RuntimeError" not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Sai tên đăng nhập hoặc mật khẩu."),
        ("vi-VN,vi;q=0.9,en;q=0.5", "Sai tên đăng nhập hoặc mật khẩu."),
        ("en-US,en;q=0.9,vi;q=0.2", "Wrong username or password."),
        ("fr-FR", "Wrong username or password."),
    ],
)
def test_language_follows_accept_language(world, client, header, message):
    headers = {"Accept-Language": header} if header else {}
    response = client.post(
        "/api/v1/auth/login", json={"username": "x", "password": "y"}, headers=headers
    )
    assert assert_envelope(response, 401, "invalid_credentials")["message"] == message


def test_default_language_is_a_setting(make_app):
    app = make_app(DEFAULT_LANGUAGE="en")
    response = app.test_client().get("/api/v1/units")
    assert response.get_json()["message"].startswith("The access token")


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "json_invalid"),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400, "json_invalid"),
        (
            {"data": "username=a", "content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
        ),
        ({"data": '{"username": "a"}'}, 415, "unsupported_media_type"),
        ({"json": ["a", "list"]}, 422, "validation_failed"),
        ({"json": {"username": "a", "password": "b", "is_admin": True}}, 422, "validation_failed"),
    ],
)
def test_bad_bodies(client, kwargs, status, code):
    body = assert_envelope(client.post("/api/v1/auth/login", **kwargs), status, code)
    if code == "validation_failed":
        assert body["errors"]
    else:
        assert body["errors"] == {}


def test_unknown_field_is_named(client):
    response = client.post(
        "/api/v1/auth/login", json={"username": "a", "password": "b", "is_admin": True}
    )
    assert "is_admin" in response.get_json()["errors"]


def test_oversize_body_is_413(make_app):
    app = make_app(MAX_BODY_BYTES=2048)
    response = app.test_client().post(
        "/api/v1/auth/login", json={"username": "a", "password": "x" * 5000}
    )
    body = assert_envelope(response, 413, "payload_too_large")
    assert body["details"]["limit"] == 2048


def test_default_body_limit_is_5_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024


def test_registry_codes_all_have_both_languages():
    from field_server.errors import ERRORS

    for code, spec in ERRORS.items():
        assert code == code.lower() and " " not in code
        assert spec.en and spec.vi and spec.en != spec.vi, code
        assert 400 <= spec.status <= 599
