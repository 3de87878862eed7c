"""GET /api/v1/conflicts, POST /conflicts/{id}/resolve and /dismiss (docs/api-conflicts.md), with
conflicts made by real pushes."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import Conflict, Household, Revision, Visit
from schemas.conflicts import ConflictSchema

from .review_helpers import assert_fits
from .supervision_helpers import assert_error, assert_figures_right, audit_rows, open_conflicts
from .sync_helpers import WARD_A, WARD_B, Tablet

CONFLICTS = "/api/v1/conflicts"
_numbers = itertools.count(100)


def address() -> str:
    """A new house on the lane each time: only duplicate_conflict makes duplicates."""
    return f"Số {next(_numbers)}, ngõ 34, phố Hiến Nam"


@pytest.fixture
def tablet(client, world):
    return Tablet(world, client, "cv.vg.001")


@pytest.fixture
def sv(client, world):
    return world.headers(client, "sv.vangiang")


def new_visit(tablet) -> tuple[str, str]:
    household = tablet.household(address=address())
    visit = tablet.visit(household["id"])
    results = tablet.push([household, visit])["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    return household["id"], visit["id"]


def visit_field_conflict(client, tablet, sv) -> tuple[str, str, str]:
    """The supervisor corrects installed_during to 1; the tablet, from version 1, sets it
    to 0 and writes a note: the supervisor's value stays, a conflict is recorded."""
    household_id, visit_id = new_visit(tablet)
    response = client.patch(
        f"/api/v1/visits/{visit_id}",
        json={"base_version": 1, "data": {"installed_during": 1}},
        headers=sv,
    )
    assert response.status_code == 200, response.get_json()
    update = tablet.mutation(
        "visit.update", visit_id, {"installed_during": 0, "notes": "bà cụ chưa cài"}, 1
    )
    result = tablet.push([update])["results"][0]
    assert result["status"] == "conflict", result
    return household_id, visit_id, result["conflict_id"]


def household_conflict(tablet) -> tuple[str, str]:
    """Two edits of the head's name from version 1: the later wins, a conflict is kept."""
    household = tablet.household(address=address())
    tablet.push([household])
    first = tablet.mutation("household.upsert", household["id"], {"head_name": "Trần Văn B"}, 1)
    second = tablet.mutation("household.upsert", household["id"], {"head_name": "Trần Văn C"}, 1)
    tablet.push([first])
    result = tablet.push([second])["results"][0]
    assert result["status"] == "conflict", result
    return household["id"], result["conflict_id"]


def duplicate_conflict(tablet, at="Số 5, ngõ 7, phố Bến Xe") -> tuple[str, str, str]:
    first, second = tablet.household(address=at), tablet.household(address=at)
    results = tablet.push([first, second])["results"]
    assert results[1]["status"] == "conflict"
    return first["id"], second["id"], results[1]["conflict_id"]


def resolve(client, conflict_id, headers, **body):
    return client.post(f"{CONFLICTS}/{conflict_id}/resolve", json=body, headers=headers)


def visit_row(app, visit_id) -> Visit:
    with app.app_context():
        row = db.session.get(Visit, visit_id)
        db.session.expunge_all()
        return row


def household_row(app, household_id) -> Household:
    with app.app_context():
        row = db.session.get(Household, household_id)
        db.session.expunge_all()
        return row


# --- list ----------------------------------------------------------------------------------


def test_list_shows_conflicts_newest_first_in_pages(client, tablet, sv):
    _, visit_id, first = visit_field_conflict(client, tablet, sv)
    _, _, second = duplicate_conflict(tablet)
    body = client.get(f"{CONFLICTS}?ward={WARD_A}&limit=1", headers=sv).get_json()
    assert [item["id"] for item in body["items"]] == [second]
    assert body["has_more"] is True
    rest = client.get(f"{CONFLICTS}?ward={WARD_A}&cursor={body['cursor']}", headers=sv).get_json()
    assert [item["id"] for item in rest["items"]] == [first]
    assert rest["has_more"] is False and rest["cursor"] is None
    item = rest["items"][0]
    assert item == {
        "id": first,
        "kind": "field_conflict",
        "entity": "visit",
        "entity_id": visit_id,
        "ward": WARD_A,
        "fields": {"installed_during": {"base": 2, "server": 1, "client": 0}},
        "device_id": tablet.device_id,
        "mutation_id": 3,
        "created_at": item["created_at"],
        "status": "open",
        "resolved_at": None,
        "resolved_by": None,
    }
    assert item["created_at"].endswith("Z")
    assert_fits(ConflictSchema(), item)


def test_list_filters_by_status_and_kind(client, tablet, sv):
    _, _, field_id = visit_field_conflict(client, tablet, sv)
    _, _, duplicate_id = duplicate_conflict(tablet)
    client.post(f"{CONFLICTS}/{duplicate_id}/dismiss", headers=sv)

    def ids(query):
        response = client.get(f"{CONFLICTS}?{query}", headers=sv)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("status=open") == [field_id]
    assert ids("status=dismissed") == [duplicate_id]
    assert ids("status=resolved") == []
    assert ids("kind=possible_duplicate") == [duplicate_id]
    assert ids(f"ward={WARD_A}&kind=field_conflict&status=open") == [field_id]
    assert set(ids("")) == {field_id, duplicate_id}


@pytest.mark.parametrize(
    "query",
    ["status=closed", "kind=other", "ward=nowhere", "limit=0", "limit=1001", "colour=red"],
)
def test_list_refuses_a_bad_query(client, world, query):
    response = client.get(f"{CONFLICTS}?{query}", headers=world.headers(client, "admin"))
    assert_error(response, 422, "validation_failed")


def test_list_refuses_a_forged_cursor(client, world):
    response = client.get(f"{CONFLICTS}?cursor=abc", headers=world.headers(client, "admin"))
    assert_error(response, 400, "cursor_invalid")


# --- resolve a visit's conflict ------------------------------------------------------------


def test_take_client_writes_the_tablets_values_as_a_supervisor(app, client, tablet, sv):
    household_id, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    assert household_row(app, household_id).installed == 2  # 1 before + 1 (corrected)
    assert open_conflicts(app, WARD_A) == 1
    _, cursor, _ = tablet.pull_all()

    response = resolve(client, conflict_id, sv, resolution="take_client")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert_fits(ConflictSchema(), body)
    assert body["status"] == "resolved" and body["resolved_by"] == "sv.vangiang"
    assert body["resolved_at"].endswith("Z")

    visit = visit_row(app, visit_id)
    assert visit.installed_during == 0 and visit.notes == "bà cụ chưa cài"
    assert visit.version == 4  # created, corrected, the tablet's note, the resolution
    assert household_row(app, household_id).installed == 1
    with app.app_context():
        revision = db.session.execute(
            select(Revision).where(Revision.entity_id == visit_id, Revision.version == 4)
        ).scalar_one()
        assert revision.author_role == "supervisor" and revision.author == "sv.vangiang"
        assert json.loads(revision.changed) == ["installed_during"]
        assert json.loads(revision.data) == {"installed_during": 1}
    assert open_conflicts(app, WARD_A) == 0
    assert_figures_right(app)
    [entry] = audit_rows(app, "conflict.resolve")
    assert entry.actor == "sv.vangiang" and entry.target == conflict_id
    assert json.loads(entry.details)["resolution"] == "take_client"

    # The tablets pull the resolution (the visit and its household's counters).
    changes, _, _ = tablet.pull_all(cursor)
    pulled = {(c["entity"], c["id"]): c for c in changes}
    assert pulled[("visit", visit_id)]["data"]["installed_during"] == 0
    assert pulled[("visit", visit_id)]["version"] == 4
    assert pulled[("household", household_id)]["data"]["installed"] == 1

    # A later tablet edit of the field from an older version loses to the supervisor.
    late = tablet.mutation("visit.update", visit_id, {"installed_during": 2}, 3)
    result = tablet.push([late])["results"][0]
    assert result["status"] == "conflict"
    assert visit_row(app, visit_id).installed_during == 0


def test_keep_server_leaves_the_record(app, client, tablet, sv):
    _, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    before = visit_row(app, visit_id)
    response = resolve(client, conflict_id, sv, resolution="keep_server")
    assert response.status_code == 200, response.get_json()
    after = visit_row(app, visit_id)
    assert (after.version, after.installed_during, after.change_seq) == (
        before.version,
        before.installed_during,
        before.change_seq,
    )
    assert open_conflicts(app, WARD_A) == 0
    assert_figures_right(app)


def test_set_writes_given_values_checked_by_the_field_rules(app, client, tablet, sv):
    household_id, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    # More installs than smartphones: the tablets' count rules refuse it.
    body = assert_error(
        resolve(client, conflict_id, sv, resolution="set", values={"installed_during": 5}),
        422,
        "validation_failed",
    )
    assert "installed_during" in body["errors"]
    # Only the conflict's own fields.
    english = {**sv, "Accept-Language": "en"}
    body = assert_error(
        resolve(client, conflict_id, english, resolution="set", values={"adults": 9}),
        422,
        "validation_failed",
    )
    assert body["errors"] == {"values": {"adults": ["Not a field of this conflict."]}}
    assert_error(resolve(client, conflict_id, sv, resolution="set"), 422, "validation_failed")
    assert visit_row(app, visit_id).version == 3 and open_conflicts(app, WARD_A) == 1

    response = resolve(client, conflict_id, sv, resolution="set", values={"installed_during": 2})
    assert response.status_code == 200, response.get_json()
    assert visit_row(app, visit_id).installed_during == 2
    assert household_row(app, household_id).installed == 3
    assert_figures_right(app)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"resolution": "take_all"},
        {"resolution": "keep_server", "values": {"notes": "x"}},
        {"resolution": "set", "values": "notes"},
        {"resolution": "keep_server", "comment": "ok"},
    ],
)
def test_resolve_refuses_a_bad_body(app, client, tablet, sv, body):
    _, _, conflict_id = visit_field_conflict(client, tablet, sv)
    response = client.post(f"{CONFLICTS}/{conflict_id}/resolve", json=body, headers=sv)
    assert_error(response, 422, "validation_failed")
    assert open_conflicts(app, WARD_A) == 1


def test_a_closed_conflict_cannot_be_settled_again(app, client, tablet, sv):
    _, _, conflict_id = visit_field_conflict(client, tablet, sv)
    assert resolve(client, conflict_id, sv, resolution="keep_server").status_code == 200
    body = assert_error(
        resolve(client, conflict_id, sv, resolution="take_client"), 409, "conflict_closed"
    )
    assert body["details"] == {"status": "resolved"}
    assert_error(
        client.post(f"{CONFLICTS}/{conflict_id}/dismiss", headers=sv), 409, "conflict_closed"
    )
    assert open_conflicts(app, WARD_A) == 0
    assert len(audit_rows(app, "conflict.resolve")) == 1


def test_dismiss_closes_without_touching_the_record(app, client, tablet, sv):
    _, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    version = visit_row(app, visit_id).version
    response = client.post(f"{CONFLICTS}/{conflict_id}/dismiss", headers=sv)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "dismissed"
    assert_fits(ConflictSchema(), response.get_json())
    assert visit_row(app, visit_id).version == version
    assert open_conflicts(app, WARD_A) == 0
    [entry] = audit_rows(app, "conflict.dismiss")
    assert entry.target == conflict_id and entry.actor == "sv.vangiang"
    assert_error(
        client.post(f"{CONFLICTS}/{conflict_id}/dismiss", headers=sv), 409, "conflict_closed"
    )


def test_dismiss_takes_no_body(client, tablet, sv):
    _, _, conflict_id = visit_field_conflict(client, tablet, sv)
    response = client.post(f"{CONFLICTS}/{conflict_id}/dismiss", json={"why": "x"}, headers=sv)
    assert_error(response, 422, "validation_failed")


# --- the other kinds -----------------------------------------------------------------------


def test_household_conflict_set_and_take_client(app, client, tablet, sv):
    household_id, conflict_id = household_conflict(tablet)
    assert household_row(app, household_id).head_name == "Trần Văn C"
    response = resolve(
        client, conflict_id, sv, resolution="set", values={"head_name": "Trần Văn Bình"}
    )
    assert response.status_code == 200, response.get_json()
    row = household_row(app, household_id)
    assert row.head_name == "Trần Văn Bình" and row.version == 4
    with app.app_context():
        revision = db.session.execute(
            select(Revision).where(Revision.entity_id == household_id, Revision.version == 4)
        ).scalar_one()
        assert revision.author_role == "supervisor"

    other_household, other_conflict = household_conflict(tablet)
    bad = resolve(client, other_conflict, sv, resolution="set", values={"head_name": 7})
    assert_error(bad, 422, "validation_failed")
    assert resolve(client, other_conflict, sv, resolution="take_client").status_code == 200
    assert household_row(app, other_household).head_name == "Trần Văn C"
    assert_figures_right(app)


def test_void_vs_edit_take_client_restores_the_edited_visit(app, client, tablet, sv):
    household_id, visit_id = new_visit(tablet)
    void = tablet.mutation("visit.void", visit_id, {"reason": "nhầm nhà"}, 1)
    edit = tablet.mutation("visit.update", visit_id, {"installed_during": 1}, 1)
    tablet.push([void])
    results = [None, tablet.push([edit])["results"][0]]
    assert results[1]["status"] == "conflict", results
    assert household_row(app, household_id).installed is None  # the void wins
    response = resolve(client, results[1]["conflict_id"], sv, resolution="take_client")
    assert response.status_code == 200, response.get_json()
    visit = visit_row(app, visit_id)
    assert visit.voided is False and visit.installed_during == 1 and visit.version == 3
    assert household_row(app, household_id).installed == 2
    assert_figures_right(app)


def test_void_vs_edit_keep_server_keeps_the_void(app, client, tablet, sv):
    household_id, visit_id = new_visit(tablet)
    edit = tablet.mutation("visit.update", visit_id, {"notes": "gặp con trai"}, 1)
    void = tablet.mutation("visit.void", visit_id, {}, 1)
    tablet.push([edit])
    results = [None, tablet.push([void])["results"][0]]
    assert results[1]["status"] == "conflict", results
    conflict_id = results[1]["conflict_id"]
    assert resolve(client, conflict_id, sv, resolution="keep_server").status_code == 200
    assert visit_row(app, visit_id).voided is True
    assert household_row(app, household_id).installed is None
    assert_figures_right(app)


def test_visit_locked_take_client_applies_the_refused_edit(app, client, tablet, sv):
    household_id, visit_id = new_visit(tablet)
    response = client.post(
        f"/api/v1/visits/{visit_id}/review", json={"action": "approve"}, headers=sv
    )
    assert response.status_code == 200, response.get_json()
    edit = tablet.mutation("visit.update", visit_id, {"installed_during": 1}, 1)
    result = tablet.push([edit])["results"][0]
    assert result["status"] == "rejected" and result["code"] == "visit_locked"
    with app.app_context():
        conflict = db.session.execute(
            select(Conflict).where(Conflict.kind == "visit_locked")
        ).scalar_one()
        conflict_id = conflict.id
    assert open_conflicts(app, WARD_A) == 1
    assert resolve(client, conflict_id, sv, resolution="take_client").status_code == 200
    visit = visit_row(app, visit_id)
    assert visit.installed_during == 1 and visit.review_status == "approved"
    assert household_row(app, household_id).installed == 2
    assert open_conflicts(app, WARD_A) == 0
    assert_figures_right(app)


def test_a_possible_duplicate_is_merged_kept_or_dismissed_not_taken(app, client, tablet, sv):
    _, _, conflict_id = duplicate_conflict(tablet)
    body = assert_error(
        resolve(client, conflict_id, sv, resolution="take_client"), 422, "validation_failed"
    )
    assert "resolution" in body["errors"]
    assert resolve(client, conflict_id, sv, resolution="keep_server").status_code == 200
    assert open_conflicts(app, WARD_A) == 0
    assert_figures_right(app)


# --- roles and scope -----------------------------------------------------------------------


def test_roles_and_scope(app, client, world, tablet, sv):
    _, _, conflict_id = visit_field_conflict(client, tablet, sv)
    canvasser = world.headers(client, "cv.vg.001")
    assert_error(client.get(CONFLICTS, headers=canvasser), 403, "forbidden")
    assert_error(
        resolve(client, conflict_id, canvasser, resolution="keep_server"), 403, "forbidden"
    )

    district = world.headers(client, "dt.vangiang")
    listed = client.get(f"{CONFLICTS}?ward=gso-2020:326", headers=district).get_json()
    assert [item["id"] for item in listed["items"]] == [conflict_id]
    assert_error(resolve(client, conflict_id, district, resolution="keep_server"), 403, "forbidden")
    assert_error(
        client.post(f"{CONFLICTS}/{conflict_id}/dismiss", headers=district), 403, "forbidden"
    )

    other = world.headers(client, "sv.xuanquan")
    assert client.get(CONFLICTS, headers=other).get_json()["items"] == []
    assert client.get(f"{CONFLICTS}?ward={WARD_B}", headers=other).get_json()["items"] == []
    assert_error(client.get(f"{CONFLICTS}?ward={WARD_A}", headers=other), 404, "not_found")
    assert_error(resolve(client, conflict_id, other, resolution="keep_server"), 404, "not_found")
    assert_error(client.post(f"{CONFLICTS}/{conflict_id}/dismiss", headers=other), 404, "not_found")
    far = world.headers(client, "sv.hiennam")
    assert_error(
        resolve(client, "no-such-conflict", far, resolution="keep_server"), 404, "not_found"
    )
    assert open_conflicts(app, WARD_A) == 1

    admin = world.headers(client, "admin")
    assert resolve(client, conflict_id, admin, resolution="keep_server").status_code == 200
