"""GET /api/v1/visits (the review queue) and GET /api/v1/visits/{visit_id}
(docs/api-supervision.md)."""

from __future__ import annotations

import pytest

from schemas.records import VisitRecordSchema
from schemas.visits import VisitDetailSchema, dump_visit_fast
from tests.api.review_helpers import assert_error, assert_fits, canvass, counted_statements
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, WARD_C, Tablet, counts

VISITS = "/api/v1/visits"
VISIT_KEYS = {
    "id",
    "version",
    "household_id",
    "visited_at",
    "outcome",
    "adults",
    "smartphones",
    "installed_before",
    "installed_during",
    "priority_subjects",
    "priority_installed",
    "lat",
    "lon",
    "accuracy_m",
    "notes",
    "come_back_at",
    "ward",
    "group",
    "canvasser",
    "device_id",
    "review_status",
    "review_comment",
    "flags",
    "voided",
    "received_at",
}


@pytest.fixture
def canvassed(world, client):
    return canvass(world, client)


def queue(client, headers, query: str = "", expect: int = 200) -> dict:
    response = client.get(f"{VISITS}?{query}", headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def ids(body: dict) -> list[str]:
    return [item["id"] for item in body["items"]]


def test_flagged_and_priority_visits_come_first_then_newest_first(world, client, canvassed):
    v = canvassed.visits
    body = queue(client, world.headers(client, "sv.vangiang"), f"ward={WARD_A}")
    assert ids(body) == [v["far"], v["priority"], v["new"], v["refused"], v["old"]]
    assert body["has_more"] is False and body["cursor"] is None
    first = body["items"][0]
    assert set(first) == VISIT_KEYS
    assert first["flags"] == ["gps_far_from_household"]
    assert first["ward"] == WARD_A and first["canvasser"] == "cv.vg.001"
    assert first["visited_at"] == "2020-08-15T03:00:00Z"
    assert first["review_status"] == "pending" and first["voided"] is False
    refused = body["items"][3]
    assert refused["group"] == GROUP_A1 and refused["canvasser"] == "cv.vg.002"


def test_paging_by_cursor_gives_every_visit_once_in_order(world, client, canvassed):
    headers = world.headers(client, "admin")
    whole = ids(queue(client, headers))
    assert len(whole) == 6
    seen, cursor = [], None
    for _ in range(10):
        body = queue(client, headers, "limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert len(body["items"]) <= 2
        seen += ids(body)
        cursor = body["cursor"]
        if not body["has_more"]:
            assert cursor is None
            break
    assert seen == whole


@pytest.mark.parametrize(
    ("user", "query"),
    [
        ("sv.vangiang", f"ward={WARD_A}&from=2020-08-14&to=2020-08-16"),
        ("dt.vangiang", "from=2020-08-15&to=2020-08-15"),
        ("dt.vangiang", "outcome=installed"),
    ],
)
def test_paging_a_filtered_queue_one_by_one(world, client, canvassed, user, query):
    headers = world.headers(client, user)
    whole = ids(queue(client, headers, query))
    assert len(whole) >= 3
    seen, cursor = [], None
    for _ in range(10):
        body = queue(client, headers, f"{query}&limit=1" + (f"&cursor={cursor}" if cursor else ""))
        seen += ids(body)
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert seen == whole


def test_without_ward_the_queue_is_the_callers_scope(world, client, canvassed):
    v = canvassed.visits
    supervisor = ids(queue(client, world.headers(client, "sv.vangiang")))
    assert v["other"] not in supervisor and len(supervisor) == 5
    assert ids(queue(client, world.headers(client, "sv.xuanquan"))) == [v["other"]]
    district = ids(queue(client, world.headers(client, "dt.vangiang")))
    assert set(district) == set(v.values())
    # ranked first across wards too: the flagged and priority visits lead
    assert district[:2] == [v["far"], v["priority"]]
    assert ids(queue(client, world.headers(client, "sv.hiennam"))) == []


def test_a_district_may_name_one_of_its_wards_or_itself(world, client, canvassed):
    headers = world.headers(client, "dt.vangiang")
    assert ids(queue(client, headers, f"ward={WARD_B}")) == [canvassed.visits["other"]]
    assert len(ids(queue(client, headers, "ward=gso-2020:326"))) == 6


@pytest.mark.parametrize(
    ("query", "names"),
    [
        (f"group={GROUP_A1}", ["refused"]),
        ("canvasser=cv.vg.002", ["refused"]),
        ("canvasser=nobody.here", []),
        ("outcome=refused", ["refused"]),
        ("flag=gps_far_from_household", ["far"]),
        ("flag=too_fast", []),
        ("review_status=pending", ["far", "priority", "new", "refused", "old"]),
        ("review_status=approved", []),
        ("from=2020-08-15&to=2020-08-15", ["far", "priority", "refused"]),
        ("from=2020-08-16", ["new"]),
        ("to=2020-08-14", ["old"]),
    ],
)
def test_filters(world, client, canvassed, query, names):
    body = queue(client, world.headers(client, "sv.vangiang"), f"ward={WARD_A}&{query}")
    assert ids(body) == [canvassed.visits[n] for n in names]


def test_local_dates_follow_the_campaign_time_zone(world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    h = tablet.household()
    # 23:30 in Hà Nội on the 15th is 16:30Z: it belongs to the 15th, not the 16th
    late = tablet.visit(h["id"], visited_at="2020-08-15T23:30:00+07:00")
    tablet.push([h, late])
    headers = world.headers(client, "sv.vangiang")
    assert ids(queue(client, headers, "from=2020-08-15&to=2020-08-15")) == [late["id"]]
    assert ids(queue(client, headers, "from=2020-08-16")) == []


@pytest.mark.parametrize(
    ("user", "query", "status", "code"),
    [
        ("cv.vg.001", "", 403, "forbidden"),
        ("sv.vangiang", f"ward={WARD_B}", 404, "not_found"),
        ("sv.vangiang", "ward=gso-2020:99999", 404, "not_found"),
        ("dt.vangiang", f"ward={WARD_C}", 404, "not_found"),
        ("sv.xuanquan", f"group={GROUP_A1}", 404, "not_found"),
        ("sv.vangiang", f"ward={GROUP_A1}", 422, "validation_failed"),
        ("sv.vangiang", f"group={WARD_A}", 422, "validation_failed"),
        ("sv.vangiang", "ward=12019", 422, "validation_failed"),
        ("sv.vangiang", "limit=1001", 422, "validation_failed"),
        ("sv.vangiang", "limit=0", 422, "validation_failed"),
        ("sv.vangiang", "outcome=maybe", 422, "validation_failed"),
        ("sv.vangiang", "review_status=done", 422, "validation_failed"),
        ("sv.vangiang", "flag=sloppy", 422, "validation_failed"),
        ("sv.vangiang", "from=15-08-2020", 422, "validation_failed"),
        ("sv.vangiang", "from=2020-08-16&to=2020-08-15", 422, "validation_failed"),
        ("sv.vangiang", "colour=red", 422, "validation_failed"),
        ("sv.vangiang", "cursor=not-a-cursor", 400, "cursor_invalid"),
    ],
)
def test_refusals(world, client, canvassed, user, query, status, code):
    assert_error(client.get(f"{VISITS}?{query}", headers=world.headers(client, user)), status, code)


def test_another_callers_cursor_is_refused(world, client, canvassed):
    body = queue(client, world.headers(client, "admin"), "limit=1")
    assert body["has_more"] is True
    other = world.headers(client, "dt.vangiang")
    response = client.get(f"{VISITS}?limit=1&cursor={body['cursor']}", headers=other)
    assert_error(response, 400, "cursor_invalid")


def test_unauthenticated_is_401(client, canvassed):
    assert_error(client.get(VISITS), 401, "token_invalid")


def test_a_page_costs_the_same_queries_whatever_its_length(app, world, client):
    """No query per row: the wards, groups and canvassers of a page are one query each."""
    tablet = Tablet(world, client, "cv.vg.002")
    h = tablet.household(group=GROUP_A1)
    tablet.push(
        [h]
        + [
            tablet.visit(h["id"], visited_at=f"2020-08-15T{9 + i // 60:02d}:{i % 60:02d}:00+07:00")
            for i in range(40)
        ]
    )
    headers = world.headers(client, "sv.vangiang")
    with counted_statements(app) as small:
        assert len(queue(client, headers, "limit=2")["items"]) == 2
    with counted_statements(app) as large:
        assert len(queue(client, headers, "limit=40")["items"]) == 40
    assert len(large) == len(small)


def test_the_queues_fast_writer_writes_what_its_schema_declares(app, world, client, canvassed):
    """The queue's items skip marshmallow (schemas/visits.py ``dump_visit_fast``, the hot
    path): each has the keys VisitRecordSchema declares, in its order and of its types, and
    is exactly what the schema writes from the same visit."""
    from field_server.services.context import Caller
    from field_server.services.visits import queue_page

    tablet: Tablet = canvassed.tablets["a"]
    later = tablet.household(address="Số 30, ngõ 34, phố Hiến Nam")
    back = tablet.visit(
        later["id"],
        outcome="come_back",
        come_back_at="2020-08-18T17:00:00+07:00",
        notes=None,
        **dict.fromkeys(counts(), None),
    )
    tablet.push([later, back])
    void = tablet.mutation("visit.void", canvassed.visits["old"], {"reason": "nhầm"}, 1)
    tablet.push([void])
    client.post(
        f"{VISITS}/{canvassed.visits['new']}/review",
        json={"action": "flag", "comment": "xem lại"},
        headers=world.headers(client, "sv.vangiang"),
    )

    body = queue(client, world.headers(client, "admin"))
    assert len(body["items"]) == 7
    for item in body["items"]:
        assert_fits(VisitRecordSchema(), item, item["id"])
    shown = {item["id"]: item for item in body["items"]}
    assert shown[back["id"]]["come_back_at"] == "2020-08-18T10:00:00Z"
    assert shown[canvassed.visits["old"]]["voided"] is True
    assert shown[canvassed.visits["new"]]["review_comment"] == "xem lại"

    with app.app_context():
        no_filter = dict.fromkeys(
            ("ward", "group", "canvasser", "outcome", "review_status", "flag", "since", "until")
        )
        found = queue_page(
            Caller.operator("cli:test"),
            **no_filter,
            after=None,
            limit=100,
            timezone="Asia/Ho_Chi_Minh",
        )
        written = [dump_visit_fast(visit) for visit in found.items]
        assert written == VisitRecordSchema(many=True).dump(found.items)
        assert [list(item) for item in written] == [list(VisitRecordSchema().fields)] * 7


# --- one visit -------------------------------------------------------------------------------


def test_one_visit_with_its_history(world, client, canvassed):
    visit_id = canvassed.visits["new"]
    supervisor = world.headers(client, "sv.vangiang")
    response = client.patch(
        f"{VISITS}/{visit_id}",
        json={"base_version": 1, "data": {"notes": "Đã kiểm tra lại"}},
        headers=supervisor,
    )
    assert response.status_code == 200, response.get_json()
    body = client.get(f"{VISITS}/{visit_id}", headers=world.headers(client, "dt.vangiang"))
    assert body.status_code == 200, body.get_json()
    shown = body.get_json()
    assert set(shown) == VISIT_KEYS | {"reviewed_at", "reviewed_by", "history"}
    assert_fits(VisitDetailSchema(), shown)
    assert shown["version"] == 2 and shown["notes"] == "Đã kiểm tra lại"
    assert shown["reviewed_at"] is None and shown["reviewed_by"] is None
    created, corrected = shown["history"]
    assert created["version"] == 1 and created["author"] == "cv.vg.001"
    assert created["author_role"] == "canvasser" and "outcome" in created["changed"]
    assert corrected == {
        "version": 2,
        "changed": ["notes"],
        "previous": {"notes": ""},
        "author": "sv.vangiang",
        "author_role": "supervisor",
        "at": corrected["at"],
    }
    assert corrected["at"].endswith("Z")


@pytest.mark.parametrize(
    ("user", "visit", "status", "code"),
    [
        ("sv.xuanquan", "new", 404, "not_found"),
        ("sv.hiennam", "other", 404, "not_found"),
        ("sv.vangiang", None, 404, "not_found"),
        ("cv.vg.001", "new", 403, "forbidden"),
    ],
)
def test_one_visit_refusals(world, client, canvassed, user, visit, status, code):
    visit_id = canvassed.visits[visit] if visit else "00000000-0000-4000-8000-000000000000"
    response = client.get(f"{VISITS}/{visit_id}", headers=world.headers(client, user))
    assert_error(response, status, code)


def test_ward_b_visit_is_visible_to_its_supervisor(world, client, canvassed):
    response = client.get(
        f"{VISITS}/{canvassed.visits['other']}", headers=world.headers(client, "sv.xuanquan")
    )
    assert response.status_code == 200
    assert response.get_json()["ward"] == WARD_B
