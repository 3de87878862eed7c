"""Small HTTP defects that once answered 500, leaked what they should not, or left answers
open to caching and framing (docs/api.md, Conventions; docs/errors.md).

- dates outside any campaign, and a /stats daily series that would run for decades;
- JSON nested deeper than any request needs, up to 100,000 levels, on every JSON endpoint;
- ids holding digits of other scripts (``x:²``);
- database errors whose log lines carried the statement's values;
- the instance folder, the SQLite files and the secrets file readable by other local users;
- ``Cache-Control: no-store`` and the security headers on every answer.
"""

from __future__ import annotations

import logging
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, text

from domain.stats import MAX_DAILY_DAYS
from field_server.extensions import db
from field_server.parsing import MAX_JSON_DEPTH, nested_deeper_than
from tests.conftest import base_config, dispose_app

from .supervision_helpers import assert_error
from .sync_helpers import WARD_A, Tablet

# --- dates ----------------------------------------------------------------------------------

# path -> (other query parameters it needs, its date parameters)
DATE_QUERIES: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "/api/v1/visits": ({}, ("from", "to")),
    "/api/v1/audit": ({}, ("from", "to")),
    "/api/v1/stats": ({"unit": WARD_A}, ("from", "to")),
    "/api/v1/exports/units.csv": ({"unit": WARD_A}, ("to",)),
    "/api/v1/exports/units.xlsx": ({"unit": WARD_A}, ("to",)),
    "/api/v1/exports/visits.csv": ({"unit": WARD_A}, ("from", "to")),
    "/api/v1/exports/visits.xlsx": ({"unit": WARD_A}, ("from", "to")),
}
DATE_NAMES = {"from", "to", "date"}


def operations(app: Any) -> dict[tuple[str, str], Any]:
    """(method, path) -> the OperationSpec of every view declared with @operation."""
    found = {}
    for rule in app.url_map.iter_rules():
        spec = getattr(app.view_functions[rule.endpoint], "field_operation", None)
        if spec is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[(method, rule.rule)] = spec
    return found


def test_the_date_list_names_every_endpoint_taking_a_date(app):
    taking = {}
    for (_method, path), spec in operations(app).items():
        if spec.query is None:
            continue
        names = {f.data_key or name for name, f in spec.query().fields.items()} & DATE_NAMES
        if names:
            taking[path] = tuple(sorted(names))
    assert taking == {path: tuple(sorted(names)) for path, (_, names) in DATE_QUERIES.items()}


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize(
    ("path", "name"),
    [(path, name) for path, (_, names) in DATE_QUERIES.items() for name in names],
)
def test_dates_outside_what_can_be_held_are_422(world, client, path, name, value):
    query = {**DATE_QUERIES[path][0], name: value}
    response = client.get(path, query_string=query, headers=world.headers(client, "admin"))
    body = assert_error(response, 422, "validation_failed")
    assert name in body["errors"]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2000-01-01"},  # to today: decades of daily rows
        {"from": "2000-01-01", "to": "2099-12-31"},
        {"from": "2020-01-01", "to": "2022-09-27"},  # MAX_DAILY_DAYS + 1 days
    ],
)
def test_stats_refuse_a_daily_series_longer_than_the_limit(world, client, query):
    response = client.get(
        "/api/v1/stats",
        query_string={"unit": WARD_A, **query},
        headers=world.headers(client, "admin"),
    )
    body = assert_error(response, 422, "validation_failed")
    assert list(body["errors"]) == ["from"]


def test_stats_daily_series_is_bounded(world, client):
    headers = world.headers(client, "admin")
    longest = client.get(
        "/api/v1/stats",
        query_string={"unit": WARD_A, "from": "2020-01-01", "to": "2022-09-26"},
        headers=headers,
    )
    assert longest.status_code == 200
    assert len(longest.get_json()["daily"]) == MAX_DAILY_DAYS
    # Without `from`, the series starts at the unit's first visit, at most the limit back.
    far = client.get(
        "/api/v1/stats", query_string={"unit": WARD_A, "to": "2099-12-31"}, headers=headers
    )
    assert far.status_code == 200 and 1 <= len(far.get_json()["daily"]) <= MAX_DAILY_DAYS


# --- deeply nested JSON ------------------------------------------------------------------

# (method, path) of every operation that reads a JSON body -> the user calling it (None:
# no token) and the path's value.
JSON_ENDPOINTS: dict[tuple[str, str], tuple[str | None, str]] = {
    ("POST", "/api/v1/auth/login"): (None, "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"): (None, "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"): ("admin", "/api/v1/auth/logout"),
    ("POST", "/api/v1/sync/push"): ("cv.vg.001", "/api/v1/sync/push"),
    ("POST", "/api/v1/users"): ("admin", "/api/v1/users"),
    ("PATCH", "/api/v1/users/<username>"): ("admin", "/api/v1/users/cv.vg.001"),
    ("POST", "/api/v1/users/<username>/password"): (
        "admin",
        "/api/v1/users/cv.vg.001/password",
    ),
    ("PATCH", "/api/v1/visits/<visit_id>"): ("admin", f"/api/v1/visits/{uuid.uuid4()}"),
    ("POST", "/api/v1/visits/<visit_id>/review"): (
        "admin",
        f"/api/v1/visits/{uuid.uuid4()}/review",
    ),
    ("POST", "/api/v1/visits/review"): ("admin", "/api/v1/visits/review"),
    ("POST", "/api/v1/conflicts/<conflict_id>/resolve"): (
        "admin",
        f"/api/v1/conflicts/{uuid.uuid4()}/resolve",
    ),
    ("POST", "/api/v1/conflicts/<conflict_id>/dismiss"): (
        "admin",
        f"/api/v1/conflicts/{uuid.uuid4()}/dismiss",
    ),
    ("POST", "/api/v1/households/<household_id>/merge"): (
        "admin",
        f"/api/v1/households/{uuid.uuid4()}/merge",
    ),
    ("POST", "/api/v1/rejections/<rejection_id>/apply"): (
        "admin",
        f"/api/v1/rejections/{uuid.uuid4()}:1/apply",
    ),
    ("POST", "/api/v1/devices/<device_id>/revoke"): (
        "admin",
        f"/api/v1/devices/{uuid.uuid4()}/revoke",
    ),
}


def test_the_json_list_names_every_operation_with_a_body(app):
    with_body = {
        key for key, spec in operations(app).items() if spec.body is not None or spec.empty_body
    }
    assert with_body == set(JSON_ENDPOINTS)


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def send(client: Any, world: Any, endpoint: tuple[str, str], body: bytes) -> Any:
    user, path = JSON_ENDPOINTS[endpoint]
    headers = world.headers(client, user) if user else {}
    return client.open(
        path, method=endpoint[0], data=body, content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=" ".join)
def test_json_nested_100000_deep_is_400(world, client, endpoint):
    response = send(client, world, endpoint, nested(100_000))
    assert_error(response, 400, "json_invalid")


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=" ".join)
def test_json_nested_deeper_than_the_limit_is_400(world, client, endpoint):
    # Within what the parser takes (1,024 levels), beyond what anything may hold.
    body = b'{"data": ' + nested(300) + b"}"
    response = send(client, world, endpoint, body)
    assert assert_error(response, 400, "json_invalid")["details"] == {"max_depth": MAX_JSON_DEPTH}


def test_a_deep_value_in_a_push_is_refused_before_it_is_kept(world, client):
    # Once, such a mutation was rejected and kept with its payload, and the supervisors'
    # list of rejections answered 500 from then on.
    tablet = Tablet(world, client, "cv.vg.001")
    household = tablet.household()
    household["data"]["address"] = "@"  # replaced by a value nested 300 deep below
    body = (
        f'{{"device_id": "{tablet.device_id}", "mutations": ['
        + client.application.json.dumps(household).replace('"@"', nested(300).decode())
        + "]}"
    ).encode()
    response = client.post(
        "/api/v1/sync/push", data=body, content_type="application/json", headers=tablet.headers
    )
    assert_error(response, 400, "json_invalid")
    listed = client.get("/api/v1/rejections", headers=world.headers(client, "sv.vangiang"))
    assert listed.status_code == 200 and listed.get_json()["items"] == []
    # The tablet's numbering did not move: the same mutation id goes through once fixed.
    household["data"]["address"] = "Số 12, ngõ 34, phố Hiến Nam"
    assert tablet.push([household])["results"][0]["status"] == "applied"


def test_a_body_at_the_limit_is_read(world, client):
    # 32 levels: the body, then 31 arrays; the schema refuses it, the parser does not.
    body = b'{"username": ' + nested(MAX_JSON_DEPTH - 1) + b', "password": "x"}'
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert_error(response, 422, "validation_failed")


@pytest.mark.parametrize(
    ("value", "limit", "deeper"),
    [
        ("scalar", 1, False),
        ({}, 1, False),
        ([[[[]]]], 4, False),
        ([[[[]]]], 3, True),
        ({"a": [1, {"b": [2, [3]]}]}, 5, False),
        ({"a": "x", "b": [1, 2, [3, {"c": {}}]]}, 4, True),  # the deepest is 5 levels
        ([[], [[]], [[[[]]]], "x"], 5, False),
        ([[], [[]], [[[[]]]], "x"], 4, True),
    ],
)
def test_nesting_depth_is_counted_level_by_level(value, limit, deeper):
    assert nested_deeper_than(value, limit) is deeper


# --- ids with other scripts' digits ------------------------------------------------------


@pytest.mark.parametrize("number", ["²", "1²", "١٢", "１２", "፩"])
def test_rejection_ids_with_non_ascii_digits_are_404(world, client, number):
    # One real rejection, so the device part of the id names something.
    tablet = Tablet(world, client, "cv.vg.001")
    bad = tablet.household(lat=999)
    assert tablet.push([bad])["results"][0]["status"] == "rejected"
    headers = world.headers(client, "sv.vangiang")
    for device in ("x", tablet.device_id):
        response = client.post(
            f"/api/v1/rejections/{device}:{number}/apply", json={}, headers=headers
        )
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/visits?ward=gso-2020:12019&limit={}",
        "/api/v1/users?limit={}",
        "/api/v1/exports/units.csv?unit=gso-2020:326&bom={}",
    ],
)
@pytest.mark.parametrize("number", ["١٠", "１０", "1²", "+10", " 10"])
def test_query_numbers_take_ascii_digits_only(world, client, path, number):
    headers = world.headers(client, "admin")
    response = client.get(path.format(number), headers=headers)
    body = assert_error(response, 422, "validation_failed")
    assert set(body["errors"]) <= {"limit", "bom"}
    plain = client.get(path.format("1"), headers=headers)
    plain.get_data()  # an export streams: read it whole, which ends its request
    assert plain.status_code == 200


# --- logs never carry a statement's values -----------------------------------------------

PHONE = "0987654321"


@pytest.fixture
def failing_statements(app):
    """Make the database refuse every statement whose values hold PHONE, with the driver's
    own error (as the database would): SQLAlchemy wraps it with the statement, as always."""
    with app.app_context():
        engine = db.engine
    dbapi = engine.dialect.loaded_dbapi
    refusal: dict[str, Any] = {}

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if PHONE in repr(parameters):
            raise refusal["error"]

    event.listen(engine, "before_cursor_execute", refuse)
    yield dbapi, refusal
    event.remove(engine, "before_cursor_execute", refuse)


def push_phone(world: Any, client: Any) -> Any:
    tablet = Tablet(world, client, "cv.vg.001")
    return client.post(
        "/api/v1/sync/push",
        json={"device_id": tablet.device_id, "mutations": [tablet.household(phone=PHONE)]},
        headers=tablet.headers,
    )


def all_logged(caplog: Any) -> str:
    formatter = logging.Formatter()
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines)


def test_a_storage_error_logs_no_values(world, client, failing_statements, caplog):
    dbapi, refusal = failing_statements
    refusal["error"] = dbapi.OperationalError("database is locked")
    with caplog.at_level(logging.DEBUG):
        response = push_phone(world, client)
    assert_error(response, 503, "storage_unavailable")
    logged = all_logged(caplog)
    assert "storage unavailable" in logged and "INSERT INTO households" in logged
    assert PHONE not in logged and PHONE not in response.get_data(as_text=True)


def test_a_database_error_answered_500_logs_no_values(world, client, failing_statements, caplog):
    dbapi, refusal = failing_statements
    # PostgreSQL repeats the values of a violated key in its DETAIL line.
    refusal["error"] = dbapi.IntegrityError(
        'duplicate key value violates unique constraint "uq_households_phone"\n'
        f"DETAIL:  Key (phone)=({PHONE}) already exists."
    )
    with caplog.at_level(logging.DEBUG):
        response = push_phone(world, client)
    assert_error(response, 500, "internal_error")
    logged = all_logged(caplog)
    request_id = response.get_json()["details"]["request_id"]
    # Still enough to find the fault: request id, error, statement and where it was raised.
    assert request_id in logged and "IntegrityError" in logged
    assert "INSERT INTO households" in logged and "store/sync.py" in logged
    assert PHONE not in logged and PHONE not in response.get_data(as_text=True)


def test_the_engine_hides_parameters(app):
    with app.app_context():
        assert db.engine.hide_parameters is True


# --- private files -------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_instance_folder_and_a_new_sqlite_database_are_private(tmp_path):
    from field_server import create_app

    instance = tmp_path / "var" / "instance"
    app = create_app(base_config(instance, f"sqlite:///{instance / 'field.db'}"))
    try:
        assert mode(instance) == 0o700
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        database = instance / "field.db"
        with app.app_context():
            db.session.execute(text("SELECT 1"))  # a connection holds the -wal and -shm open
            files = [database, *(instance / f"field.db{s}" for s in ("-wal", "-shm"))]
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
            db.session.rollback()
    finally:
        dispose_app(app)


def test_an_existing_instance_folder_and_database_keep_their_modes(tmp_path):
    from field_server import create_app

    instance = tmp_path / "instance"
    instance.mkdir()
    os.chmod(instance, 0o750)  # noqa: S103 (the operator's choice, which must stay)
    app = create_app(base_config(instance, f"sqlite:///{instance / 'field.db'}"))
    try:
        assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
        dispose_app(app)
        os.chmod(instance / "field.db", 0o640)
        again = create_app(base_config(instance, f"sqlite:///{instance / 'field.db'}"))
        with again.app_context():
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
        dispose_app(again)
        assert mode(instance) == 0o750 and mode(instance / "field.db") == 0o640
    finally:
        dispose_app(app)


def test_init_secrets_makes_a_private_folder_and_file(tmp_path):
    from field_server.cli import cli

    folder = tmp_path / "srv" / "instance"
    result = CliRunner().invoke(cli, ["init-secrets", "--instance-path", str(folder)])
    assert result.exit_code == 0, result.output
    assert mode(folder) == 0o700
    assert mode(folder / "secret-keys.json") == 0o600


# --- headers on every answer -------------------------------------------------------------


def assert_secure(response: Any, *, locked_down: bool = True) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    if locked_down:
        assert "default-src 'none'" in policy


def test_tokens_and_personal_data_are_never_stored(world, client):
    login = client.post(
        "/api/v1/auth/login",
        json={"username": "admin", "password": world.passwords["admin"]},
    )
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    for path in (
        "/api/v1/users",
        "/api/v1/visits",
        "/api/v1/households",
        f"/api/v1/exports/households.csv?unit={WARD_A}",
        "/api/v1/nothing-here",
        "/healthz",
        "/api/v1/healthz",
    ):
        response = client.get(path, headers=headers)
        assert response.headers["Cache-Control"] == "no-store", path
        assert_secure(response)
    refused = client.get("/api/v1/users")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


def test_every_get_operation_answers_no_store_but_the_api_document(world, client):
    headers = world.headers(client, "admin")
    for (method, path), _ in operations(client.application).items():
        if method != "GET":
            continue
        response = client.get(path.replace("<", "").replace(">", ""), headers=headers)
        if path == "/api/v1/openapi.json":
            assert "no-store" not in response.headers.get("Cache-Control", "")
        else:
            assert response.headers["Cache-Control"] == "no-store", path
        assert_secure(response)


@pytest.fixture
def page_app(make_app):
    """The app with an HTML page (as the web pages to come) and a page that fails."""
    app = make_app()

    def page() -> str:
        return "<!doctype html><title>page</title><p>page</p>"

    def boom() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/_page", view_func=page)
    app.add_url_rule("/_boom_page", view_func=boom)
    return app


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nothing-here", 404),
        ("POST", "/_page", 405),
        ("GET", "/_boom_page", 500),
    ],
)
def test_html_error_pages_carry_the_security_headers(page_app, method, path, status):
    response = page_app.test_client().open(path, method=method, headers={"Accept": "text/html"})
    assert response.status_code == status and response.mimetype == "text/html"
    assert_secure(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached_their_errors_not(make_app, tmp_path):
    from flask import Blueprint

    (tmp_path / "app.css").write_text("main { margin: 0 }")
    app = make_app()
    app.register_blueprint(
        Blueprint("assets", __name__, static_folder=tmp_path, static_url_path="/assets")
    )
    client = app.test_client()
    found = client.get("/assets/app.css")
    assert found.status_code == 200 and "no-store" not in found.headers["Cache-Control"]
    assert_secure(found)
    missing = client.get("/assets/none.css")
    assert missing.status_code == 404 and missing.headers["Cache-Control"] == "no-store"


def test_an_html_page_may_load_its_own_assets_but_is_never_framed(page_app):
    response = page_app.test_client().get("/_page")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert_secure(response, locked_down=False)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_api_answers_and_errors_carry_the_security_headers(world, client):
    headers = world.headers(client, "admin")
    for response in (
        client.get("/api/v1/units", headers=headers),
        client.get("/api/v1/units"),  # 401
        client.delete("/api/v1/units", headers=headers),  # 405
        client.get("/api/v1/openapi.json"),
        client.get("/healthz"),
    ):
        assert_secure(response)
