"""A push's faults stay inside their mutation (docs/sync-protocol.md, docs/errors.md), on SQLite
and PostgreSQL: dates the server cannot hold, envelope fields of the wrong JSON type, a clock
running a year ahead, ids of records in other wards.

Each case pushes the faulty mutation between good ones and checks what a canvasser and a
supervisor would notice: the push answers 200, the faulty mutation alone is rejected (and
kept for supervisors), the rest is applied, and the device's queue moves on.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from field_server.extensions import db
from field_server.models import DeviceMutation, Household, Revision, Visit
from tests.api.supervision_helpers import assert_error
from tests.api.sync_helpers import WARD_A, WARD_B, Tablet

PUSH = "/api/v1/sync/push"
UNREPRESENTABLE = [
    "0001-01-01T00:00:00+00:00",  # year 1: a day earlier in any time zone is no datetime
    "9999-12-31T23:59:59-23:59",  # year 10000 in UTC
    "0001-01-01T00:00:00+23:59",  # year 0 in UTC
    "9999-12-31T23:59:59Z",  # fits Python, not the campaign's calendar
    "1999-12-31T23:59:59Z",  # just before it
    "2100-01-01T00:00:00Z",  # just after it
]


@pytest.fixture
def tablet(world, client):
    return Tablet(world, client, "cv.vg.001")


def push_raw(tablet: Tablet, mutations: list[dict[str, Any]]) -> Any:
    """A push whose body is written by the standard json module: the test client's own
    encoder refuses some of the values sent here (integers beyond 64 bits)."""
    return tablet.client.post(
        PUSH,
        data=json.dumps({"device_id": tablet.device_id, "mutations": mutations}),
        content_type="application/json",
        headers=tablet.headers,
    )


def statuses(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(r["status"], r.get("code")) for r in body["results"]]


def without_ids(result: dict[str, Any], *ids: str) -> dict[str, Any]:
    """A result as it reads once the ids the caller sent are blanked: what it tells."""
    text = json.dumps({k: v for k, v in result.items() if k not in ("mutation_id", "id")})
    for record_id in ids:
        text = text.replace(record_id, "<id>")
    return json.loads(text)


def ledger_codes(app: Any, device_id: str) -> list[tuple[int, str, str | None]]:
    with app.app_context():
        rows = db.session.query(DeviceMutation).filter_by(device_id=device_id).all()
        return sorted((r.mutation_id, r.status, r.code) for r in rows)


# --- 1. dates the server cannot hold ---------------------------------------------------------


@pytest.mark.parametrize("when", UNREPRESENTABLE)
@pytest.mark.parametrize("name", ["visited_at", "come_back_at"])
def test_a_bad_date_in_a_new_visit_rejects_that_visit_alone(world, tablet, name, when):
    household = tablet.household()
    bad = tablet.visit(household["id"], outcome="come_back", **{name: when})
    good = tablet.visit(household["id"], visited_at="2020-08-15T10:31:00+07:00")
    body = tablet.push([household, bad, good])
    assert statuses(body) == [
        ("applied", None),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    assert list(body["results"][1]["errors"]) == [name]
    # The queue moves on: the next push is numbered after the rejected mutation, and the
    # rejection is kept for the ward's supervisors.
    later = tablet.visit(household["id"], visited_at="2020-08-15T11:31:00+07:00")
    assert tablet.push([later])["last_mutation_id"] == 4
    sv = world.headers(tablet.client, "sv.vangiang")
    items = tablet.client.get("/api/v1/rejections", headers=sv).get_json()["items"]
    assert [(item["mutation_id"], item["payload"]["data"][name]) for item in items] == [(2, when)]


@pytest.mark.parametrize("when", UNREPRESENTABLE[:3])
@pytest.mark.parametrize("name", ["visited_at", "come_back_at"])
def test_a_bad_date_in_a_visit_update_rejects_that_update_alone(world, tablet, name, when):
    household = tablet.household()
    visit = tablet.visit(household["id"])
    tablet.push([household, visit])
    bad = tablet.mutation("visit.update", visit["id"], {name: when}, base_version=1)
    good = tablet.mutation("visit.update", visit["id"], {"notes": "Hẹn lại"}, base_version=1)
    body = tablet.push([bad, good])
    assert statuses(body) == [("rejected", "validation_failed"), ("applied", None)]
    assert list(body["results"][0]["errors"]) == [name]
    assert ledger_codes(world.app, tablet.device_id)[-2:] == [
        (3, "rejected", "validation_failed"),
        (4, "applied", None),
    ]


@pytest.mark.parametrize("when", UNREPRESENTABLE[:3])
@pytest.mark.parametrize("name", ["visited_at", "come_back_at"])
def test_a_supervisors_correction_with_a_bad_date_is_a_422(world, tablet, name, when):
    household = tablet.household()
    visit = tablet.visit(household["id"])
    tablet.push([household, visit])
    sv = world.headers(tablet.client, "sv.vangiang")
    response = tablet.client.patch(
        f"/api/v1/visits/{visit['id']}",
        json={"base_version": 1, "data": {name: when}},
        headers=sv,
    )
    body = assert_error(response, 422, "validation_failed")
    assert list(body["errors"]) == [name]


# --- 2. envelope fields of the wrong JSON type ------------------------------------------------

WRONG_VALUES = [
    {},
    {"type": "visit.create"},
    [],
    ["visit.create"],
    5,
    -1,
    1.5,
    2**70,
    True,
    None,
    "",
    "x" * 5000,
    "visit.create\x00",
]


@pytest.mark.parametrize("field", ["type", "id", "hlc", "base_version", "data"])
@pytest.mark.parametrize("value", WRONG_VALUES, ids=lambda v: repr(v)[:24])
def test_an_envelope_field_of_the_wrong_type_rejects_its_mutation_alone(tablet, field, value):
    household = tablet.household()
    visit = tablet.visit(household["id"])
    bad = tablet.visit(household["id"])
    if field == "base_version" and value in (None, 0):  # leaving it out is fine for a visit
        bad["type"] = "visit.update"
    bad[field] = value
    after = tablet.visit(household["id"], visited_at="2020-08-15T10:31:00+07:00")
    response = push_raw(tablet, [household, visit, bad, after])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert statuses(body) == [
        ("applied", None),
        ("applied", None),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    if not (field == "data" and isinstance(value, dict)):  # else its fields are at fault
        assert field in body["results"][2]["errors"]
    assert body["last_mutation_id"] == 4


# --- 4. a clock a year ahead ----------------------------------------------------------------

YEAR_MS = 365 * 24 * 3600 * 1000


def clock_ahead(tablet: Tablet, ms: int) -> None:
    """The tablet's next HLC readings start at ``ms`` (one second apart)."""
    import itertools

    tablet.ms = itertools.count(ms, 1000)


def test_an_honest_edit_a_minute_later_beats_a_clock_a_year_ahead(world, client, tablet):
    household = tablet.household()
    tablet.push([household])
    ahead = Tablet(world, client, "cv.vg.001")  # the same canvasser's other tablet
    clock_ahead(ahead, int(time.time() * 1000) + YEAR_MS)
    honest = Tablet(world, client, "cv.vg.002")
    with world.app.app_context():  # in honest's group, so that both may edit it
        db.session.get(Household, household["id"]).group_id = _unit_id("gso-2020:12019-01")
        db.session.commit()

    future = ahead.mutation("household.upsert", household["id"], {"head_name": "Ahead"}, 1)
    body = ahead.push([future])
    assert body["results"][0]["status"] == "applied"
    assert body["results"][0]["flags"] == ["clock_suspect"]
    # An honest tablet that has merged the server's clock, a minute later, edits the same
    # field from the same base: the later edit wins (and a conflict is recorded).
    server_ms = int(body["server_hlc"].split("-")[0])
    clock_ahead(honest, server_ms + 60_000)
    edit = honest.mutation("household.upsert", household["id"], {"head_name": "Honest"}, 1)
    result = honest.push([edit])["results"][0]
    assert result["status"] == "conflict" and "flags" not in result
    with world.app.app_context():
        assert db.session.get(Household, household["id"]).head_name == "Honest"
        ordered = db.session.query(Revision).filter_by(entity_id=household["id"], version=2)
        # The suspect edit is kept under the server's receipt time, never the device's.
        assert int(ordered.one().hlc.split("-")[0]) < server_ms + 60_000


def test_an_honest_visit_a_minute_later_gives_the_counters(world, client, tablet):
    household = tablet.household()
    tablet.push([household])
    clock_ahead(tablet, int(time.time() * 1000) + YEAR_MS)
    body = tablet.push([tablet.visit(household["id"], adults=6, smartphones=3)])
    assert body["results"][0]["flags"] == ["clock_suspect"]
    honest = Tablet(world, client, "cv.vg.001")
    clock_ahead(honest, int(body["server_hlc"].split("-")[0]) + 60_000)
    later = honest.visit(household["id"], visited_at="2020-08-15T09:35:00+07:00", adults=5)
    assert honest.push([later])["results"][0]["status"] == "applied"
    with world.app.app_context():
        assert db.session.get(Household, household["id"]).adults == 5


def test_an_update_from_a_clock_a_year_ahead_is_flagged(world, tablet):
    household = tablet.household()
    visit = tablet.visit(household["id"])
    tablet.push([household, visit])
    clock_ahead(tablet, int(time.time() * 1000) + YEAR_MS)
    edit = tablet.mutation("visit.update", visit["id"], {"notes": "sửa"}, base_version=1)
    result = tablet.push([edit])["results"][0]
    assert result["status"] == "applied" and result["flags"] == ["clock_suspect"]
    with world.app.app_context():
        assert json.loads(db.session.get(Visit, visit["id"]).flags) == ["clock_suspect"]


def _unit_id(ref: str) -> int:
    from field_server.store.units import get_unit_by_ref

    unit = get_unit_by_ref(ref)
    assert unit is not None
    return unit.id


# --- 5. ids of records in other wards ---------------------------------------------------------


@pytest.fixture
def ward_b(world, client):
    """A household and a visit in ward B, recorded by ward B's canvasser."""
    other = Tablet(world, client, "cv.xq.001")
    household = other.household(ward=WARD_B, address="Số 7 thôn Xuân Quan")
    visit = other.visit(household["id"], notes="ghi chú của xã B")
    assert [r["status"] for r in other.push([household, visit])["results"]] == ["applied"] * 2
    return household, visit


def test_a_new_visit_with_another_visits_id_is_refused_and_changes_nothing(
    world, client, tablet, ward_b
):
    _, foreign = ward_b
    # A visit the caller can see: in their ward, by another canvasser (group 12019-01).
    group_tablet = Tablet(world, client, "cv.vg.002")
    theirs = group_tablet.household(group="gso-2020:12019-01")
    in_scope = group_tablet.visit(theirs["id"])
    group_tablet.push([theirs, in_scope])
    mine = tablet.household(address="Số 3 phố Bình Minh")
    tablet.push([mine])

    stolen = tablet.visit(mine["id"], notes="của tôi")
    stolen["id"] = foreign["id"]
    taken = tablet.visit(mine["id"], notes="của tôi")
    taken["id"] = in_scope["id"]
    fresh = tablet.visit(mine["id"], visited_at="2020-08-15T11:00:00+07:00")
    body = tablet.push([stolen, taken, fresh])
    assert statuses(body) == [
        ("rejected", "validation_failed"),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    foreign_answer, in_scope_answer = body["results"][0], body["results"][1]
    assert list(foreign_answer["errors"]) == ["id"]
    # Whose the visit is, and where, makes no difference to the answer.
    assert without_ids(foreign_answer, foreign["id"]) == without_ids(
        in_scope_answer, in_scope["id"]
    )
    with world.app.app_context():
        kept = db.session.get(Visit, foreign["id"])
        assert kept.household_id == foreign["data"]["household_id"]
        assert kept.notes == "ghi chú của xã B"
        assert db.session.query(Visit).count() == 3


def test_a_visit_sent_again_by_its_own_canvasser_stays_harmless(world, client, tablet):
    household = tablet.household()
    visit = tablet.visit(household["id"])
    tablet.push([household, visit])
    again = {**visit, "mutation_id": tablet.next_id}  # same content under a new number
    tablet.next_id += 1
    assert tablet.push([again])["results"][0] == {
        "mutation_id": 3,
        "status": "applied",
        "id": visit["id"],
        "version": 1,
    }
    with world.app.app_context():
        assert db.session.query(Visit).count() == 1


def test_a_foreign_household_is_answered_as_an_unknown_one(world, tablet, ward_b):
    foreign, _ = ward_b
    missing = str(uuid.uuid4())
    edit_foreign = tablet.mutation("household.upsert", foreign["id"], {"head_name": "X"}, 1)
    edit_missing = tablet.mutation("household.upsert", missing, {"head_name": "X"}, 1)
    visit_foreign = tablet.visit(foreign["id"])
    visit_missing = tablet.visit(missing)
    body = tablet.push([edit_foreign, edit_missing, visit_foreign, visit_missing])
    assert statuses(body) == [("rejected", "household_unknown")] * 4
    edit_a, edit_b, visit_a, visit_b = body["results"]
    assert without_ids(edit_a, foreign["id"]) == without_ids(edit_b, missing)
    assert without_ids(visit_a, foreign["id"]) == without_ids(visit_b, missing)
    assert WARD_B not in json.dumps(body["results"])
    with world.app.app_context():
        assert db.session.get(Household, foreign["id"]).head_name == foreign["data"]["head_name"]


def test_a_new_household_with_a_foreign_households_id_names_no_ward(world, client, ward_b):
    foreign, _ = ward_b
    own_ward = Tablet(world, client, "cv.vg.001")
    own_ward_household = own_ward.household(address="Số 9 phố Bình Minh")
    own_ward.push([own_ward_household])
    # cv.vg.002 works in group 12019-01 only: ward A's household outside that group is as
    # foreign to them as ward B's.
    tablet = Tablet(world, client, "cv.vg.002")
    same_ward = tablet.household(ward=WARD_A, group="gso-2020:12019-01")
    same_ward["id"] = own_ward_household["id"]
    other_ward = tablet.household(ward=WARD_A, group="gso-2020:12019-01")
    other_ward["id"] = foreign["id"]
    body = tablet.push([same_ward, other_ward])
    assert statuses(body) == [("rejected", "validation_failed")] * 2
    assert list(body["results"][0]["errors"]) == ["id"]
    assert without_ids(body["results"][0], own_ward_household["id"]) == without_ids(
        body["results"][1], foreign["id"]
    )


def test_another_devices_visit_elsewhere_is_answered_as_an_unknown_one(tablet, ward_b):
    _, foreign = ward_b
    missing = str(uuid.uuid4())
    edits = [
        tablet.mutation("visit.update", foreign["id"], {"notes": "x"}, base_version=1),
        tablet.mutation("visit.update", missing, {"notes": "x"}, base_version=1),
        tablet.mutation("visit.void", foreign["id"], {"reason": "x"}, base_version=1),
        tablet.mutation("visit.void", missing, {"reason": "x"}, base_version=1),
    ]
    body = tablet.push(edits)
    assert statuses(body) == [("rejected", "validation_failed")] * 4
    update_a, update_b, void_a, void_b = body["results"]
    assert without_ids(update_a, foreign["id"]) == without_ids(update_b, missing)
    assert without_ids(void_a, foreign["id"]) == without_ids(void_b, missing)
