"""POST /api/v1/sync/push (docs/sync-protocol.md) through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from field_server.extensions import db
from field_server.models import Conflict, DeviceMutation, Household, Visit
from schemas.sync import PushResponseSchema
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet, counts, schema_errors


@pytest.fixture
def tablet(world, client):
    return Tablet(world, client, "cv.vg.001")


def household_row(app, household_id):
    with app.app_context():
        return db.session.get(Household, household_id)


def test_household_and_visit_are_applied_and_counted(world, tablet):
    h = tablet.household()
    v = tablet.visit(h["id"])
    body = tablet.push([h, v])
    assert body["last_mutation_id"] == 2
    assert body["server_time"].endswith("Z") and body["server_hlc"]
    assert body["results"] == [
        {"mutation_id": 1, "status": "applied", "id": h["id"], "version": 1},
        {"mutation_id": 2, "status": "applied", "id": v["id"], "version": 1},
    ]
    row = household_row(world.app, h["id"])
    assert (row.adults, row.smartphones, row.installed) == (4, 3, 3)


def test_a_replayed_batch_is_answered_from_the_ledger_and_applied_once(world, tablet):
    batch = [tablet.household(), tablet.visit("00000000-0000-4000-8000-000000000000")]
    batch[1]["data"]["household_id"] = batch[0]["id"]
    first = tablet.push(batch)
    again = tablet.push(batch)
    assert again["results"] == [{**r, "replayed": True} for r in first["results"]]
    assert again["last_mutation_id"] == 2
    with world.app.app_context():
        assert db.session.query(Visit).count() == 1
        assert db.session.query(Household).count() == 1


def test_a_batch_may_overlap_what_was_acknowledged(world, tablet):
    h = tablet.household()
    tablet.push([h])
    v = tablet.visit(h["id"])
    body = tablet.push([h, v])  # the first response was lost: the tablet resends both
    assert body["results"][0]["replayed"] is True
    assert body["results"][1] == {
        "mutation_id": 2,
        "status": "applied",
        "id": v["id"],
        "version": 1,
    }


def test_a_changed_replay_is_refused_and_changes_nothing(world, tablet):
    h = tablet.household()
    tablet.push([h])
    changed = {**h, "data": {**h["data"], "address": "Số 99 phố Khác"}}
    body = tablet.push([changed])
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][0]["code"] == "mutation_id_reused"
    assert household_row(world.app, h["id"]).address == h["data"]["address"]


def test_a_gap_refuses_the_whole_batch(world, tablet):
    tablet.push([tablet.household()])
    tablet.next_id = 5
    h = tablet.household()
    body = tablet.push([h], expect=409)
    assert body["code"] == "mutation_gap"
    assert body["details"]["expected"] == 2
    assert household_row(world.app, h["id"]) is None


def test_batch_limits(world, tablet):
    too_many = [tablet.household() for _ in range(501)]
    assert tablet.push(too_many, expect=422)["code"] == "batch_too_large"


@pytest.mark.parametrize(
    "body",
    [
        {"mutations": []},
        {"device_id": "x", "mutations": [], "extra": 1},
        {"device_id": "x", "mutations": {"a": 1}},
        {"device_id": "x", "mutations": [1, 2]},
        {"device_id": "x", "mutations": [{"mutation_id": "1"}]},
        {"device_id": "x", "mutations": [{"mutation_id": 1}, {"mutation_id": 3}]},
        {"device_id": "x", "mutations": [{"mutation_id": True}]},
    ],
)
def test_envelope_faults_are_422_and_apply_nothing(world, tablet, body):
    if "device_id" in body:
        body["device_id"] = tablet.device_id
    response = tablet.client.post("/api/v1/sync/push", json=body, headers=tablet.headers)
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_failed"


def test_only_the_token_device_may_push(world, client, tablet):
    response = client.post(
        "/api/v1/sync/push",
        json={"device_id": "5b0c6f1e-0000-4000-8000-000000000999", "mutations": []},
        headers=tablet.headers,
    )
    assert response.status_code == 403
    supervisor = world.headers(client, "sv.vangiang")
    response = client.post(
        "/api/v1/sync/push",
        json={"device_id": tablet.device_id, "mutations": []},
        headers=supervisor,
    )
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"


def test_each_fault_rejects_its_mutation_alone_and_is_kept(world, tablet):
    h = tablet.household()
    bad_outcome = tablet.visit(h["id"], outcome="maybe")
    bad_counts = tablet.visit(h["id"], **counts(adults=1, smartphones=3))
    unknown_type = tablet.mutation("visit.teleport", h["id"], {})
    good = tablet.visit(h["id"])
    body = tablet.push([h, bad_outcome, bad_counts, unknown_type, good])
    statuses = [(r["status"], r.get("code")) for r in body["results"]]
    assert statuses == [
        ("applied", None),
        ("rejected", "validation_failed"),
        ("rejected", "validation_failed"),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    assert "outcome" in body["results"][1]["errors"]
    assert body["last_mutation_id"] == 5
    with world.app.app_context():
        kept = db.session.get(DeviceMutation, (tablet.device_id, 2))
        assert kept.status == "rejected" and json.loads(kept.payload) == bad_outcome


def test_scope_of_writes(world, client, tablet):
    other_ward = tablet.household(ward=WARD_B)
    unknown = tablet.visit("7d1c2f0e-0000-4000-8000-000000000001")
    body = tablet.push([other_ward, unknown])
    assert [r.get("code") for r in body["results"]] == ["forbidden_ward", "household_unknown"]

    group_tablet = Tablet(world, client, "cv.vg.002")  # assigned to group 12019-01 only
    ward_level = group_tablet.household()
    in_group = group_tablet.household(group=GROUP_A1)
    body = group_tablet.push([ward_level, in_group])
    assert [r["status"] for r in body["results"]] == ["rejected", "applied"]


def test_only_the_author_device_may_change_a_visit(world, client):
    a = Tablet(world, client, "cv.vg.001")
    b = Tablet(world, client, "cv.vg.002")
    h = a.household(group=GROUP_A1)
    v = a.visit(h["id"])
    a.push([h, v])
    edit = b.mutation("visit.update", v["id"], {"notes": "sửa"}, base_version=1)
    assert b.push([edit])["results"][0]["code"] == "not_author"


def test_void_stops_the_visit_counting(world, tablet):
    h = tablet.household()
    v = tablet.visit(h["id"])
    tablet.push([h, v])
    void = tablet.mutation("visit.void", v["id"], {"reason": "nhầm nhà"}, base_version=1)
    result = tablet.push([void])["results"][0]
    assert result["status"] == "applied" and result["version"] == 2
    assert household_row(world.app, h["id"]).installed is None
    changes, _, _ = tablet.pull_all()
    assert {"entity": "visit", "op": "delete", "id": v["id"]} in changes


def test_installs_never_go_back(world, tablet):
    h = tablet.household()
    first = tablet.visit(h["id"], **counts(adults=4, smartphones=3, before=1, during=2))
    later = tablet.visit(
        h["id"],
        outcome="partial",
        visited_at="2020-08-16T09:00:00+07:00",
        **counts(adults=5, smartphones=4, before=1, during=0),
    )
    body = tablet.push([h, first, later])
    assert "installed_decreased" in body["results"][2]["flags"]
    row = household_row(world.app, h["id"])
    assert (row.adults, row.smartphones, row.installed) == (5, 4, 3)


def test_quality_flags(world, tablet):
    h = tablet.household()
    far = tablet.visit(h["id"], lat=21.05, lon=105.94)  # about 11 km away
    fast = tablet.visit(h["id"], visited_at="2020-08-15T09:31:30+07:00")
    mismatch = tablet.visit(
        h["id"],
        visited_at="2020-08-15T11:00:00+07:00",
        **counts(adults=4, smartphones=3, before=0, during=1),
    )
    future = tablet.visit(h["id"], visited_at="2020-08-15T12:00:00+07:00")
    future["hlc"] = f"99999999999999-0000-{tablet.device_id}"
    body = tablet.push([h, far, fast, mismatch, future])
    flags = [r.get("flags", []) for r in body["results"]]
    assert "gps_far_from_household" in flags[1]
    assert "too_fast" in flags[2]
    assert "outcome_mismatch" in flags[3]
    assert "clock_suspect" in flags[4]


def test_same_address_in_a_ward_is_a_possible_duplicate(world, tablet):
    a = tablet.household(address="Số 12, ngõ 34, phố Hiến Nam")
    b = tablet.household(address="số 12 Ngõ 34  Phố Hiến Nam")
    body = tablet.push([a, b])
    assert body["results"][0]["status"] == "applied"
    assert body["results"][1]["status"] == "conflict"
    with world.app.app_context():
        conflict = db.session.get(Conflict, body["results"][1]["conflict_id"])
        assert conflict.kind == "possible_duplicate" and conflict.entity_id == b["id"]
        assert db.session.query(Household).count() == 2  # kept, never merged automatically


def test_supervisor_correction_wins_over_a_stale_tablet_edit(world, client, tablet):
    h = tablet.household()
    v = tablet.visit(h["id"])
    tablet.push([h, v])
    supervisor = world.headers(client, "sv.vangiang")
    response = client.patch(
        f"/api/v1/visits/{v['id']}",
        headers=supervisor,
        json={"base_version": 1, "data": {"notes": "đã kiểm tra"}},
    )
    assert response.status_code == 200
    assert response.get_json()["version"] == 2 and response.get_json()["notes"] == "đã kiểm tra"
    stale = tablet.mutation(
        "visit.update", v["id"], {"notes": "ghi chú", "accuracy_m": 5}, base_version=1
    )
    result = tablet.push([stale])["results"][0]
    assert result["status"] == "conflict"
    with world.app.app_context():
        row = db.session.get(Visit, v["id"])
        assert row.notes == "đã kiểm tra" and row.accuracy_m == 5
        conflict = db.session.get(Conflict, result["conflict_id"])
        assert json.loads(conflict.fields)["notes"] == {
            "base": "",
            "server": "đã kiểm tra",
            "client": "ghi chú",
        }
    again = client.patch(
        f"/api/v1/visits/{v['id']}",
        headers=supervisor,
        json={"base_version": 1, "data": {"notes": "x"}},
    )
    assert again.status_code == 409 and again.get_json()["code"] == "version_conflict"


def test_later_hlc_wins_between_canvassers(world, client):
    a = Tablet(world, client, "cv.vg.001")
    b = Tablet(world, client, "cv.vg.002")
    h = a.household(group=GROUP_A1)
    a.push([h])
    b.ms = iter(range(1597458900000, 10**14, 1000))  # b's edit is later
    edit_b = b.mutation("household.upsert", h["id"], {"head_name": "Trần B"}, base_version=1)
    edit_a = a.mutation("household.upsert", h["id"], {"head_name": "Lê A"}, base_version=1)
    assert a.push([edit_a])["results"][0]["status"] == "applied"
    result = b.push([edit_b])["results"][0]
    assert result["status"] == "conflict"
    assert household_row(world.app, h["id"]).head_name == "Trần B"


def test_one_side_changes_merge(world, client):
    a = Tablet(world, client, "cv.vg.001")
    b = Tablet(world, client, "cv.vg.002")
    h = a.household(group=GROUP_A1)
    a.push([h])
    a.push([a.mutation("household.upsert", h["id"], {"phone": "0912 345 678"}, base_version=1)])
    result = b.push(
        [b.mutation("household.upsert", h["id"], {"head_name": "Trần B"}, base_version=1)]
    )["results"][0]
    assert result["status"] == "merged" and result["merged_fields"] == ["head_name"]
    row = household_row(world.app, h["id"])
    assert (row.phone, row.head_name, row.version) == ("0912 345 678", "Trần B", 3)


def test_reviewed_visits_are_locked(world, tablet):
    h = tablet.household()
    v = tablet.visit(h["id"])
    tablet.push([h, v])
    with world.app.app_context():
        db.session.get(Visit, v["id"]).review_status = "approved"
        db.session.commit()
    edit = tablet.mutation("visit.update", v["id"], {"notes": "x"}, base_version=1)
    void = tablet.mutation("visit.void", v["id"], {"reason": "x"}, base_version=1)
    results = tablet.push([edit, void])["results"]
    assert [r["code"] for r in results] == ["visit_locked", "visit_locked"]
    with world.app.app_context():
        kinds = [c.kind for c in db.session.query(Conflict).all()]
        assert kinds == ["visit_locked", "visit_locked"]


def test_mutations_on_a_merged_household_are_redirected(world, tablet):
    a, b = tablet.household(), tablet.household(address="Số 14 phố Hiến Nam")
    tablet.push([a, b])
    with world.app.app_context():
        db.session.get(Household, a["id"]).merged_into = b["id"]
        db.session.commit()
    v = tablet.visit(a["id"])
    result = tablet.push([v])["results"][0]
    assert result["status"] == "redirected" and result["redirected_to"] == b["id"]
    with world.app.app_context():
        assert db.session.get(Visit, v["id"]).household_id == b["id"]


def test_status(world, tablet):
    tablet.push([tablet.household()])
    body = tablet.client.get("/api/v1/sync/status", headers=tablet.headers).get_json()
    assert body["device_id"] == tablet.device_id and body["last_mutation_id"] == 1
    assert body["last_push_at"].endswith("Z") and body["server_hlc"]


def test_a_reinstalled_tablet_goes_on_from_the_server_numbering(world, client, tablet):
    tablet.push([tablet.household(), tablet.household(address="Số 2")])
    again = Tablet(world, client, "cv.vg.001", device_id=tablet.device_id)
    assert again.next_id == 3
    assert again.push([again.household(address="Số 3")])["last_mutation_id"] == 3


def test_ward_b_canvasser_cannot_touch_ward_a(world, client, tablet):
    h = tablet.household()
    tablet.push([h])
    other = Tablet(world, client, "cv.xq.001")
    edit = other.mutation("household.upsert", h["id"], {"head_name": "X"}, base_version=1)
    # Answered as a household that does not exist: nothing tells it lies in ward A
    # (tests/api/test_push_hardening.py compares the two answers whole).
    assert other.push([edit])["results"][0]["code"] == "household_unknown"
    assert household_row(world.app, h["id"]).head_name == h["data"]["head_name"]
    assert WARD_A != WARD_B


def test_every_push_answer_is_what_its_schema_says(world, tablet):
    # Push answers the planner's results as they are (never dumped through a schema), so
    # every answer Tablet.push receives in these tests is checked against
    # PushResponseSchema; this one gathers the optional keys a result may carry.
    h = tablet.household()
    duplicate = tablet.household(address="số 12 Ngõ 34  Phố Hiến Nam")
    far = tablet.visit(h["id"], lat=21.05, lon=105.94)
    bad = tablet.visit(h["id"], installed_during=9)
    body = tablet.push([h, duplicate, far, bad])
    assert list(body) == list(PushResponseSchema().fields)
    again = tablet.push([h, duplicate, far, bad])
    keys = {key for result in body["results"] + again["results"] for key in result}
    assert keys == {"mutation_id", "status", "id", "version", "conflict_id", "flags", "code",
                    "message", "errors", "replayed"}  # fmt: skip
    assert schema_errors(PushResponseSchema, again) == []
    drifted = {**body, "results": [{**body["results"][0], "version": "1", "note": "x"}]}
    assert schema_errors(PushResponseSchema, drifted) == [
        ".results[0].note: not in the schema",
        ".results[0].version: '1' is not a Integer",
    ]


def test_a_nul_character_rejects_its_mutation_alone_on_both_databases(world, tablet):
    # PostgreSQL cannot store NUL in text: refused alike on SQLite, never a 500 that would
    # block the device's queue.
    good = tablet.household()
    nul_address = tablet.household(address="Số 12\x00 ngõ 34")
    nul_notes = tablet.visit(good["id"], notes="vắng\x00nhà")
    body = tablet.push([good, nul_address, nul_notes, tablet.visit(good["id"])])
    statuses = [(r["status"], r.get("code")) for r in body["results"]]
    assert statuses == [
        ("applied", None),
        ("rejected", "validation_failed"),
        ("rejected", "validation_failed"),
        ("applied", None),
    ]
    assert "address" in body["results"][1]["errors"]
    assert "notes" in body["results"][2]["errors"]


@pytest.mark.parametrize(
    ("language", "message"),
    [("vi", "Các số liệu không khớp nhau."), ("en", "The counts do not add up.")],
)
def test_rejections_in_a_push_answer_speak_its_language(world, tablet, language, message):
    household = tablet.household()
    bad_counts = tablet.visit(household["id"], **counts(adults=1, smartphones=3))
    answer = tablet.client.post(
        "/api/v1/sync/push",
        json={"device_id": tablet.device_id, "mutations": [household, bad_counts]},
        headers={**tablet.headers, "Accept-Language": language},
    )
    rejected = answer.get_json()["results"][1]
    assert (rejected["status"], rejected["message"]) == ("rejected", message)
    # A replay of the same batch in the other language is answered from the ledger, translated.
    other = "en" if language == "vi" else "vi"
    replay = tablet.client.post(
        "/api/v1/sync/push",
        json={"device_id": tablet.device_id, "mutations": [household, bad_counts]},
        headers={**tablet.headers, "Accept-Language": other},
    )
    assert replay.get_json()["results"][1]["message"] != message
