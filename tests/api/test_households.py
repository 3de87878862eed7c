"""GET /api/v1/households and GET /api/v1/households/{household_id} (docs/api-supervision.md)."""

from __future__ import annotations

import pytest

from schemas.households import HouseholdDetailSchema
from schemas.records import HouseholdRecordSchema
from tests.api.review_helpers import assert_error, assert_fits, canvass, counted_statements
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, WARD_C, Tablet

HOUSEHOLDS = "/api/v1/households"
HOUSEHOLD_KEYS = {
    "id",
    "version",
    "ward",
    "group",
    "address",
    "lat",
    "lon",
    "head_name",
    "phone",
    "adults",
    "smartphones",
    "installed",
    "priority_subjects",
    "priority_installed",
    "merged_into",
}


@pytest.fixture
def canvassed(world, client):
    return canvass(world, client)


def listing(client, headers, query: str = "", expect: int = 200) -> dict:
    response = client.get(f"{HOUSEHOLDS}?{query}", headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def names(canvassed, body) -> list[str]:
    by_id = {v: k for k, v in canvassed.households.items()}
    return sorted(by_id[item["id"]] for item in body["items"])


def test_a_supervisor_lists_the_households_of_their_ward(world, client, canvassed):
    body = listing(client, world.headers(client, "sv.vangiang"), f"ward={WARD_A}")
    assert names(canvassed, body) == ["h1", "h2", "h3", "h4"]
    assert body["has_more"] is False and body["cursor"] is None
    shown = {item["id"]: item for item in body["items"]}[canvassed.households["h3"]]
    assert set(shown) == HOUSEHOLD_KEYS
    for item in body["items"]:
        assert_fits(HouseholdRecordSchema(), item)
    assert shown["ward"] == WARD_A and shown["group"] is None
    assert shown["head_name"] == "Lê Văn Cường"
    assert shown["installed"] == 1 and shown["priority_subjects"] == 1
    grouped = {item["id"]: item for item in body["items"]}[canvassed.households["h4"]]
    assert grouped["group"] == GROUP_A1


def test_without_ward_the_list_is_the_callers_scope(world, client, canvassed):
    assert names(canvassed, listing(client, world.headers(client, "sv.xuanquan"))) == ["h5"]
    district = listing(client, world.headers(client, "dt.vangiang"))
    assert names(canvassed, district) == ["h1", "h2", "h3", "h4", "h5"]
    assert listing(client, world.headers(client, "sv.hiennam"))["items"] == []


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ngõ 34", ["h1"]),
        ("NGÕ 34", ["h1"]),  # capitals, matched through the normalised address
        ("so 12 ngo 34", ["h1"]),  # typed without diacritics, normalised like addresses
        ("phố hiến nam", ["h1", "h2"]),
        ("trần thị", ["h2"]),  # head_name, case-insensitively
        ("nguyễn", ["h1"]),
        ("100%", []),  # wildcards are plain characters
        ("_", []),
    ],
)
def test_search_by_address_or_head_name(world, client, canvassed, q, found):
    body = listing(client, world.headers(client, "sv.vangiang"), f"ward={WARD_A}&q={q}")
    assert names(canvassed, body) == found


def test_phone_numbers_are_shown_as_stored(world, client, canvassed):
    body = listing(client, world.headers(client, "sv.xuanquan"), f"ward={WARD_B}")
    assert body["items"][0]["phone"] == "0912345678"


def test_paging_gives_every_household_once(app, world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    pushed = [tablet.household(address=f"Số {i}, ngõ 5") for i in range(7)]
    tablet.push(pushed)
    headers = world.headers(client, "sv.vangiang")
    seen, cursor = [], None
    for _ in range(10):
        body = listing(client, headers, "limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += [item["id"] for item in body["items"]]
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert sorted(seen) == sorted(h["id"] for h in pushed) and len(seen) == 7
    with counted_statements(app) as small:
        listing(client, headers, "limit=1")
    with counted_statements(app) as large:
        listing(client, headers, "limit=7")
    assert len(small) == len(large)


@pytest.mark.parametrize(
    ("user", "query", "status", "code"),
    [
        ("cv.vg.001", "", 403, "forbidden"),
        ("sv.vangiang", f"ward={WARD_B}", 404, "not_found"),
        ("dt.vangiang", f"ward={WARD_C}", 404, "not_found"),
        ("sv.vangiang", f"ward={GROUP_A1}", 422, "validation_failed"),
        ("sv.vangiang", "ward=12019", 422, "validation_failed"),
        ("sv.vangiang", "limit=1001", 422, "validation_failed"),
        ("sv.vangiang", "q=", 422, "validation_failed"),
        ("sv.vangiang", "street=x", 422, "validation_failed"),
        ("sv.vangiang", "cursor=forged", 400, "cursor_invalid"),
    ],
)
def test_list_refusals(world, client, canvassed, user, query, status, code):
    response = client.get(f"{HOUSEHOLDS}?{query}", headers=world.headers(client, user))
    assert_error(response, status, code)


def test_one_household_with_its_visits(world, client, canvassed):
    response = client.get(
        f"{HOUSEHOLDS}/{canvassed.households['h1']}", headers=world.headers(client, "dt.vangiang")
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == HOUSEHOLD_KEYS | {"visits"}
    assert_fits(HouseholdDetailSchema(), body)
    assert body["address"] == "Số 12, ngõ 34, phố Hiến Nam"
    # newest first, shown as the review queue shows visits
    assert [v["id"] for v in body["visits"]] == [
        canvassed.visits["new"],
        canvassed.visits["old"],
    ]
    assert body["visits"][0]["canvasser"] == "cv.vg.001"
    assert body["visits"][0]["ward"] == WARD_A


@pytest.mark.parametrize(
    ("user", "household", "status", "code"),
    [
        ("sv.xuanquan", "h1", 404, "not_found"),
        ("sv.vangiang", "h5", 404, "not_found"),
        ("sv.vangiang", None, 404, "not_found"),
        ("cv.vg.001", "h1", 403, "forbidden"),
    ],
)
def test_one_household_refusals(world, client, canvassed, user, household, status, code):
    household_id = (
        canvassed.households[household] if household else "00000000-0000-4000-8000-000000000000"
    )
    response = client.get(f"{HOUSEHOLDS}/{household_id}", headers=world.headers(client, user))
    assert_error(response, status, code)
