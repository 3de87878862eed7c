"""Mass assignment: a client cannot set what only the server decides.

Server-owned fields (a record's version, review state, flags, author, ward ids, derived
counters; a user's role through PATCH, password hash, id) sent in a push's mutation data,
a supervisor's correction, a conflict resolution or a user change are refused by name
(push: that mutation ``rejected`` / ``validation_failed``; elsewhere 422
``validation_failed``) and nothing is stored.

How the defences were checked: with ``domain.validation._unknown_fields`` made a no-op the
push tests fail (the mutations are applied); with ``StrictSchema``'s ``unknown`` set to
EXCLUDE (``parse_body`` loading with ``unknown=EXCLUDE``) the user and top-level PATCH
tests fail (200 or 201 instead of 422). The resolution test checks that each field is
refused by name, by the settable-field check of ``domain.conflicts``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from field_server.extensions import db
from field_server.models import AuditEntry, Household, User, Visit
from tests.api.sync_helpers import Tablet

# Names a record has on the server, never in a tablet's data.
SERVER_FIELDS_OF_A_HOUSEHOLD = {
    "id": "7d1c2f0e-0000-4000-8000-000000000001",
    "version": 99,
    "ward_id": 1,
    "group_id": 1,
    "merged_into": "7d1c2f0e-0000-4000-8000-000000000002",
    "adults": 9,
    "installed": 9,
    "smartphones": 9,
    "author": "admin",
    "flags": ["clock_suspect"],
    "review_status": "approved",
    "address_norm": "x",
}
SERVER_FIELDS_OF_A_VISIT = {
    "id": "7d1c2f0e-0000-4000-8000-000000000003",
    "version": 99,
    "review_status": "approved",
    "review_state": "approved",
    "review_comment": "ok",
    "reviewed_by": "sv.vangiang",
    "flags": [],
    "voided": True,
    "author": "sv.vangiang",
    "canvasser": "cv.xq.001",
    "canvasser_id": 1,
    "device_id": "7d1c2f0e-0000-4000-8000-000000000004",
    "ward": "gso-2020:12022",
    "ward_id": 1,
    "received_at": "2020-08-15T09:31:00+07:00",
}


@pytest.fixture
def tablet(world, client) -> Tablet:
    return Tablet(world, client, "cv.vg.001")


def stored(app: Any) -> tuple[int, int]:
    with app.app_context():
        households = db.session.execute(select(func.count()).select_from(Household)).scalar()
        visits = db.session.execute(select(func.count()).select_from(Visit)).scalar()
        db.session.rollback()
    return households, visits


@pytest.mark.parametrize(("name", "value"), sorted(SERVER_FIELDS_OF_A_HOUSEHOLD.items()))
def test_push_household_with_a_server_field_is_rejected_and_not_stored(app, tablet, name, value):
    body = tablet.push([tablet.household(**{name: value})])
    [result] = body["results"]
    assert (result["status"], result["code"]) == ("rejected", "validation_failed"), result
    assert name in result["errors"], result
    assert stored(app) == (0, 0)


@pytest.mark.parametrize(("name", "value"), sorted(SERVER_FIELDS_OF_A_VISIT.items()))
def test_push_visit_with_a_server_field_is_rejected_and_not_stored(app, tablet, name, value):
    household = tablet.household()
    tablet.push([household])
    body = tablet.push([tablet.visit(household["id"], **{name: value})])
    [result] = body["results"]
    assert (result["status"], result["code"]) == ("rejected", "validation_failed"), result
    assert name in result["errors"], result
    assert stored(app) == (1, 0)


@pytest.mark.parametrize("name", ["version", "review_status", "flags", "voided", "author"])
def test_push_visit_update_with_a_server_field_changes_nothing(world, client, tablet, name):
    household = tablet.household()
    visit = tablet.visit(household["id"])
    tablet.push([household, visit])
    value = SERVER_FIELDS_OF_A_VISIT.get(name, "x")
    edit = tablet.mutation("visit.update", visit["id"], {name: value}, base_version=1)
    [result] = tablet.push([edit])["results"]
    assert (result["status"], result["code"]) == ("rejected", "validation_failed"), result
    shown = client.get(f"/api/v1/visits/{visit['id']}", headers=world.headers(client, "admin"))
    record = shown.get_json()
    assert (record["version"], record["review_status"], record["voided"]) == (1, "pending", False)


@pytest.mark.parametrize("key", ["author", "user_id", "device_id", "status", "ward"])
def test_push_mutation_with_an_extra_key_is_rejected(app, tablet, key):
    mutation = tablet.household()
    mutation[key] = "gso-2020:12022" if key == "ward" else "admin"
    [result] = tablet.push([mutation])["results"]
    assert (result["status"], result["code"]) == ("rejected", "validation_failed"), result
    assert stored(app) == (0, 0)


# --- supervisors' corrections and resolutions ----------------------------------------------


@pytest.fixture
def visit_id(tablet) -> str:
    household = tablet.household()
    visit = tablet.visit(household["id"])
    tablet.push([household, visit])
    return visit["id"]


@pytest.mark.parametrize(("name", "value"), sorted(SERVER_FIELDS_OF_A_VISIT.items()))
def test_patch_visit_refuses_a_server_field_in_data(world, client, visit_id, name, value):
    headers = world.headers(client, "sv.vangiang")
    response = client.patch(
        f"/api/v1/visits/{visit_id}",
        json={"base_version": 1, "data": {name: value}},
        headers=headers,
    )
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_failed"), body
    after = client.get(f"/api/v1/visits/{visit_id}", headers=headers).get_json()
    assert (after["version"], after["review_status"], after["voided"]) == (1, "pending", False)
    assert after["canvasser"] == "cv.vg.001" and after["flags"] == []


@pytest.mark.parametrize(
    "extra", [{"review_status": "approved"}, {"version": 7}, {"author": "admin"}, {"id": "x"}]
)
def test_patch_visit_refuses_extra_top_level_fields(world, client, visit_id, extra):
    response = client.patch(
        f"/api/v1/visits/{visit_id}",
        json={"base_version": 1, "data": {"notes": "ok"}, **extra},
        headers=world.headers(client, "sv.vangiang"),
    )
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_failed"), body
    assert set(extra) <= set(body["errors"])
    after = client.get(f"/api/v1/visits/{visit_id}", headers=world.headers(client, "admin"))
    assert after.get_json()["notes"] == ""


def test_resolution_cannot_set_fields_outside_the_conflict(world, client, tablet):
    # Two canvassers change one head_name from the same base: a field conflict on head_name.
    household = tablet.household(group="gso-2020:12019-01")
    tablet.push([household])
    other = Tablet(world, client, "cv.vg.002")
    mine = tablet.mutation("household.upsert", household["id"], {"head_name": "A"}, 1)
    theirs = other.mutation("household.upsert", household["id"], {"head_name": "B"}, 1)
    tablet.push([mine])
    [result] = other.push([theirs])["results"]
    assert result["status"] == "conflict", result
    headers = world.headers(client, "sv.vangiang")
    for values in ({"version": 9}, {"ward": "gso-2020:12022"}, {"merged_into": household["id"]}):
        response = client.post(
            f"/api/v1/conflicts/{result['conflict_id']}/resolve",
            json={"resolution": "set", "values": {"head_name": "C", **values}},
            headers=headers,
        )
        body = response.get_json()
        assert (response.status_code, body["code"]) == (422, "validation_failed"), (values, body)
        assert set(values) == set(body["errors"]["values"]), body  # refused by name
    admin = world.headers(client, "admin")
    shown = client.get(f"/api/v1/households/{household['id']}", headers=admin).get_json()
    assert shown["ward"] == "gso-2020:12019" and shown["merged_into"] is None
    assert shown["head_name"] != "C"


# --- users --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"role": "admin"},
        {"role": "supervisor"},
        {"password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"},
        {"password": "chosen-by-the-attacker"},
        {"id": 1},
        {"username": "admin"},
        {"token_version": 0},
        {"is_admin": True},
    ],
)
def test_patch_user_refuses_fields_it_does_not_take(app, world, client, extra):
    headers = world.headers(client, "sv.vangiang")
    response = client.patch("/api/v1/users/cv.vg.001", json=extra, headers=headers)
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_failed"), body
    assert set(extra) <= set(body["errors"])
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "cv.vg.001")).scalar_one()
        assert user.role == "canvasser"
        db.session.rollback()
    world.login(client, "cv.vg.001")  # the password is still theirs
    with app.app_context():
        changed = db.session.execute(
            select(func.count()).where(AuditEntry.action.like("user.%"))
        ).scalar()
        assert changed == 0


NEW_USER = {"username": "cv.vg.099", "role": "canvasser", "units": ["gso-2020:12019"]}


def test_create_user_without_extras_is_created(world, client):
    # The control for the test below: the same body without the extra field is fine.
    response = client.post("/api/v1/users", json=NEW_USER, headers=world.headers(client, "admin"))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "extra",
    [{"password": "chosen"}, {"password_hash": "x"}, {"active": False}, {"id": 1}, {"ver": 0}],
)
def test_create_user_refuses_fields_it_does_not_take(app, world, client, extra):
    response = client.post(
        "/api/v1/users", json={**NEW_USER, **extra}, headers=world.headers(client, "admin")
    )
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_failed"), body
    with app.app_context():
        assert db.session.execute(select(User).where(User.username == "cv.vg.099")).first() is None
        db.session.rollback()
