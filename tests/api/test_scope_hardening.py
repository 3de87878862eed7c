"""A supervisor acts only inside their own wards (docs/api.md, Roles and scope).

Three ways one ward's supervisor once reached into another ward: re-applying a rejected
mutation with a corrected payload that names the other ward (it ran with the canvasser's
units only), and managing a canvasser who also works in another ward (reset their password,
then log in as them and read that ward). And, for every supervision action, the same
check: the supervisor of ward A acting on an object of ward B is answered 404, exactly like
an object that does not exist, and nothing changes.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from field_server.clock import utcnow
from field_server.extensions import db
from field_server.models import Assignment, Household, Unit, User

from .review_helpers import Canvassed, canvass
from .supervision_helpers import assert_error
from .sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet

SHARED = "cv.shared"


def add_canvasser(world: Any, client: Any, username: str, units: list[str]) -> None:
    """A canvasser made by the admin through the API; their password joins the world's."""
    admin = world.headers(client, "admin")
    response = client.post(
        "/api/v1/users",
        json={"username": username, "role": "canvasser", "units": units},
        headers=admin,
    )
    assert response.status_code == 201, response.get_json()
    world.passwords[username] = response.get_json()["password"]


def database_state(app: Any) -> str:
    """A digest of every row of every table: equal digests, nothing changed."""
    digest = hashlib.sha256()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            digest.update(f"{table.name}:{[tuple(r) for r in rows]!r}".encode())
        db.session.rollback()
    return digest.hexdigest()


# --- 1. re-applying a rejected mutation --------------------------------------------------


@pytest.fixture
def shared_tablet(world, client) -> Tablet:
    """A canvasser working in ward A and in ward B, on their tablet."""
    add_canvasser(world, client, SHARED, [WARD_A, WARD_B])
    return Tablet(world, client, SHARED)


def rejected_in_ward_a(tablet: Tablet) -> tuple[dict, str]:
    """A new household of ward A refused for a bad position: the rejection is ward A's."""
    household = tablet.household(ward=WARD_A, lat=999)
    [result] = tablet.push([household])["results"]
    assert result["status"] == "rejected" and result["code"] == "validation_failed"
    return household, f"{tablet.device_id}:{household['mutation_id']}"


def households_of(app: Any) -> list[str]:
    with app.app_context():
        found = list(db.session.execute(select(Household.id)).scalars())
        db.session.rollback()
    return found


def test_a_correction_naming_another_ward_is_404_and_writes_nothing(
    app, world, client, shared_tablet
):
    household, rejection_id = rejected_in_ward_a(shared_tablet)
    sv_a = world.headers(client, "sv.vangiang")
    listed = client.get("/api/v1/rejections", headers=sv_a).get_json()["items"]
    assert [item["id"] for item in listed] == [rejection_id]
    before = database_state(app)

    moved = {**household["data"], "ward": WARD_B, "lat": 20.95}
    response = client.post(
        f"/api/v1/rejections/{rejection_id}/apply", json={"data": moved}, headers=sv_a
    )
    assert_error(response, 404, "not_found")
    assert database_state(app) == before
    assert households_of(app) == []

    # Corrected inside ward A, the same rejection applies.
    fixed = {**household["data"], "lat": 20.95}
    response = client.post(
        f"/api/v1/rejections/{rejection_id}/apply", json={"data": fixed}, headers=sv_a
    )
    assert response.status_code == 200, response.get_json()
    assert households_of(app) == [household["id"]]


def test_an_admin_applies_wherever_the_canvasser_may_write(app, world, client, shared_tablet):
    household, rejection_id = rejected_in_ward_a(shared_tablet)
    moved = {**household["data"], "ward": WARD_B, "lat": 20.95}
    response = client.post(
        f"/api/v1/rejections/{rejection_id}/apply",
        json={"data": moved},
        headers=world.headers(client, "admin"),
    )
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        row = db.session.get(Household, household["id"])
        assert row is not None and db.session.get(Unit, row.ward_id).ref == WARD_B


def test_a_visit_corrected_onto_another_wards_household_is_404(app, world, client, shared_tablet):
    in_b = shared_tablet.household(ward=WARD_B, address="Thôn 1, xã Xuân Quan")
    in_a = shared_tablet.household(ward=WARD_A)
    bad = shared_tablet.visit(in_a["id"], installed_during=5)  # more installs than phones
    results = shared_tablet.push([in_b, in_a, bad])["results"]
    assert results[2]["code"] == "validation_failed"
    rejection_id = f"{shared_tablet.device_id}:{bad['mutation_id']}"
    sv_a = world.headers(client, "sv.vangiang")
    before = database_state(app)
    onto_b = {**bad["data"], "household_id": in_b["id"], "installed_during": 2}
    response = client.post(
        f"/api/v1/rejections/{rejection_id}/apply", json={"data": onto_b}, headers=sv_a
    )
    assert_error(response, 404, "not_found")
    assert database_state(app) == before


def test_a_ward_the_canvasser_may_not_write_in_is_still_their_refusal(app, world, client):
    # cv.vg.002 works in group 12019-01 only; a correction into ward A at large (no
    # group) is inside the supervisor's ward, outside the canvasser's units.
    tablet = Tablet(world, client, "cv.vg.002")
    household = tablet.household(group=GROUP_A1, lat=999)
    assert tablet.push([household])["results"][0]["code"] == "validation_failed"
    sv_a = world.headers(client, "sv.vangiang")
    rejection_id = f"{tablet.device_id}:1"
    data = {**household["data"], "group": None, "lat": 20.95}
    response = client.post(
        f"/api/v1/rejections/{rejection_id}/apply", json={"data": data}, headers=sv_a
    )
    body = assert_error(response, 422, "mutation_rejected")
    assert body["details"]["reason"] == "forbidden_ward"


# --- 2. managing a canvasser who also works in another ward ------------------------------


def users_listed(client: Any, headers: dict[str, str], **query: str) -> list[str]:
    body = client.get("/api/v1/users", query_string=query, headers=headers).get_json()
    return [user["username"] for user in body["items"]]


USER_ACTIONS = {
    "reset password": lambda c, h, u: c.post(f"/api/v1/users/{u}/password", headers=h),
    "deactivate": lambda c, h, u: c.patch(f"/api/v1/users/{u}", json={"active": False}, headers=h),
    "rename": lambda c, h, u: c.patch(f"/api/v1/users/{u}", json={"full_name": "X"}, headers=h),
    "set units": lambda c, h, u: c.patch(f"/api/v1/users/{u}", json={"units": [WARD_A]}, headers=h),
}


@pytest.mark.parametrize("action", USER_ACTIONS)
def test_a_canvasser_shared_with_another_ward_is_not_the_supervisors(app, world, client, action):
    add_canvasser(world, client, SHARED, [WARD_A, WARD_B])
    sv_a = world.headers(client, "sv.vangiang")
    before = database_state(app)
    assert_error(USER_ACTIONS[action](client, sv_a, SHARED), 404, "not_found")
    assert database_state(app) == before
    # Unseen, as the answer says: not listed either, in their ward or at all.
    assert SHARED not in users_listed(client, sv_a)
    assert SHARED not in users_listed(client, sv_a, unit=WARD_A)
    # The canvasser can still log in with their password: nothing was reset.
    world.login(client, SHARED)
    # Their own canvassers, in the ward or in one of its groups, stay the supervisor's.
    for own in ("cv.vg.001", "cv.vg.002"):
        assert own in users_listed(client, sv_a)
        response = USER_ACTIONS[action](client, sv_a, own)
        assert response.status_code == 200, (own, response.get_json())


def test_an_admin_manages_a_shared_canvasser(world, client):
    add_canvasser(world, client, SHARED, [WARD_A, WARD_B])
    admin = world.headers(client, "admin")
    assert client.post(f"/api/v1/users/{SHARED}/password", headers=admin).status_code == 200


def end_assignment(app: Any, username: str, unit_code: str, days_ago: int) -> None:
    """End the user's assignment to the unit ``days_ago`` days ago."""
    with app.app_context():
        user_id = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
        unit_id = db.session.execute(select(Unit.id).where(Unit.code == unit_code)).scalar_one()
        db.session.execute(
            update(Assignment)
            .where(Assignment.user_id == user_id, Assignment.unit_id == unit_id)
            .values(ends_at=utcnow() - timedelta(days=days_ago))
        )
        db.session.commit()


def test_a_canvasser_still_in_another_wards_grace_period_is_not_the_supervisors(app, world, client):
    # Moved from ward B to ward A two days ago: for the grace period (7 days) their tablet
    # still writes in ward B and pulls it, so ward A's supervisor may not take the account.
    add_canvasser(world, client, SHARED, [WARD_A, WARD_B])
    end_assignment(app, SHARED, "12022", days_ago=2)
    sv_a = world.headers(client, "sv.vangiang")
    assert_error(client.post(f"/api/v1/users/{SHARED}/password", headers=sv_a), 404, "not_found")
    assert SHARED not in users_listed(client, sv_a)

    # Once the grace period is over, the canvasser is ward A's alone.
    end_assignment(app, SHARED, "12022", days_ago=8)
    assert SHARED in users_listed(client, sv_a)
    response = client.post(f"/api/v1/users/{SHARED}/password", headers=sv_a)
    assert response.status_code == 200, response.get_json()


# --- every supervision action, across wards ----------------------------------------------


@pytest.fixture
def ward_b(app, world, client) -> dict[str, Any]:
    """Ward B (Xuân Quan) with something of every kind a supervisor acts on: visits and
    households (canvassed), a possible duplicate, a rejected mutation, a tablet."""
    done: Canvassed = canvass(world, client)
    tablet = done.tablets["b"]
    twin = tablet.household(ward=WARD_B, address="Thôn 1, xã Xuân Quan")
    bad = tablet.visit(done.households["h5"], installed_during=5)
    results = tablet.push([twin, bad])["results"]
    assert results[0]["status"] == "conflict" and results[1]["status"] == "rejected"
    return {
        "visit": done.visits["other"],
        "household": done.households["h5"],
        "twin": twin["id"],
        "conflict": results[0]["conflict_id"],
        "rejection": f"{tablet.device_id}:{bad['mutation_id']}",
        "device": tablet.device_id,
        "visit_data": bad["data"],
    }


def _visit_patch(c: Any, h: dict, b: dict) -> Any:
    return c.patch(
        f"/api/v1/visits/{b['visit']}",
        json={"base_version": 1, "data": {"notes": "x"}},
        headers=h,
    )


EXPORTS = [
    "units.csv",
    "units.xlsx",
    "visits.csv",
    "visits.xlsx",
    "households.csv",
    "households.xlsx",
    "snapshot.sqlite",
]


def _export(name: str) -> Any:
    return lambda c, h, b: c.get(f"/api/v1/exports/{name}?unit={WARD_B}", headers=h)


# name -> request made by ward A's supervisor on ward B's object (c: client, h: headers,
# b: the ward_b fixture).
CROSS_WARD_ACTIONS: dict[str, Any] = {
    "visit read": lambda c, h, b: c.get(f"/api/v1/visits/{b['visit']}", headers=h),
    "visit list": lambda c, h, b: c.get(f"/api/v1/visits?ward={WARD_B}", headers=h),
    "visit correction": _visit_patch,
    "visit review": lambda c, h, b: c.post(
        f"/api/v1/visits/{b['visit']}/review", json={"action": "approve"}, headers=h
    ),
    "bulk review": lambda c, h, b: c.post(
        "/api/v1/visits/review", json={"ids": [b["visit"]], "action": "reject"}, headers=h
    ),
    "household read": lambda c, h, b: c.get(f"/api/v1/households/{b['household']}", headers=h),
    "household list": lambda c, h, b: c.get(f"/api/v1/households?ward={WARD_B}", headers=h),
    "merge": lambda c, h, b: c.post(
        f"/api/v1/households/{b['twin']}/merge", json={"into": b["household"]}, headers=h
    ),
    "duplicates list": lambda c, h, b: c.get(f"/api/v1/duplicates?ward={WARD_B}", headers=h),
    "conflict list": lambda c, h, b: c.get(f"/api/v1/conflicts?ward={WARD_B}", headers=h),
    "conflict resolve": lambda c, h, b: c.post(
        f"/api/v1/conflicts/{b['conflict']}/resolve",
        json={"resolution": "keep_server"},
        headers=h,
    ),
    "duplicate dismiss": lambda c, h, b: c.post(
        f"/api/v1/conflicts/{b['conflict']}/dismiss", headers=h
    ),
    "rejection list": lambda c, h, b: c.get(f"/api/v1/rejections?ward={WARD_B}", headers=h),
    "rejection apply": lambda c, h, b: c.post(
        f"/api/v1/rejections/{b['rejection']}/apply",
        json={"data": {**b["visit_data"], "installed_during": 1}},
        headers=h,
    ),
    "device list": lambda c, h, b: c.get(f"/api/v1/devices?ward={WARD_B}", headers=h),
    "device revoke": lambda c, h, b: c.post(f"/api/v1/devices/{b['device']}/revoke", headers=h),
    "stats": lambda c, h, b: c.get(f"/api/v1/stats?unit={WARD_B}", headers=h),
    "units below": lambda c, h, b: c.get(f"/api/v1/units?parent={WARD_B}", headers=h),
    "user list": lambda c, h, b: c.get(f"/api/v1/users?unit={WARD_B}", headers=h),
    "user create": lambda c, h, b: c.post(
        "/api/v1/users",
        json={"username": "cv.new", "role": "canvasser", "units": [WARD_B]},
        headers=h,
    ),
    "user change": lambda c, h, b: c.patch(
        "/api/v1/users/cv.xq.001", json={"active": False}, headers=h
    ),
    "user password": lambda c, h, b: c.post("/api/v1/users/cv.xq.001/password", headers=h),
    **{f"export {name}": _export(name) for name in EXPORTS},
}


@pytest.mark.parametrize("action", CROSS_WARD_ACTIONS)
def test_acting_on_another_wards_object_is_404_and_changes_nothing(
    app, world, client, ward_b, action
):
    sv_a = world.headers(client, "sv.vangiang")
    before = database_state(app)
    response = CROSS_WARD_ACTIONS[action](client, sv_a, ward_b)
    assert_error(response, 404, "not_found")
    assert database_state(app) == before
    # Ward B's own supervisor may (the object exists and the request is well formed).
    sv_b = world.headers(client, "sv.xuanquan")
    response = CROSS_WARD_ACTIONS[action](client, sv_b, ward_b)
    assert response.status_code < 300, (action, response.get_json())
