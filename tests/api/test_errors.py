"""The error envelope of docs/errors.md, from every source: our code, Werkzeug, the database, a
bug."""

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
    from field_server.messages import VI, placeholders

    for code, spec in ERRORS.items():
        assert code == code.lower() and " " not in code
        vi = VI.get(spec.message)
        assert spec.message and vi and vi != spec.message, code
        assert set(placeholders(vi)) == set(placeholders(spec.message)), code
        assert 400 <= spec.status <= 599


# --- one language per answer: the message and the field errors under it -----------------


@pytest.mark.parametrize(
    ("header", "message", "unknown", "missing"),
    [
        (
            None,
            "Một số trường bị thiếu hoặc không hợp lệ.",
            "Trường không xác định.",
            "Thiếu dữ liệu cho trường bắt buộc.",
        ),
        (
            "en",
            "Some fields are missing or invalid.",
            "Unknown field.",
            "Missing data for required field.",
        ),
    ],
)
def test_field_errors_speak_the_language_of_the_message(client, header, message, unknown, missing):
    headers = {"Accept-Language": header} if header else {}
    response = client.post(
        "/api/v1/auth/login", json={"username": "a", "is_admin": True}, headers=headers
    )
    body = assert_envelope(response, 422, "validation_failed")
    assert body["message"] == message
    assert body["errors"] == {"is_admin": [unknown], "password": [missing]}


def test_the_body_check_speaks_vietnamese_too(client):
    body = assert_envelope(client.post("/api/v1/auth/login", json=[1]), 422, "validation_failed")
    assert body["errors"] == {"_schema": ["Nội dung phải là một đối tượng JSON."]}


@pytest.fixture
def refusing_app(make_app):
    """Views that refuse the ways services and rules do: field errors with values, a rule's
    SyncError, a re-applied rejection refused again with the rule's message."""
    from domain.validation import clean_visit
    from field_server.errors import ApiError

    app = make_app()

    def unknown_unit():
        raise ApiError("validation_failed", errors={"units": {"0": ["Unknown unit gso-2020:99."]}})

    def rule():
        clean_visit({"outcome": "installed", "lat": 91, "lon": 10}, creating=True)

    def again():
        raise ApiError(
            "mutation_rejected",
            errors={"household_id": ["Required."]},
            details={"reason": "validation_failed", "reason_message": "The visit is invalid."},
        )

    app.add_url_rule("/api/v1/_unknown_unit", view_func=unknown_unit)
    app.add_url_rule("/api/v1/_rule", view_func=rule)
    app.add_url_rule("/api/v1/_again", view_func=again)
    return app.test_client()


def test_values_in_messages_are_kept(refusing_app):
    body = assert_envelope(refusing_app.get("/api/v1/_unknown_unit"), 422, "validation_failed")
    assert body["errors"] == {"units": {"0": ["Không có đơn vị gso-2020:99."]}}
    english = refusing_app.get("/api/v1/_unknown_unit", headers={"Accept-Language": "en"})
    assert english.get_json()["errors"] == {"units": {"0": ["Unknown unit gso-2020:99."]}}


def test_a_rules_refusal_is_answered_in_one_language(refusing_app):
    body = assert_envelope(refusing_app.get("/api/v1/_rule"), 422, "validation_failed")
    assert body["errors"] == {
        "household_id": ["Bắt buộc phải có."],
        "visited_at": ["Bắt buộc phải có."],
        "lat": ["Phải là số từ -90 đến 90, hoặc để trống."],
    }


def test_a_detail_that_is_a_message_is_translated_in_the_message_only(refusing_app):
    body = assert_envelope(refusing_app.get("/api/v1/_again"), 422, "mutation_rejected")
    assert body["message"] == (
        "Thay đổi lại bị từ chối (validation_failed): Lượt đến nhà không hợp lệ."
    )
    assert body["errors"] == {"household_id": ["Bắt buộc phải có."]}
    # details are machine-readable facts: they stay as the rule wrote them.
    assert body["details"]["reason_message"] == "The visit is invalid."


def test_nul_characters_in_bodies_queries_and_paths_are_refused(world, client):
    headers = world.headers(client, "admin")
    body = client.patch("/api/v1/users/cv.vg.001", json={"full_name": "A\x00B"}, headers=headers)
    assert body.status_code == 422
    assert list(body.get_json()["errors"]) == ["full_name"]
    query = client.get("/api/v1/households", query_string={"q": "ng\x00õ"}, headers=headers)
    assert query.status_code == 422
    path = client.get("/api/v1/visits/a%00b", headers=headers)
    assert path.status_code == 404
    login = client.post("/api/v1/auth/login", json={"username": "a\x00", "password": "x" * 12})
    assert login.status_code == 422


def test_dates_outside_any_campaign_are_422_not_500(world, client):
    headers = world.headers(client, "admin")
    for path, params in [
        ("/api/v1/visits", {"from": "0001-01-01"}),
        ("/api/v1/audit", {"to": "9999-12-31"}),
        ("/api/v1/stats", {"unit": "gso-2020:12019", "from": "0001-01-01"}),
        ("/api/v1/stats", {"unit": "gso-2020:12019", "to": "9999-12-31"}),
    ]:
        answer = client.get(path, query_string=params, headers=headers)
        assert answer.status_code == 422, (path, params, answer.get_json())
        assert answer.get_json()["code"] == "validation_failed"
