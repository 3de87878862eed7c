"""Near-duplicate households (domain/duplicates.py): scoring on real-looking Vietnamese
addresses, and candidate generation that stays linear over a ward."""

from __future__ import annotations

import random

import pytest

from domain.address import normalise_address
from domain.duplicates import (
    MAX_BLOCK,
    Candidate,
    address_similarity,
    candidate_pairs,
    listing,
    same_name,
    score_pair,
    suggest,
)


def household(id_: str, address: str, pos=None, head=None) -> Candidate:
    return Candidate(id=id_, address_norm=normalise_address(address), first_pos=pos, head_name=head)


@pytest.mark.parametrize(
    ("left", "right", "alike"),
    [
        # The same house written two ways normalises to one form.
        ("Số 12, ngõ 34, phố Hiến Nam", "SN 12 Ng. 34 phố Hiến Nam", "same"),
        ("Tổ dân phố 5, thị trấn Văn Giang", "TDP 05, thị trấn Văn Giang", "same"),
        # Typed without diacritics: lined up with the marked words.
        ("Thôn Đông Thành, xã Xuân Quan", "thon Dong Thanh, xa Xuan Quan", "same"),
        ("45 Nguyễn Văn Cừ, phường Hiến Nam", "45 Nguyen Van Cu, phuong Hien Nam", "same"),
        # A missing keyword or an added district: similar.
        ("12 ngõ 34 phố Hiến Nam", "12 ngõ 34 Hiến Nam, Văn Giang", "similar"),
        ("Số 7 ngõ 120 phố Trần Duy Hưng", "7 ngõ 120 Trần Duy Hưng", "similar"),
        # A typo inside a word: similar.
        ("12 ngõ 34 phố Hiến Nam", "12 ngõ 34 phố Hiếm Nam", "similar"),
        # Different places whose names fold alike: never alike.
        ("Thôn Đông Thành, xã Xuân Quan", "Thôn Đông Thạnh, xã Xuân Quan", "different"),
        ("45 Nguyễn Văn Cừ", "45 Nguyễn Văn Cư", "different"),
        # Neighbours: same lane, another house number.
        ("Số 12 ngõ 34 phố Hiến Nam", "Số 14 ngõ 34 phố Hiến Nam", "different"),
        ("12 ngõ 34 ngách 5", "12 ngõ 34 ngách 7", "different"),
        ("123/4 hẻm 5, Q.10", "123/6 hẻm 5, Q.10", "different"),
        # Another street altogether.
        ("12 Lê Lợi, Văn Giang", "12 Lê Lai, Văn Giang", "different"),
        ("12 Trần Phú", "12 Phan Chu Trinh", "different"),
    ],
)
def test_address_similarity(left, right, alike):
    a, b = normalise_address(left), normalise_address(right)
    similarity = address_similarity(a, b)
    suggestion = score_pair(household("a", left), household("b", right))
    if alike == "same":
        assert similarity == 1.0
        assert suggestion is not None
        assert suggestion.reasons[0] in ("same_address", "similar_address")
    elif alike == "similar":
        assert 0.9 <= similarity < 1.0
        assert suggestion is not None and suggestion.reasons == ("similar_address",)
    else:
        assert similarity < 0.9
        assert suggestion is None


@pytest.mark.parametrize(
    ("a_pos", "b_pos", "heads", "suggested"),
    [
        # The same head's name at the same doorstep: suggested.
        ((20.9500, 105.9400), (20.9500, 105.9400), ("Phạm Văn Nam", "Pham Van Nam"), True),
        ((20.9500, 105.9400), (20.95005, 105.94005), ("Phạm Văn Nam", "Phạm Văn Nam"), True),
        # About 22 m apart: not near.
        ((20.9500, 105.9400), (20.9502, 105.9400), ("Phạm Văn Nam", "Phạm Văn Nam"), False),
        ((20.9500, 105.9400), None, ("Phạm Văn Nam", "Phạm Văn Nam"), False),
        # Next doors in a dense alley: a position alone is no reason.
        ((20.9500, 105.9400), (20.95005, 105.94005), ("Phạm Văn Nam", "Đỗ Văn Bắc"), False),
        ((20.9500, 105.9400), (20.9500, 105.9400), (None, None), False),
    ],
)
def test_positions_near(a_pos, b_pos, heads, suggested):
    a = household("a", "Số 3 thôn 1", a_pos, heads[0])
    b = household("b", "Số 9 thôn 4", b_pos, heads[1])
    suggestion = score_pair(a, b)
    assert (suggestion is not None) is suggested
    if suggested:
        assert suggestion.reasons == ("near", "same_head_name")


@pytest.mark.parametrize(
    ("pair", "score", "reasons"),
    [
        # Same address, same spot, same head: the top score.
        (
            (("Số 12 ngõ 34", (20.95, 105.94), "Nguyễn Văn A"),
             ("SN 12 ngõ 34", (20.95, 105.94), "nguyễn  văn a")),
            1.0,
            ("same_address", "near", "same_head_name"),
        ),
        # Same address only.
        ((("Số 12 ngõ 34", None, None), ("12 ngõ 34", None, "B")), 0.7, ("same_address",)),
        # Same spot and same head, different numbers.
        (
            (("Số 12 ngõ 34", (20.95, 105.94), "Lê Thị B"),
             ("Số 14 ngõ 34", (20.95, 105.94), "Le Thi B")),
            0.3,
            ("near", "same_head_name"),
        ),
    ],
)  # fmt: skip
def test_score(pair, score, reasons):
    (a_addr, a_pos, a_head), (b_addr, b_pos, b_head) = pair
    suggestion = score_pair(
        household("x", a_addr, a_pos, a_head), household("y", b_addr, b_pos, b_head)
    )
    assert suggestion is not None
    assert suggestion.score == pytest.approx(score, abs=1e-4)
    assert suggestion.reasons == reasons
    assert (suggestion.a, suggestion.b) == ("x", "y")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Nguyễn Văn A", "nguyễn văn a", True),
        ("Nguyễn Văn A", "Nguyen Van A", True),
        ("Nguyễn Văn Thành", "Nguyễn Văn Thạnh", False),
        ("Nguyễn Văn A", None, False),
        ("", "", False),
    ],
)
def test_same_name(a, b, same):
    assert same_name(a, b) is same


def test_a_pair_is_ordered_by_id_and_never_with_itself():
    one = household("b", "Số 12 ngõ 34")
    other = household("a", "12 ngõ 34")
    suggestion = score_pair(one, other)
    assert suggestion is not None and (suggestion.a, suggestion.b) == ("a", "b")
    assert score_pair(one, one) is None


def _ward(size: int, seed: int = 7) -> list[Candidate]:
    """A ward of ``size`` households on 40 streets, spread over about a square kilometre."""
    rng = random.Random(seed)
    streets = ["phố Hiến Nam", "ngõ 34 phố Trần Phú", "thôn Đông Thành", "thôn Đông Thạnh"]
    streets += [f"ngõ {n} đường Nguyễn Văn Linh" for n in range(1, 37)]
    out = []
    for i in range(size):
        street = streets[i % len(streets)]
        pos = (20.95 + rng.random() * 0.009, 105.94 + rng.random() * 0.009)
        out.append(household(f"h{i:05d}", f"Số {i // len(streets) + 1} {street}", pos))
    return out


def test_candidate_pairs_stay_linear_and_find_planted_duplicates():
    ward = _ward(5000)
    ward.append(household("dup-1", "SN 3, ngõ 34 phố Trần Phú", ward[81].first_pos))  # = h00081
    ward.append(household("dup-3", "Số 999 phố Mới", ward[7].first_pos, "Trần Văn Tám"))
    ward.append(household("dup-2", "so 5 thon Dong Thanh", None))  # = h00162 (Đông Thành)
    pairs = candidate_pairs(ward)
    # Each household is compared with a bounded number of others, not with all 5,000.
    assert len(pairs) < len(ward) * MAX_BLOCK
    assert ("dup-1", "h00081") in pairs
    found = {(s.a, s.b): s for s in suggest(ward)}
    assert found[("dup-1", "h00081")].reasons[:2] == ("same_address", "near")
    assert ("dup-2", "h00162") in found
    # Only addresses, or a spot with the same head's name, make suggestions.
    assert all(set(s.reasons) & {"same_address", "similar_address"} for s in found.values())
    # Typed without diacritics, "Dong Thanh" may be either place: both are suggested.
    assert ("dup-2", "h00163") in found  # Số 5 thôn Đông Thạnh
    # But Số 5 thôn Đông Thành and Số 5 thôn Đông Thạnh, both marked, are two places.
    assert ("h00162", "h00163") not in found


def test_a_crowded_block_is_split_and_a_default_position_ignored():
    # 200 households with no house number in one hamlet, all at the tablet's default spot:
    # neither the address block nor the grid cell may compare them all pairwise.
    crowd = [household(f"c{i:03d}", "thôn 3 xã Xuân Quan", (20.95, 105.94)) for i in range(200)]
    assert len(candidate_pairs(crowd)) <= 200 * MAX_BLOCK


def test_settled_pairs_are_not_suggested_again():
    a, b = household("a", "Số 12 ngõ 34"), household("b", "12 ngõ 34")
    assert [(s.a, s.b) for s in suggest([a, b])] == [("a", "b")]
    assert suggest([a, b], exclude=[("b", "a")]) == []


def test_listing_puts_open_conflicts_first_and_skips_settled_and_merged():
    a, b = household("a", "Số 12 ngõ 34"), household("b", "12 ngõ 34")
    c, d = (
        household("c", "Số 7 ngõ 120 phố Trần Duy Hưng"),
        household("d", "7 ngõ 120 Trần Duy Hưng"),
    )
    e, f = household("e", "Số 5 thôn Đông"), household("f", "5 thôn Đông")
    rows = listing(
        [a, b, c, d, e, f],
        open_pairs={("c", "d"): "conflict-1", ("a", "gone"): "conflict-2"},
        settled_pairs=[("f", "e")],
    )
    assert [(r.suggestion.a, r.suggestion.b, r.conflict_id) for r in rows] == [
        ("c", "d", "conflict-1"),  # open conflict first, although it scores lower
        ("a", "b", None),
    ]
    assert rows[0].key < rows[1].key
