"""POST /api/v1/households/{id}/merge (docs/api-conflicts.md): visits move to the survivor, the
other household becomes a tombstone that tablets pull as op "merge"."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import Conflict, Household, Visit
from schemas.records import HouseholdRecordSchema

from .review_helpers import assert_fits
from .supervision_helpers import assert_error, assert_figures_right, audit_rows, open_conflicts
from .sync_helpers import WARD_A, WARD_B, Tablet, counts

SAME = "Số 12, ngõ 34, phố Hiến Nam"


def merge(client, household_id, into, headers):
    return client.post(
        f"/api/v1/households/{household_id}/merge", json={"into": into}, headers=headers
    )


@pytest.fixture
def tablet(client, world):
    return Tablet(world, client, "cv.vg.001")


@pytest.fixture
def sv(client, world):
    return world.headers(client, "sv.vangiang")


@pytest.fixture
def pair(tablet):
    """The same house entered twice, each with a visit: (kept, duplicate, conflict id)."""
    kept, duplicate = (
        tablet.household(address=SAME),
        tablet.household(address="SN 12 ngõ 34 phố Hiến Nam"),
    )
    first = tablet.visit(kept["id"], visited_at="2020-08-15T09:31:00+07:00")
    second = tablet.visit(
        duplicate["id"],
        visited_at="2020-08-16T10:00:00+07:00",
        **counts(adults=5, smartphones=4, before=1, during=3),
    )
    results = tablet.push([kept, duplicate, first, second])["results"]
    assert results[1]["status"] == "conflict"
    return kept["id"], duplicate["id"], results[1]["conflict_id"], [first["id"], second["id"]]


def test_merge_moves_visits_and_leaves_a_tombstone(app, client, tablet, sv, pair):
    kept, duplicate, conflict_id, visits = pair
    _, cursor, _ = tablet.pull_all()
    assert open_conflicts(app, WARD_A) == 1

    response = merge(client, duplicate, kept, sv)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert_fits(HouseholdRecordSchema(), body)
    assert body["id"] == kept and body["merged_into"] is None and body["ward"] == WARD_A
    # Counters from both visits now: the latest (16 Aug) gives adults and smartphones,
    # installs are the largest seen.
    assert (body["adults"], body["smartphones"], body["installed"]) == (5, 4, 4)

    with app.app_context():
        assert db.session.get(Household, duplicate).merged_into == kept
        moved = db.session.execute(select(Visit.household_id).where(Visit.id.in_(visits)))
        assert set(moved.scalars()) == {kept}
        conflict = db.session.get(Conflict, conflict_id)
        assert conflict.status == "resolved" and conflict.resolved_by == "sv.vangiang"
    assert open_conflicts(app, WARD_A) == 0
    assert_figures_right(app)
    [entry] = audit_rows(app, "household.merge")
    assert entry.target == duplicate and entry.actor == "sv.vangiang"
    assert json.loads(entry.details) == {
        "into": kept,
        "visits_moved": 1,
        "conflicts_resolved": [conflict_id],
    }

    # Tablets pull the tombstone and the moved visit.
    changes, _, _ = tablet.pull_all(cursor)
    by_key = {(c["entity"], c["id"]): c for c in changes}
    assert by_key[("household", duplicate)] == {
        "entity": "household",
        "op": "merge",
        "id": duplicate,
        "data": {"into": kept},
    }
    assert by_key[("visit", visits[1])]["data"]["household_id"] == kept
    assert by_key[("household", kept)]["data"]["installed"] == 4

    # A tablet still holding the merged household is redirected to the survivor.
    late = tablet.visit(duplicate)
    result = tablet.push([late])["results"][0]
    assert result["status"] == "redirected" and result["redirected_to"] == kept
    assert_figures_right(app)


def test_merge_refuses_itself_and_merged_households(app, client, tablet, sv, pair):
    kept, duplicate, _, _ = pair
    body = assert_error(merge(client, kept, kept, sv), 422, "validation_failed")
    assert "into" in body["errors"]
    assert merge(client, duplicate, kept, sv).status_code == 200
    third = tablet.household(address="Số 99 phố Hiến Nam")
    tablet.push([third])
    body = assert_error(merge(client, third["id"], duplicate, sv), 422, "validation_failed")
    assert "into" in body["errors"]
    body = assert_error(merge(client, duplicate, third["id"], sv), 422, "validation_failed")
    assert "id" in body["errors"]
    assert_figures_right(app)


def test_merge_stays_within_one_ward(app, client, world, tablet, sv, pair):
    kept, _, _, _ = pair
    other = Tablet(world, client, "cv.xq.001")
    elsewhere = other.household(ward=WARD_B, address="Thôn 1, xã Xuân Quan")
    other.push([elsewhere])
    admin = {**world.headers(client, "admin"), "Accept-Language": "en"}
    for into in (elsewhere["id"], "00000000-0000-4000-8000-000000000000"):
        body = assert_error(merge(client, kept, into, admin), 422, "validation_failed")
        assert body["errors"] == {"into": ["No household with this id in this ward."]}
    assert_error(merge(client, "no-such-household", kept, admin), 404, "not_found")


@pytest.mark.parametrize("body", [{}, {"into": ""}, {"into": 12}, {"into": "x", "why": "dup"}])
def test_merge_refuses_a_bad_body(client, sv, pair, body):
    kept, _, _, _ = pair
    response = client.post(f"/api/v1/households/{kept}/merge", json=body, headers=sv)
    assert_error(response, 422, "validation_failed")


def test_merge_roles_and_scope(app, client, world, pair):
    kept, duplicate, _, _ = pair
    assert_error(
        merge(client, duplicate, kept, world.headers(client, "cv.vg.001")), 403, "forbidden"
    )
    assert_error(
        merge(client, duplicate, kept, world.headers(client, "dt.vangiang")), 403, "forbidden"
    )
    assert_error(
        merge(client, duplicate, kept, world.headers(client, "sv.xuanquan")), 404, "not_found"
    )
    with app.app_context():
        assert db.session.get(Household, duplicate).merged_into is None
    assert merge(client, duplicate, kept, world.headers(client, "admin")).status_code == 200
