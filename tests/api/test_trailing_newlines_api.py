"""Values with a trailing newline are refused through the API too, on SQLite and PostgreSQL
(tests/unit/test_trailing_newlines.py has the checks one by one, and the source scan).

A pattern written "^…$" and applied with ``re.match`` takes "abc\\n": a push would then store
an id no tablet can look up (or, on PostgreSQL, fail on a column's length and block the
device's queue), a login would register a device id with a newline in it.
"""

from __future__ import annotations

import uuid

import pytest
from flask import g
from werkzeug.test import create_environ

from field_server.extensions import db
from field_server.models import Device, Household, Visit
from tests.api.supervision_helpers import assert_error
from tests.api.sync_helpers import GROUP_A1, Tablet


@pytest.fixture
def tablet(world, client):
    return Tablet(world, client, "cv.vg.001")


def _with_newline(mutation: dict, field: str) -> dict:
    """The mutation with "\\n" after one value: an envelope field or a data field."""
    if field in mutation:
        return {**mutation, field: mutation[field] + "\n"}
    return {**mutation, "data": {**mutation["data"], field: mutation["data"][field] + "\n"}}


@pytest.mark.parametrize("field", ["id", "hlc", "ward", "group", "phone"])
def test_a_household_value_with_a_newline_rejects_it(world, tablet, field):
    household = tablet.household(group=GROUP_A1, phone="0912 345 678")
    bad = _with_newline(household, field)
    good = tablet.household(address="Số 2 phố Bình Minh")
    body = tablet.push([bad, good])
    assert [(r["status"], r.get("code")) for r in body["results"]] == [
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    assert field in body["results"][0]["errors"]
    with world.app.app_context():
        assert db.session.query(Household).count() == 1


@pytest.mark.parametrize("field", ["id", "hlc", "household_id", "visited_at", "come_back_at"])
def test_a_visit_value_with_a_newline_rejects_it(world, tablet, field):
    household = tablet.household()
    visit = tablet.visit(household["id"], come_back_at="2020-08-16T09:00:00+07:00")
    body = tablet.push([household, _with_newline(visit, field), tablet.visit(household["id"])])
    assert [(r["status"], r.get("code")) for r in body["results"]] == [
        ("applied", None),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    assert field in body["results"][1]["errors"]
    with world.app.app_context():
        assert db.session.query(Visit).count() == 1


def test_a_device_id_with_a_newline_cannot_log_in(world, client):
    device_id = str(uuid.uuid4()) + "\n"
    response = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.001",
            "password": world.passwords["cv.vg.001"],
            "device_id": device_id,
            "device_secret": "s" * 40,
        },
    )
    body = assert_error(response, 422, "validation_failed")
    assert list(body["errors"]) == ["device_id"]
    with world.app.app_context():
        assert db.session.get(Device, device_id) is None


def test_a_username_with_a_newline_is_refused(world, client):
    admin = world.headers(client, "admin")
    response = client.post(
        "/api/v1/users",
        json={"username": "cv.vg.101\n", "role": "canvasser", "units": ["gso-2020:12019"]},
        headers=admin,
    )
    assert list(assert_error(response, 422, "validation_failed")["errors"]) == ["username"]


def test_a_unit_ref_with_a_newline_is_refused_in_a_query(world, client):
    supervisor = world.headers(client, "sv.vangiang")
    response = client.get("/api/v1/visits?ward=gso-2020:12019%0A", headers=supervisor)
    assert list(assert_error(response, 422, "validation_failed")["errors"]) == ["ward"]


@pytest.mark.parametrize(("given", "kept"), [("req-42", True), ("req-42\n", False)])
def test_a_request_id_with_a_newline_is_replaced(app, given, kept):
    # Werkzeug's test client refuses a newline in a header value; a server in front may
    # not, so the request is built from its WSGI environ.
    environ = create_environ("/healthz")
    environ["HTTP_X_REQUEST_ID"] = given
    with app.request_context(environ):
        app.preprocess_request()
        assert (g.request_id == given) is kept
        assert "\n" not in g.request_id
