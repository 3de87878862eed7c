"""GET /api/v1/rejections and POST /rejections/{id}/apply (docs/api-conflicts.md), with rejections
made by real pushes."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text

from field_server.extensions import db
from field_server.models import Device, DeviceMutation, Household, Visit
from schemas.rejections import ApplyResultSchema, RejectionSchema

from .supervision_helpers import assert_error, assert_figures_right, audit_rows
from .sync_helpers import Tablet, schema_errors

REJECTIONS = "/api/v1/rejections"


@pytest.fixture
def tablet(client, world):
    return Tablet(world, client, "cv.vg.001")


@pytest.fixture
def sv(client, world):
    return world.headers(client, "sv.vangiang")


def apply(client, rejection_id, headers, **body):
    return client.post(f"{REJECTIONS}/{rejection_id}/apply", json=body, headers=headers)


def bad_counts(tablet) -> tuple[str, dict, dict]:
    """A household, then a visit whose installs exceed its smartphones: rejected."""
    household = tablet.household()
    visit = tablet.visit(household["id"], installed_during=5)
    results = tablet.push([household, visit])["results"]
    assert results[1]["status"] == "rejected" and results[1]["code"] == "validation_failed"
    return household["id"], visit, results[1]


def test_list_shows_the_payload_reason_and_device(client, tablet, sv):
    _, visit, result = bad_counts(tablet)
    body = client.get(REJECTIONS, headers=sv).get_json()
    assert body["has_more"] is False
    [item] = body["items"]
    assert item == {
        "id": f"{tablet.device_id}:2",
        "device_id": tablet.device_id,
        "mutation_id": 2,
        "canvasser": "cv.vg.001",
        "ward": "gso-2020:12019",  # the ward of the household the visit was for
        "type": "visit.create",
        "entity_id": visit["id"],
        "code": "validation_failed",
        "message": result["message"],
        "errors": result["errors"],
        "payload": visit,
        "received_at": item["received_at"],
        "resolved_at": None,
        "resolved_by": None,
    }
    assert "installed_during" in item["errors"]
    assert schema_errors(RejectionSchema, item) == []


def test_list_pages_newest_first(client, tablet, sv):
    bad_counts(tablet)
    bad_counts(tablet)
    first = client.get(f"{REJECTIONS}?limit=1", headers=sv).get_json()
    assert [i["mutation_id"] for i in first["items"]] == [4] and first["has_more"] is True
    rest = client.get(f"{REJECTIONS}?limit=1&cursor={first['cursor']}", headers=sv).get_json()
    assert [i["mutation_id"] for i in rest["items"]] == [2] and rest["has_more"] is False
    assert_error(client.get(f"{REJECTIONS}?cursor=nope", headers=sv), 400, "cursor_invalid")
    assert_error(client.get(f"{REJECTIONS}?limit=0", headers=sv), 422, "validation_failed")


def test_apply_with_corrected_data(app, client, tablet, sv):
    household_id, visit, _ = bad_counts(tablet)
    _, cursor, _ = tablet.pull_all()
    rejection_id = f"{tablet.device_id}:2"
    data = {**visit["data"], "installed_during": 2}
    response = apply(client, rejection_id, sv, data=data)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert schema_errors(ApplyResultSchema, body) == []
    assert list(body) == list(ApplyResultSchema().fields)
    assert body["id"] == rejection_id and body["resolved_by"] == "sv.vangiang"
    assert body["result"]["status"] == "applied" and body["result"]["id"] == visit["id"]

    with app.app_context():
        row = db.session.get(Visit, visit["id"])
        assert row.installed_during == 2 and row.device_id == tablet.device_id
        assert db.session.get(Household, household_id).installed == 3
        # The device's numbering and the ledger's answer are untouched.
        assert db.session.get(Device, tablet.device_id).last_mutation_id == 2
        ledger = db.session.get(DeviceMutation, (tablet.device_id, 2))
        assert ledger.status == "rejected" and ledger.resolved_at is not None
    assert_figures_right(app)
    [entry] = audit_rows(app, "rejection.apply")
    assert entry.target == rejection_id and entry.actor == "sv.vangiang"
    assert json.loads(entry.details)["corrected"] is True

    assert client.get(REJECTIONS, headers=sv).get_json()["items"] == []
    assert_error(apply(client, rejection_id, sv, data=data), 409, "rejection_resolved")

    # The tablet pulls the visit; its own replay still gets the first answer; numbering
    # goes on where it was.
    changes, _, _ = tablet.pull_all(cursor)
    assert ("visit", visit["id"]) in {(c["entity"], c["id"]) for c in changes}
    replay = tablet.push([visit])["results"][0]
    assert replay["status"] == "rejected" and replay["replayed"] is True
    assert tablet.push([tablet.household(address="Số 3 phố Hiến Nam")])["last_mutation_id"] == 3


def test_apply_once_the_cause_is_gone(app, client, tablet, sv):
    # The visit reaches the server before its household (pushed from another queue).
    household_id = str(uuid.uuid4())
    visit = tablet.visit(household_id)
    result = tablet.push([visit])["results"][0]
    assert result["code"] == "household_unknown"
    household = {**tablet.household(), "id": household_id}
    tablet.push([household])
    response = apply(client, f"{tablet.device_id}:1", sv)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"]["status"] == "applied"
    with app.app_context():
        assert db.session.get(Visit, visit["id"]).household_id == household["id"]
    assert_figures_right(app)


def test_a_second_refusal_changes_nothing(app, client, tablet, sv):
    _, visit, _ = bad_counts(tablet)
    rejection_id = f"{tablet.device_id}:2"
    body = assert_error(apply(client, rejection_id, sv), 422, "mutation_rejected")
    assert body["details"]["reason"] == "validation_failed"
    assert "installed_during" in body["errors"]
    body = assert_error(
        apply(client, rejection_id, sv, data={**visit["data"], "outcome": "danced"}),
        422,
        "mutation_rejected",
    )
    assert "outcome" in body["errors"]
    with app.app_context():
        assert db.session.get(Visit, visit["id"]) is None
        assert db.session.get(DeviceMutation, (tablet.device_id, 2)).resolved_at is None
    assert len(client.get(REJECTIONS, headers=sv).get_json()["items"]) == 1
    assert audit_rows(app, "rejection.apply") == []


@pytest.mark.parametrize("body", [{"data": "x"}, {"data": {}, "why": "typo"}])
def test_apply_refuses_a_bad_body(client, tablet, sv, body):
    bad_counts(tablet)
    response = client.post(f"{REJECTIONS}/{tablet.device_id}:2/apply", json=body, headers=sv)
    assert_error(response, 422, "validation_failed")


def test_roles_and_scope(app, client, world, tablet, sv):
    bad_counts(tablet)
    rejection_id = f"{tablet.device_id}:2"
    canvasser = world.headers(client, "cv.vg.001")
    assert_error(client.get(REJECTIONS, headers=canvasser), 403, "forbidden")
    assert_error(apply(client, rejection_id, canvasser), 403, "forbidden")

    district = world.headers(client, "dt.vangiang")
    assert len(client.get(REJECTIONS, headers=district).get_json()["items"]) == 1
    assert_error(apply(client, rejection_id, district), 403, "forbidden")

    # The owner's units decide: another ward's supervisor neither sees nor applies it.
    other = world.headers(client, "sv.xuanquan")
    assert client.get(REJECTIONS, headers=other).get_json()["items"] == []
    assert client.get(f"{REJECTIONS}?ward=gso-2020:12022", headers=other).get_json()["items"] == []
    assert_error(client.get(f"{REJECTIONS}?ward=gso-2020:12019", headers=other), 404, "not_found")
    assert_error(apply(client, rejection_id, other), 404, "not_found")
    assert client.get(f"{REJECTIONS}?ward=gso-2020:12019", headers=sv).get_json()["items"]

    for missing in (f"{tablet.device_id}:9", f"{tablet.device_id}:1", "junk", f"{uuid.uuid4()}:2"):
        assert_error(apply(client, missing, sv), 404, "not_found")
    with app.app_context():
        assert db.session.execute(select(Visit)).first() is None
    admin = world.headers(client, "admin")
    data = {**client.get(REJECTIONS, headers=admin).get_json()["items"][0]["payload"]["data"]}
    data["installed_during"] = 1
    assert apply(client, rejection_id, admin, data=data).status_code == 200


def test_a_mutation_aimed_outside_the_canvassers_wards_stays_with_their_supervisor(
    client, world, tablet, sv
):
    from .sync_helpers import WARD_B

    result = tablet.push([tablet.household(ward=WARD_B)])["results"][0]
    assert result["code"] == "forbidden_ward"
    [item] = client.get(REJECTIONS, headers=sv).get_json()["items"]
    assert item["ward"] is None and item["code"] == "forbidden_ward"
    other = world.headers(client, "sv.xuanquan")
    assert client.get(REJECTIONS, headers=other).get_json()["items"] == []


def test_the_list_reads_the_index_of_open_rejections(app, client, tablet, sv):
    """GET /rejections reads the ledger's few open rejections through their own index
    (migration a1d9e4c7b350), not the whole ledger: the status is in the statement as the
    index's predicate spells it, so both databases can tell the index holds every row."""
    from sqlalchemy import event

    bad_counts(tablet)
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "FROM device_mutations" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert len(client.get(REJECTIONS, headers=sv).get_json()["items"]) == 1
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    [(statement, parameters)] = statements
    with app.app_context():
        if engine.dialect.name == "postgresql":
            # A ledger this small is cheapest to scan: ask for any index that can serve.
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        rows = db.session.connection().exec_driver_sql(explain + statement, parameters).all()
        db.session.rollback()
    plan = "\n".join(str(row) for row in rows)
    assert "ix_device_mutations_open_rejections" in plan, plan
