"""POST /api/v1/devices/{id}/revoke and GET /api/v1/devices (docs/api-auth.md,
docs/api-supervision.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from field_server.extensions import db
from field_server.models import Assignment, AuditEntry, Device, RefreshFamily, User
from field_server.store.engine import write_transaction
from tests.conftest import device_secret_for

DEVICES = "/api/v1/devices"
UNITS = "/api/v1/units"
# One tablet per canvasser of the world, as world.login would make them.
VG1 = "11111111-1111-4111-8111-111111111111"
VG2 = "22222222-2222-4222-8222-222222222222"
XQ1 = "33333333-3333-4333-8333-333333333333"
WARD_VG = "gso-2020:12019"
WARD_XQ = "gso-2020:12022"


def revoke(client, device_id, headers):
    return client.post(f"{DEVICES}/{device_id}/revoke", headers=headers)


def assert_error(response, status, code):
    body = response.get_json()
    assert response.status_code == status, body
    assert body["ok"] is False and body["code"] == code and body["status"] == status
    return body


@pytest.fixture
def tablets(client, world):
    """Each canvasser logged in on their own tablet: username -> login answer."""
    return {
        "cv.vg.001": world.login(client, "cv.vg.001", device_id=VG1, device_name="Tab 1"),
        "cv.vg.002": world.login(client, "cv.vg.002", device_id=VG2, device_name="Tab 2"),
        "cv.xq.001": world.login(client, "cv.xq.001", device_id=XQ1, device_name="Tab 3"),
    }


def bearer(session):
    return {"Authorization": f"Bearer {session['access_token']}"}


# --- revoke ---------------------------------------------------------------------------------


def test_supervisor_revokes_a_tablet_of_their_ward(app, client, world, tablets):
    response = revoke(client, VG1, world.headers(client, "sv.vangiang"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {
        "device_id",
        "name",
        "owner",
        "last_seen",
        "last_mutation_id",
        "revoked",
        "revoked_at",
    }
    assert body["device_id"] == VG1 and body["owner"] == "cv.vg.001" and body["name"] == "Tab 1"
    assert body["revoked"] is True and body["revoked_at"].endswith("Z")
    assert body["last_seen"].endswith("Z")
    with app.app_context():
        device = db.session.get(Device, VG1)
        assert device.revoked_at is not None
        assert db.session.get(User, device.revoked_by).username == "sv.vangiang"
        family = db.session.execute(
            select(RefreshFamily).where(RefreshFamily.device_id == VG1)
        ).scalar_one()
        assert family.revoked_reason == "device_revoked"


def test_revoked_device_still_valid_access_token_is_device_revoked_at_once(client, world, tablets):
    session = tablets["cv.vg.001"]
    assert client.get(UNITS, headers=bearer(session)).status_code == 200
    revoke(client, VG1, world.headers(client, "sv.vangiang"))
    assert_error(client.get(UNITS, headers=bearer(session)), 401, "device_revoked")
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert_error(refreshed, 401, "device_revoked")
    # Even with the device's own secret: the tablet itself cannot come back.
    login = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.001",
            "password": world.passwords["cv.vg.001"],
            "device_id": VG1,
            "device_secret": device_secret_for(VG1),
        },
    )
    assert_error(login, 401, "device_revoked")
    # Other tablets carry on.
    assert client.get(UNITS, headers=bearer(tablets["cv.vg.002"])).status_code == 200


def test_found_tablet_logs_in_again_with_a_new_device_id(client, world, tablets):
    revoke(client, VG1, world.headers(client, "sv.vangiang"))
    fresh = world.login(client, "cv.vg.001", device_id="44444444-4444-4444-8444-444444444444")
    assert client.get(UNITS, headers=bearer(fresh)).status_code == 200


def test_revoke_writes_one_audit_row(app, client, world, tablets):
    headers = world.headers(client, "sv.vangiang")
    revoke(client, VG1, headers)
    again = revoke(client, VG1, headers)  # a retry after a lost answer
    assert again.status_code == 200 and again.get_json()["revoked"] is True
    with app.app_context():
        rows = (
            db.session.execute(select(AuditEntry).where(AuditEntry.action == "device.revoke"))
            .scalars()
            .all()
        )
        assert len(rows) == 1
        assert rows[0].actor == "sv.vangiang" and rows[0].target == VG1
        assert rows[0].client_address == "127.0.0.1"


def test_revoked_at_does_not_move_on_a_second_revoke(client, world, tablets):
    headers = world.headers(client, "sv.vangiang")
    first = revoke(client, VG1, headers).get_json()
    assert revoke(client, VG1, headers).get_json()["revoked_at"] == first["revoked_at"]


def test_supervisor_of_another_ward_gets_404(client, world, tablets):
    assert_error(revoke(client, VG1, world.headers(client, "sv.xuanquan")), 404, "not_found")
    assert_error(revoke(client, VG1, world.headers(client, "sv.hiennam")), 404, "not_found")
    assert client.get(UNITS, headers=bearer(tablets["cv.vg.001"])).status_code == 200


def test_unknown_device_is_404_like_an_out_of_scope_one(client, world, tablets):
    headers = world.headers(client, "sv.vangiang")
    unknown = revoke(client, "99999999-9999-4999-8999-999999999999", headers)
    foreign = revoke(client, XQ1, headers)
    assert_error(unknown, 404, "not_found")
    assert unknown.get_json() == foreign.get_json()


def test_group_canvasser_counts_as_inside_the_ward(client, world, tablets):
    # cv.vg.002 is assigned to a group of the ward, not to the ward itself.
    assert revoke(client, VG2, world.headers(client, "sv.vangiang")).status_code == 200


def test_ended_assignment_puts_the_device_out_of_the_supervisors_reach(app, client, world, tablets):
    with app.app_context(), write_transaction():
        owner = db.session.execute(select(User).where(User.username == "cv.vg.001")).scalar_one()
        db.session.execute(
            update(Assignment)
            .where(Assignment.user_id == owner.id)
            .values(ends_at=datetime.now(UTC) - timedelta(days=1))
        )
    assert_error(revoke(client, VG1, world.headers(client, "sv.vangiang")), 404, "not_found")
    # An admin can still revoke it.
    assert revoke(client, VG1, world.headers(client, "admin")).status_code == 200


def test_admin_revokes_anything(client, world, tablets):
    response = revoke(client, XQ1, world.headers(client, "admin"))
    assert response.status_code == 200 and response.get_json()["owner"] == "cv.xq.001"


@pytest.mark.parametrize("username", ["dt.vangiang", "cv.vg.001"])
def test_district_officers_and_canvassers_are_forbidden(client, world, tablets, username):
    headers = world.headers(client, username)
    assert_error(revoke(client, VG2, headers), 403, "forbidden")
    # Even for an unknown device: the role is refused before anything is looked up.
    assert_error(revoke(client, "nope", headers), 403, "forbidden")


def test_revoke_needs_a_token_and_takes_no_body(client, world, tablets):
    assert_error(client.post(f"{DEVICES}/{VG1}/revoke"), 401, "token_invalid")
    bad = client.post(
        f"{DEVICES}/{VG1}/revoke",
        headers=world.headers(client, "sv.vangiang"),
        json={"reason": "lost"},
    )
    assert_error(bad, 422, "validation_failed")
    with client.application.app_context():
        assert db.session.get(Device, VG1).revoked_at is None


def test_revoke_is_post_only(client, world, tablets):
    response = client.get(f"{DEVICES}/{VG1}/revoke", headers=world.headers(client, "admin"))
    assert_error(response, 405, "method_not_allowed")


# --- list -----------------------------------------------------------------------------------


def test_supervisor_lists_the_devices_of_their_ward(client, world, tablets):
    response = client.get(f"{DEVICES}?ward={WARD_VG}", headers=world.headers(client, "sv.vangiang"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["has_more"] is False and body["cursor"] is None
    assert [(d["device_id"], d["owner"]) for d in body["items"]] == [
        (VG1, "cv.vg.001"),
        (VG2, "cv.vg.002"),
    ]
    item = body["items"][0]
    assert item["name"] == "Tab 1" and item["last_mutation_id"] == 0
    assert item["revoked"] is False and item["revoked_at"] is None
    assert item["last_seen"].endswith("Z")


def test_list_shows_revocation(client, world, tablets):
    headers = world.headers(client, "sv.vangiang")
    revoke(client, VG1, headers)
    items = client.get(f"{DEVICES}?ward={WARD_VG}", headers=headers).get_json()["items"]
    assert [(d["device_id"], d["revoked"]) for d in items] == [(VG1, True), (VG2, False)]
    assert items[0]["revoked_at"].endswith("Z")


def test_ward_outside_scope_or_unknown_is_404(client, world, tablets):
    headers = world.headers(client, "sv.vangiang")
    assert_error(client.get(f"{DEVICES}?ward={WARD_XQ}", headers=headers), 404, "not_found")
    assert_error(client.get(f"{DEVICES}?ward=gso-2020:00000", headers=headers), 404, "not_found")


def test_without_ward_a_supervisor_sees_only_their_wards(client, world, tablets):
    items = client.get(DEVICES, headers=world.headers(client, "sv.xuanquan")).get_json()["items"]
    assert [d["device_id"] for d in items] == [XQ1]


def test_district_officer_reads_devices_of_their_district(client, world, tablets):
    headers = world.headers(client, "dt.vangiang")
    everything = client.get(DEVICES, headers=headers).get_json()["items"]
    assert [d["device_id"] for d in everything] == [VG1, VG2, XQ1]
    ward = client.get(f"{DEVICES}?ward={WARD_XQ}", headers=headers).get_json()["items"]
    assert [d["device_id"] for d in ward] == [XQ1]
    hiennam = client.get(f"{DEVICES}?ward=gso-2020:11953", headers=headers)
    assert_error(hiennam, 404, "not_found")


def test_admin_lists_every_device_including_ownerless_ones(client, world, tablets):
    admin_tablet = "55555555-5555-4555-8555-555555555555"
    headers = world.headers(client, "admin", device_id=admin_tablet)
    items = client.get(DEVICES, headers=headers).get_json()["items"]
    assert [d["device_id"] for d in items] == [VG1, VG2, XQ1, admin_tablet]


def test_canvasser_may_not_list_devices(client, world, tablets):
    assert_error(client.get(DEVICES, headers=bearer(tablets["cv.vg.001"])), 403, "forbidden")


def test_paging_walks_every_device_once(client, world, tablets):
    headers = world.headers(client, "admin")
    seen, cursor = [], None
    for _ in range(5):
        url = f"{DEVICES}?limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).get_json()
        seen += [d["device_id"] for d in body["items"]]
        if not body["has_more"]:
            assert body["cursor"] is None
            break
        cursor = body["cursor"]
    assert seen == [VG1, VG2, XQ1]


def test_bad_cursor_and_bad_query(client, world, tablets):
    headers = world.headers(client, "admin")
    assert_error(client.get(f"{DEVICES}?cursor=forged", headers=headers), 400, "cursor_invalid")
    # A cursor is bound to the user who got it.
    cursor = client.get(f"{DEVICES}?limit=1", headers=headers).get_json()["cursor"]
    other = world.headers(client, "dt.vangiang")
    assert_error(client.get(f"{DEVICES}?cursor={cursor}", headers=other), 400, "cursor_invalid")
    for query in ("limit=0", "limit=1001", "ward=12019", "owner=cv.vg.001"):
        response = client.get(f"{DEVICES}?{query}", headers=headers)
        assert_error(response, 422, "validation_failed")
