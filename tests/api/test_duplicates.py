"""GET /api/v1/duplicates (docs/api-conflicts.md, the supervisors' /duplicates page): near-duplicate
households of a ward, open possible_duplicate conflicts first, never merged by itself."""

from __future__ import annotations

import pytest

from schemas.conflicts import DuplicateSuggestionSchema

from .review_helpers import assert_fits
from .supervision_helpers import assert_error
from .sync_helpers import WARD_A, Tablet

DUPLICATES = "/api/v1/duplicates"


@pytest.fixture
def tablet(client, world):
    return Tablet(world, client, "cv.vg.001")


@pytest.fixture
def sv(client, world):
    return world.headers(client, "sv.vangiang")


@pytest.fixture
def ward(tablet):
    """Households of Thị trấn Văn Giang, each about 110 m from the next unless placed."""
    spots = iter(range(100))

    def at(address, pos=None, head="Nguyễn Văn A"):
        lat, lon = pos or (20.95 + next(spots) * 0.001, 105.94)
        return tablet.household(address=address, lat=lat, lon=lon, head_name=head)

    made = {
        # Entered twice with one spelling: a possible_duplicate conflict at push.
        "same_1": at("Số 12, ngõ 34, phố Hiến Nam"),
        "same_2": at("SN 12 ngõ 34 phố Hiến Nam"),
        # A missing keyword and the district added: similar, not equal.
        "similar_1": at("Số 7 ngõ 120 phố Trần Duy Hưng", head="Lê Thị Hoa"),
        "similar_2": at("7 ngõ 120 Trần Duy Hưng, Văn Giang", head="Le Thi Hoa"),
        # Two addresses, one doorstep, one head of household.
        "near_1": at("Số 3 thôn Đông Thành", (20.97, 105.95), head="Phạm Văn Nam"),
        "near_2": at("Số 4 thôn Đông", (20.97003, 105.95003), head="Pham Van Nam"),
        # Next door, another family: no reason by itself.
        "next_door": at("Số 6 thôn Đông", (20.97006, 105.95), head="Đỗ Văn Bắc"),
        # Different places, whatever the folding says; neighbours on a lane.
        "thanh": at("Số 5 thôn Đông Thành"),
        "thanh_dot": at("Số 5 thôn Đông Thạnh"),
        "lane_12": at("Số 12 ngõ 9 phố Hiến Nam"),
        "lane_14": at("Số 14 ngõ 9 phố Hiến Nam"),
    }
    results = tablet.push(list(made.values()))["results"]
    conflict_id = results[1]["conflict_id"]
    return {name: m["id"] for name, m in made.items()}, conflict_id


def pairs(body) -> list[frozenset]:
    return [frozenset(h["id"] for h in item["households"]) for item in body["items"]]


def test_suggestions_conflicts_first_then_by_score(client, sv, ward):
    ids, conflict_id = ward
    response = client.get(f"{DUPLICATES}?ward={WARD_A}", headers=sv)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert pairs(body) == [
        frozenset({ids["same_1"], ids["same_2"]}),
        frozenset({ids["similar_1"], ids["similar_2"]}),
        frozenset({ids["near_1"], ids["near_2"]}),
    ]
    for item in body["items"]:
        assert_fits(DuplicateSuggestionSchema(), item)
    first, similar, near = body["items"]
    assert first["conflict_id"] == conflict_id
    assert first["reasons"] == ["same_address", "same_head_name"]
    assert similar["conflict_id"] is None
    assert similar["reasons"] == ["similar_address", "same_head_name"]
    assert 0.9 <= similar["address_similarity"] < 1
    assert near["reasons"] == ["near", "same_head_name"] and near["distance_m"] < 5
    assert first["score"] >= similar["score"] > near["score"] > 0
    shown = first["households"][0]
    assert shown["ward"] == WARD_A and shown["merged_into"] is None and "address" in shown


def test_suggestions_page(client, sv, ward):
    seen = []
    cursor = None
    for _ in range(5):
        query = f"{DUPLICATES}?ward={WARD_A}&limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(query, headers=sv).get_json()
        seen += pairs(body)
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert len(seen) == 3 and len(set(seen)) == 3
    assert_error(
        client.get(f"{DUPLICATES}?ward={WARD_A}&cursor=x", headers=sv), 400, "cursor_invalid"
    )


def test_merged_and_dismissed_pairs_drop_out(client, sv, ward):
    ids, conflict_id = ward
    response = client.post(
        f"/api/v1/households/{ids['similar_2']}/merge", json={"into": ids["similar_1"]}, headers=sv
    )
    assert response.status_code == 200
    assert client.post(f"/api/v1/conflicts/{conflict_id}/dismiss", headers=sv).status_code == 200
    body = client.get(f"{DUPLICATES}?ward={WARD_A}", headers=sv).get_json()
    assert pairs(body) == [frozenset({ids["near_1"], ids["near_2"]})]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 422, "validation_failed"),
        ("?ward=gso-2020:12022", 404, "not_found"),  # another supervisor's ward
        ("?ward=gso-2020:99999", 404, "not_found"),
        (f"?ward={WARD_A}&limit=5000", 422, "validation_failed"),
    ],
)
def test_duplicates_refuses(client, sv, query, status, code):
    assert_error(client.get(f"{DUPLICATES}{query}", headers=sv), status, code)


def test_duplicates_roles(client, world, ward):
    assert_error(
        client.get(f"{DUPLICATES}?ward={WARD_A}", headers=world.headers(client, "cv.vg.001")),
        403,
        "forbidden",
    )
    officer = world.headers(client, "dt.vangiang")
    district = client.get(f"{DUPLICATES}?ward={WARD_A}", headers=officer)
    assert district.status_code == 200 and len(district.get_json()["items"]) == 3
    # Suggestions are made within one ward: a district is refused.
    english = {**officer, "Accept-Language": "en"}
    whole = client.get(f"{DUPLICATES}?ward=gso-2020:326", headers=english)
    assert assert_error(whole, 422, "validation_failed")["errors"] == {"ward": ["Name a ward."]}
    far = client.get(f"{DUPLICATES}?ward={WARD_A}", headers=world.headers(client, "sv.hiennam"))
    assert_error(far, 404, "not_found")
