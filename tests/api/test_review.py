"""POST /api/v1/visits/{visit_id}/review and POST /api/v1/visits/review
(docs/api-supervision.md)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from field_server.extensions import db
from field_server.models import AuditEntry, Conflict, Visit
from schemas.review import BulkReviewResultSchema
from schemas.visits import VisitDetailSchema
from tests.api.review_helpers import (
    assert_error,
    assert_figures_consistent,
    assert_fits,
    canvass,
    counted_statements,
)
from tests.api.sync_helpers import WARD_A, Tablet

VISITS = "/api/v1/visits"
BULK = "/api/v1/visits/review"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def canvassed(world, client):
    return canvass(world, client)


def review(client, headers, visit_id, expect=200, **body):
    response = client.post(f"{VISITS}/{visit_id}/review", json=body, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def stored(app, visit_id):
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        db.session.expunge_all()
        return visit


def audit_rows(app):
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "visit.review").order_by(AuditEntry.id)
        ).scalars()
        return [(r.actor, r.target, json.loads(r.details)) for r in rows]


def ward_totals(world, client, unit=WARD_A):
    response = client.get(
        f"/api/v1/stats?unit={unit}&to=2020-08-31", headers=world.headers(client, "admin")
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["totals"]


def test_approve_answers_the_reviewed_visit(app, world, client, canvassed):
    visit_id = canvassed.visits["new"]
    body = review(
        client, world.headers(client, "sv.vangiang"), visit_id, action="approve", comment="Tốt"
    )
    assert_fits(VisitDetailSchema(), body)
    assert body["id"] == visit_id
    assert body["review_status"] == "approved" and body["review_comment"] == "Tốt"
    assert body["reviewed_by"] == "sv.vangiang" and body["reviewed_at"].endswith("Z")
    assert body["version"] == 1  # a review is not a change of the visit's data
    assert [h["version"] for h in body["history"]] == [1]
    visit = stored(app, visit_id)
    assert visit.review_status == "approved" and visit.version == 1
    assert audit_rows(app) == [
        (
            "sv.vangiang",
            visit_id,
            {
                "action": "approve",
                "comment": "Tốt",
                "previous_status": "pending",
                "review_status": "approved",
            },
        )
    ]


def test_each_action_sets_its_status_and_the_queue_rank(app, world, client, canvassed):
    headers = world.headers(client, "admin")
    plain, far = canvassed.visits["new"], canvassed.visits["far"]
    for action, status, rank in [
        ("flag", "flagged", 1),
        ("approve", "approved", 0),
        ("reject", "rejected", 0),
        ("reset", "pending", 0),
    ]:
        assert review(client, headers, plain, action=action)["review_status"] == status
        assert stored(app, plain).queue_rank == rank
    # a visit with a quality flag stays in front whatever its review
    review(client, headers, far, action="approve")
    assert stored(app, far).queue_rank == 1
    # a flagged visit joins the front of the queue (newest first there)
    review(client, headers, plain, action="flag")
    queue = client.get(f"{VISITS}?ward={WARD_A}", headers=headers).get_json()
    assert [i["id"] for i in queue["items"]][:3] == [plain, far, canvassed.visits["priority"]]
    flagged = client.get(f"{VISITS}?review_status=flagged", headers=headers).get_json()
    assert flagged["items"] == [queue["items"][0]]


def test_a_comment_is_replaced_by_the_next_review(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    visit_id = canvassed.visits["old"]
    review(client, headers, visit_id, action="flag", comment="Kiểm tra lại số người")
    assert review(client, headers, visit_id, action="approve")["review_comment"] is None


def test_rejected_visits_stop_counting_at_once(app, world, client, canvassed):
    before = ward_totals(world, client)
    headers = world.headers(client, "sv.vangiang")
    # h3's only visit: 1 install, a priority subject
    review(client, headers, canvassed.visits["priority"], action="reject", comment="Bịa")
    after = ward_totals(world, client)
    assert after["installed"] == before["installed"] - 1
    assert after["priority_subjects"] == before["priority_subjects"] - 1
    assert after["review"]["rejected"] == 1
    assert after["review"]["pending"] == before["review"]["pending"] - 1
    household = client.get(
        f"/api/v1/households/{canvassed.households['h3']}", headers=headers
    ).get_json()
    assert household["installed"] is None and household["adults"] is None
    assert_figures_consistent(app)
    # and counting again once the rejection is undone
    review(client, headers, canvassed.visits["priority"], action="reset")
    assert ward_totals(world, client)["installed"] == before["installed"]
    assert_figures_consistent(app)


def test_tablets_pull_the_review_without_a_new_version(world, client, canvassed):
    tablet: Tablet = canvassed.tablets["a"]
    _, cursor, _ = tablet.pull_all()
    review(
        client, world.headers(client, "sv.vangiang"), canvassed.visits["priority"], action="reject"
    )
    changes, _, _ = tablet.pull_all(cursor)
    by_id = {(c["entity"], c["id"]): c for c in changes}
    visit = by_id[("visit", canvassed.visits["priority"])]
    assert visit["data"]["review_status"] == "rejected" and visit["version"] == 1
    # the household's counters changed with it
    household = by_id[("household", canvassed.households["h3"])]
    assert household["data"]["installed"] is None


def test_an_approved_visit_is_locked_against_the_tablet(app, world, client, canvassed):
    visit_id = canvassed.visits["new"]
    review(client, world.headers(client, "sv.vangiang"), visit_id, action="approve")
    tablet: Tablet = canvassed.tablets["a"]
    update = tablet.mutation("visit.update", visit_id, {"notes": "sửa lại"}, base_version=1)
    result = tablet.push([update])["results"][0]
    assert result["status"] == "rejected" and result["code"] == "visit_locked"
    with app.app_context():
        conflict = db.session.execute(
            select(Conflict).where(Conflict.entity_id == visit_id)
        ).scalar_one()
        assert conflict.kind == "visit_locked" and conflict.status == "open"
    assert stored(app, visit_id).notes == ""


def test_a_voided_visit_cannot_be_reviewed(app, world, client, canvassed):
    tablet: Tablet = canvassed.tablets["a"]
    visit_id = canvassed.visits["old"]
    tablet.push([tablet.mutation("visit.void", visit_id, {"reason": "nhầm"}, base_version=1)])
    headers = world.headers(client, "sv.vangiang")
    response = client.post(
        f"{VISITS}/{visit_id}/review", json={"action": "approve"}, headers=headers
    )
    body = assert_error(response, 409, "visit_voided")
    assert body["details"] == {"ids": [visit_id]}
    assert stored(app, visit_id).review_status == "pending"
    assert audit_rows(app) == []


@pytest.mark.parametrize(
    ("user", "visit", "body", "status", "code"),
    [
        ("dt.vangiang", "new", {"action": "approve"}, 403, "forbidden"),
        ("cv.vg.001", "new", {"action": "approve"}, 403, "forbidden"),
        ("sv.xuanquan", "new", {"action": "approve"}, 404, "not_found"),
        ("sv.vangiang", "other", {"action": "approve"}, 404, "not_found"),
        ("sv.vangiang", None, {"action": "approve"}, 404, "not_found"),
        ("sv.vangiang", "new", {"action": "delete"}, 422, "validation_failed"),
        ("sv.vangiang", "new", {}, 422, "validation_failed"),
        ("sv.vangiang", "new", {"action": "approve", "status": "x"}, 422, "validation_failed"),
        ("sv.vangiang", "new", {"action": "approve", "comment": 5}, 422, "validation_failed"),
        ("sv.vangiang", "new", {"action": "flag", "comment": "x" * 2001}, 422, "validation_failed"),
    ],
)
def test_single_review_refusals(app, world, client, canvassed, user, visit, body, status, code):
    visit_id = canvassed.visits[visit] if visit else UNKNOWN
    response = client.post(
        f"{VISITS}/{visit_id}/review", json=body, headers=world.headers(client, user)
    )
    assert_error(response, status, code)
    assert stored(app, canvassed.visits["new"]).review_status == "pending"


def test_a_body_that_is_not_json_is_refused(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    url = f"{VISITS}/{canvassed.visits['new']}/review"
    assert_error(
        client.post(url, data="x", headers=headers, content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert_error(
        client.post(url, data="{", headers=headers, content_type="application/json"),
        400,
        "json_invalid",
    )


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_review_answers_every_reviewed_visit(app, world, client, canvassed):
    v = canvassed.visits
    ids = [v["new"], v["old"], v["refused"], v["new"]]  # a repeated id is reviewed once
    response = client.post(
        BULK,
        json={"ids": ids, "action": "approve", "comment": "Đợt 1"},
        headers=world.headers(client, "sv.vangiang"),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert_fits(BulkReviewResultSchema(), body)
    assert body["updated"] == 3 and body["review_status"] == "approved"
    assert [i["id"] for i in body["items"]] == [v["new"], v["old"], v["refused"]]
    assert all(i["review_status"] == "approved" for i in body["items"])
    assert all(i["reviewed_by"] == "sv.vangiang" for i in body["items"])
    assert [target for _, target, _ in audit_rows(app)] == [v["new"], v["old"], v["refused"]]
    assert_figures_consistent(app)


@pytest.mark.parametrize(
    ("user", "extra", "status", "code"),
    [
        ("sv.vangiang", [UNKNOWN], 404, "not_found"),
        ("sv.vangiang", ["other"], 404, "not_found"),  # ward B's visit
        ("dt.vangiang", [], 403, "forbidden"),
        ("cv.vg.001", [], 403, "forbidden"),
    ],
)
def test_bulk_is_all_or_nothing(app, world, client, canvassed, user, extra, status, code):
    v = canvassed.visits
    ids = [v["new"], v["old"]] + [v.get(e, e) for e in extra]
    response = client.post(
        BULK, json={"ids": ids, "action": "reject"}, headers=world.headers(client, user)
    )
    body = assert_error(response, status, code)
    if status == 404:
        assert body["details"] == {"ids": [v.get(extra[0], extra[0])]}
    assert stored(app, v["new"]).review_status == "pending"
    assert stored(app, v["old"]).review_status == "pending"
    assert audit_rows(app) == []


def test_bulk_with_a_voided_visit_changes_nothing(app, world, client, canvassed):
    tablet: Tablet = canvassed.tablets["a"]
    v = canvassed.visits
    tablet.push([tablet.mutation("visit.void", v["old"], {"reason": "nhầm"}, base_version=1)])
    response = client.post(
        BULK,
        json={"ids": [v["new"], v["old"]], "action": "approve"},
        headers=world.headers(client, "admin"),
    )
    assert assert_error(response, 409, "visit_voided")["details"] == {"ids": [v["old"]]}
    assert stored(app, v["new"]).review_status == "pending"


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [], "action": "approve"},
        {"ids": [f"{i:08d}-0000-4000-8000-000000000000" for i in range(1001)], "action": "approve"},
        {"ids": "all", "action": "approve"},
        {"ids": [1, 2], "action": "approve"},
        {"action": "approve"},
        {"ids": [UNKNOWN], "action": "destroy"},
        {"ids": [UNKNOWN], "action": "approve", "force": True},
    ],
)
def test_bulk_validation(world, client, canvassed, body):
    response = client.post(BULK, json=body, headers=world.headers(client, "admin"))
    assert_error(response, 422, "validation_failed")


def test_bulk_of_a_thousand_visits_is_a_handful_of_statements(app, world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    ids = []
    for batch in range(2):
        h = tablet.household(address=f"Số {batch + 1}, ngõ 9")
        visits = [
            tablet.visit(h["id"], visited_at=f"2020-08-{10 + batch}T08:{i // 60:02d}:{i % 60:02d}Z")
            for i in range(499)
        ]
        tablet.push([h, *visits])
        ids += [m["id"] for m in visits]
    last = [tablet.visit(h["id"], visited_at=f"2020-08-12T08:00:{i:02d}Z") for i in range(2)]
    tablet.push(last)
    ids += [m["id"] for m in last]
    assert len(ids) == 1000
    headers = world.headers(client, "sv.vangiang")
    with counted_statements(app) as statements:
        response = client.post(BULK, json={"ids": ids, "action": "reject"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["updated"] == 1000
    # authentication, loads in chunks of 500, the figures, the updates, one audit
    # executemany, the stamp, and the answer: a fixed handful, not one per visit
    assert len(statements) < 60
    with app.app_context():
        rejected = db.session.execute(
            select(func.count()).select_from(Visit).where(Visit.review_status == "rejected")
        ).scalar_one()
        assert rejected == 1000
        audited = db.session.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "visit.review")
        ).scalar_one()
        assert audited == 1000
    assert ward_totals(world, client)["installed"] == 0
    assert_figures_consistent(app)
