"""The merge rules of docs/sync-protocol.md (domain/rules.py): 3-way merge, counters, quality
flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.hlc import HLC
from domain.records import COUNT_FIELDS, Counters, MergeResult, VisitFacts
from domain.rules import (
    derive_counters,
    distance_m,
    gps_far,
    installed_decreased,
    merge_update,
    too_fast,
)

T = 1_597_458_600_000
EARLY = HLC(T, 0, "tablet-a")
LATE = HLC(T + 60_000, 0, "tablet-b")


def merge(
    base: dict[str, Any],
    server: dict[str, Any],
    client: dict[str, Any],
    changed: dict[str, str] | None = None,
    hlcs: dict[str, HLC] | None = None,
    client_hlc: HLC = LATE,
    stale: bool | None = None,
) -> MergeResult:
    changed = changed or {}
    return merge_update(
        base=base,
        server=server,
        client=client,
        server_changed=changed,
        server_hlcs=hlcs or {},
        client_hlc=client_hlc,
        stale=bool(changed) if stale is None else stale,
    )


BASE = {"address": "Số 12", "phone": None, "head_name": "Nguyễn Văn A"}

MERGE_CASES = {
    "fresh base: taken, not listed as merged": (
        merge(BASE, BASE, {"phone": "0912"}),
        {"phone": "0912"},
        [],
        {},
    ),
    "untouched by the server: taken and listed": (
        merge(
            BASE,
            {**BASE, "head_name": "Trần Thị B"},
            {"phone": "0912"},
            {"head_name": "canvasser"},
        ),
        {"phone": "0912"},
        ["phone"],
        {},
    ),
    "stale, client value already stored: listed, nothing applied": (
        merge(BASE, {**BASE, "head_name": "B"}, {"phone": None}, {"head_name": "canvasser"}),
        {},
        ["phone"],
        {},
    ),
    "both sides, same value: silent": (
        merge(BASE, {**BASE, "phone": "0912"}, {"phone": "0912"}, {"phone": "canvasser"}),
        {},
        [],
        {},
    ),
    "server side only (client re-sent the base value): server kept": (
        merge(BASE, {**BASE, "phone": "0912"}, {"phone": None}, {"phone": "supervisor"}),
        {},
        [],
        {},
    ),
    "supervisor wins": (
        merge(
            BASE,
            {**BASE, "address": "Số 14"},
            {"address": "Số 16"},
            {"address": "supervisor"},
            {"address": EARLY},
        ),
        {},
        [],
        {"address": {"base": "Số 12", "server": "Số 14", "client": "Số 16"}},
    ),
    "later canvasser wins": (
        merge(
            BASE,
            {**BASE, "address": "Số 14"},
            {"address": "Số 16"},
            {"address": "canvasser"},
            {"address": EARLY},
            client_hlc=LATE,
        ),
        {"address": "Số 16"},
        [],
        {"address": {"base": "Số 12", "server": "Số 14", "client": "Số 16"}},
    ),
    "earlier canvasser loses": (
        merge(
            BASE,
            {**BASE, "address": "Số 14"},
            {"address": "Số 16"},
            {"address": "canvasser"},
            {"address": LATE},
            client_hlc=EARLY,
        ),
        {},
        [],
        {"address": {"base": "Số 12", "server": "Số 14", "client": "Số 16"}},
    ),
    "HLCs compare as numbers, not text": (
        merge(
            BASE,
            {**BASE, "address": "Số 14"},
            {"address": "Số 16"},
            {"address": "canvasser"},
            {"address": HLC(9_999, 0, "z")},
            client_hlc=HLC(10_000, 0, "a"),
        ),
        {"address": "Số 16"},
        [],
        {"address": {"base": "Số 12", "server": "Số 14", "client": "Số 16"}},
    ),
    "server HLC unknown: server kept": (
        merge(BASE, {**BASE, "address": "Số 14"}, {"address": "Số 16"}, {"address": "canvasser"}),
        {},
        [],
        {"address": {"base": "Số 12", "server": "Số 14", "client": "Số 16"}},
    ),
    "base without the field (base_version 0): a differing value is a conflict": (
        merge(
            {},
            {"phone": "0912", "address": "Số 12"},
            {"phone": "0913", "address": "Số 12", "head_name": None},
            {"phone": "canvasser", "address": "canvasser"},
            {"phone": EARLY, "address": EARLY},
        ),
        {"phone": "0913"},
        ["head_name"],
        {"phone": {"base": None, "server": "0912", "client": "0913"}},
    ),
    "several fields at once": (
        merge(
            BASE,
            {"address": "Số 14", "phone": "0912", "head_name": "Nguyễn Văn A"},
            {"address": "Số 16", "phone": "0912", "head_name": "Nguyễn Văn Ba"},
            {"address": "supervisor", "phone": "canvasser"},
            {"phone": EARLY},
        ),
        {"head_name": "Nguyễn Văn Ba"},
        ["head_name"],
        {"address": {"base": "Số 12", "server": "Số 14", "client": "Số 16"}},
    ),
}


@pytest.mark.parametrize("case", MERGE_CASES.values(), ids=list(MERGE_CASES))
def test_merge_update(case):
    result, apply, merged_fields, conflicts = case
    assert result.apply == apply
    assert result.merged_fields == merged_fields
    assert result.conflicts == conflicts


def test_merge_keeps_value_types():
    at = datetime(2020, 8, 15, 2, 31, tzinfo=UTC)
    result = merge(
        {"visited_at": at},
        {"visited_at": at + timedelta(hours=1)},
        {"visited_at": at + timedelta(hours=2)},
        {"visited_at": "canvasser"},
        {"visited_at": EARLY},
    )
    assert result.apply == {"visited_at": at + timedelta(hours=2)}
    assert result.conflicts["visited_at"]["base"] == at


# Merge properties: three small value spaces so that sides often agree or collide.
FIELDS = ("address", "phone", "head_name", "lat")
values = st.sampled_from([None, "a", "b", "c"])
hlcs = st.builds(
    HLC, st.integers(min_value=T, max_value=T + 5), st.integers(0, 2), st.sampled_from("xyz")
)


@st.composite
def merge_inputs(draw):
    base = {name: draw(values) for name in FIELDS}
    changed = draw(
        st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(["supervisor", "canvasser"]))
    )
    server = {name: draw(values) if name in changed else base[name] for name in FIELDS}
    client = draw(st.dictionaries(st.sampled_from(FIELDS), values))
    server_hlcs = {name: draw(hlcs) for name in changed if changed[name] == "canvasser"}
    return base, server, client, changed, server_hlcs, draw(hlcs)


def run(inputs) -> MergeResult:
    base, server, client, changed, server_hlcs, client_hlc = inputs
    return merge_update(
        base=base,
        server=server,
        client=client,
        server_changed=changed,
        server_hlcs=server_hlcs,
        client_hlc=client_hlc,
        stale=bool(changed),
    )


@given(merge_inputs())
def test_supervisor_changes_are_never_overwritten(inputs):
    _, _, _, changed, _, _ = inputs
    result = run(inputs)
    assert not {name for name, who in changed.items() if who == "supervisor"} & set(result.apply)


@given(merge_inputs())
def test_a_field_changed_on_one_side_only_is_taken(inputs):
    base, server, client, changed, _, _ = inputs
    result = run(inputs)
    merged = {**server, **result.apply}
    for name in FIELDS:
        if name in client and name not in changed:
            assert merged[name] == client[name]  # the client's side only
        elif name in changed and client.get(name, base[name]) == base[name]:
            assert merged[name] == server[name]  # the server's side only
        if name not in client:
            assert merged[name] == server[name]


@given(merge_inputs())
def test_conflicts_are_exactly_the_collisions(inputs):
    base, server, client, changed, server_hlcs, client_hlc = inputs
    result = run(inputs)
    collisions = {
        name
        for name, value in client.items()
        if name in changed and value != server[name] and value != base[name]
    }
    assert set(result.conflicts) == collisions
    for name in collisions:
        assert result.conflicts[name] == {
            "base": base[name],
            "server": server[name],
            "client": client[name],
        }
        client_won = changed[name] == "canvasser" and client_hlc > server_hlcs[name]
        assert (name in result.apply) is client_won


@given(merge_inputs())
def test_apply_holds_only_real_changes(inputs):
    _, server, client, _, _, _ = inputs
    result = run(inputs)
    assert set(result.apply) <= set(client)
    assert all(server[name] != value for name, value in result.apply.items())
    assert all(result.apply[name] == client[name] for name in result.apply)


# --- counters ----------------------------------------------------------------------------


def facts(
    key: int,
    a: int,
    s: int,
    b: int,
    d: int,
    ps: int = 0,
    pi: int = 0,
    *,
    counting: bool = True,
    node: str = "t",
) -> VisitFacts:
    counts = dict(zip(COUNT_FIELDS, (a, s, b, d, ps, pi), strict=True))
    return VisitFacts(
        id=f"v{key}{node}", order_key=(key, 0, node), counts=counts, counting=counting
    )


def no_counts(key: int, *, counting: bool = True) -> VisitFacts:
    return VisitFacts(id=f"n{key}", order_key=(key, 0, "t"), counts=None, counting=counting)


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        ([], Counters()),
        ([no_counts(1)], Counters()),
        ([facts(1, 4, 3, 1, 2, 1, 1, counting=False)], Counters()),
        ([facts(1, 4, 3, 1, 2, 1, 1)], Counters(4, 3, 3, 1, 1)),
        # Latest (by key) gives adults, smartphones, priority_subjects; installs never go back.
        ([facts(1, 4, 3, 1, 2, 2, 2), facts(2, 5, 4, 0, 1, 3, 0)], Counters(5, 4, 3, 3, 2)),
        ([facts(2, 5, 4, 0, 1, 3, 0), facts(1, 4, 3, 1, 2, 2, 2)], Counters(5, 4, 3, 3, 2)),
        # Capped at the latest adults.
        ([facts(1, 6, 5, 2, 3, 4, 4), facts(2, 3, 1, 0, 1, 1, 0)], Counters(3, 1, 3, 1, 3)),
        # Void or rejected visits and visits without counts do not count.
        (
            [facts(1, 4, 3, 1, 2), facts(3, 9, 9, 9, 0, counting=False), no_counts(5)],
            Counters(4, 3, 3, 0, 0),
        ),
        # The HLC order: ms, then counter, then node; never the order of the list.
        (
            [
                VisitFacts("a", (10, 2, "a"), dict.fromkeys(COUNT_FIELDS, 1), True),
                VisitFacts("b", (10, 10, "a"), dict.fromkeys(COUNT_FIELDS, 2), True),
                VisitFacts("c", (9, 99, "z"), dict.fromkeys(COUNT_FIELDS, 0), True),
            ],
            Counters(2, 2, 2, 2, 2),  # 1 + 1 installs, capped at the latest adults
        ),
    ],
)
def test_derive_counters(visits, expected):
    assert derive_counters(visits) == expected
    assert derive_counters(iter(visits)) == expected


@st.composite
def valid_facts(draw, *, maybe_without_counts: bool = True):
    adults = draw(st.integers(0, 8))
    smartphones = draw(st.integers(0, adults))
    before = draw(st.integers(0, smartphones))
    during = draw(st.integers(0, smartphones - before))
    subjects = draw(st.integers(0, adults))
    installed = draw(st.integers(0, subjects))
    order = (draw(st.integers(0, 5)), draw(st.integers(0, 3)), draw(st.sampled_from("ab")))
    counts = dict(
        zip(COUNT_FIELDS, (adults, smartphones, before, during, subjects, installed), strict=True)
    )
    without = maybe_without_counts and draw(st.integers(0, 4)) == 0
    return VisitFacts(
        id=draw(st.uuids()).hex,
        order_key=order,
        counts=None if without else counts,
        counting=draw(st.booleans()),
    )


@given(st.lists(valid_facts(), max_size=8), st.randoms(use_true_random=False))
def test_counters_do_not_depend_on_input_order(visits, random):
    shuffled = list(visits)
    random.shuffle(shuffled)
    assert derive_counters(shuffled) == derive_counters(visits)


@given(st.lists(valid_facts(), max_size=8), valid_facts(maybe_without_counts=False))
def test_installed_never_decreases_when_more_installs_are_found(visits, new):
    before = derive_counters(visits)
    found = new.counts["installed_before"] + new.counts["installed_during"]
    new = VisitFacts(new.id, new.order_key, new.counts, counting=True)
    after = derive_counters([*visits, new])
    if before.installed is None or found >= before.installed:
        assert after.installed is not None
        assert after.installed >= (before.installed or 0)


@given(st.lists(valid_facts(), max_size=8))
def test_counters_respect_the_count_rules(visits):
    counters = derive_counters(visits)
    if counters.adults is None:
        assert counters == Counters()
        return
    assert counters.installed <= counters.adults
    assert counters.priority_installed <= counters.adults
    assert counters.smartphones <= counters.adults
    assert counters.priority_subjects <= counters.adults


@pytest.mark.parametrize(
    ("counts", "earlier", "key", "decreased"),
    [
        (facts(3, 4, 3, 1, 0).counts, [], (3, 0, "t"), False),
        (facts(3, 4, 3, 1, 0).counts, [facts(1, 4, 3, 1, 1)], (3, 0, "t"), True),
        (facts(3, 4, 3, 2, 0).counts, [facts(1, 4, 3, 1, 1)], (3, 0, "t"), False),
        (facts(3, 4, 3, 0, 3).counts, [facts(1, 4, 3, 1, 1)], (3, 0, "t"), False),
        # Only earlier visits count: a later one with more installs is not "before" it.
        (facts(3, 4, 3, 1, 0).counts, [facts(5, 4, 3, 3, 0)], (3, 0, "t"), False),
        # Nor do void ones, or visits without counts.
        (facts(3, 4, 3, 1, 0).counts, [facts(1, 4, 3, 3, 0, counting=False)], (3, 0, "t"), False),
        (facts(3, 4, 3, 1, 0).counts, [no_counts(1)], (3, 0, "t"), False),
        # The largest earlier count is the bar.
        (
            facts(3, 4, 3, 2, 0).counts,
            [facts(0, 4, 3, 3, 0), facts(1, 4, 3, 1, 0)],
            (3, 0, "t"),
            True,
        ),
    ],
)
def test_installed_decreased(counts, earlier, key, decreased):
    assert installed_decreased(counts, earlier, key) is decreased


# --- position and time -------------------------------------------------------------------

HIEN_NAM = (20.6564, 106.0512)


@pytest.mark.parametrize(
    ("a", "b", "metres", "tolerance"),
    [
        (HIEN_NAM, HIEN_NAM, 0.0, 1e-6),
        ((0.0, 0.0), (1.0, 0.0), 111_195, 10),  # one degree of latitude
        ((0.0, 0.0), (0.0, 1.0), 111_195, 10),  # one degree of longitude at the equator
        ((21.0285, 105.8542), (10.7769, 106.7009), 1_141_000, 3_000),  # Hà Nội - Sài Gòn
        ((0.0, 0.0), (0.0, 180.0), 20_015_115, 100),  # antipodes
    ],
)
def test_distance(a, b, metres, tolerance):
    assert distance_m(*a, *b) == pytest.approx(metres, abs=tolerance)
    assert distance_m(*b, *a) == pytest.approx(metres, abs=tolerance)


# 0.0027 degrees of latitude is about 300.2 m; 0.0026 about 289 m.
@pytest.mark.parametrize(
    ("household", "visit", "far"),
    [
        (HIEN_NAM, HIEN_NAM, False),
        (HIEN_NAM, (HIEN_NAM[0] + 0.0026, HIEN_NAM[1]), False),
        (HIEN_NAM, (HIEN_NAM[0] + 0.0027, HIEN_NAM[1]), True),
        (HIEN_NAM, (HIEN_NAM[0], HIEN_NAM[1] - 0.01), True),
        (HIEN_NAM, (10.7769, 106.7009), True),
        (None, HIEN_NAM, False),
        (HIEN_NAM, None, False),
        (None, None, False),
    ],
)
def test_gps_far(household, visit, far):
    assert gps_far(household, visit) is far


AT = datetime(2020, 8, 15, 2, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("previous", "visited_at", "fast"),
    [
        (None, AT, False),
        (AT, AT, True),
        (AT, AT + timedelta(seconds=59), True),
        (AT, AT + timedelta(seconds=59, microseconds=999_999), True),
        (AT, AT + timedelta(seconds=60), False),
        (AT, AT + timedelta(hours=2), False),
        # Before the previous one: too fast only within the same 60 s.
        (AT, AT - timedelta(seconds=30), True),
        (AT, AT - timedelta(seconds=60), False),
        (AT, AT - timedelta(days=1), False),
        # Offsets do not matter, instants do.
        (AT, datetime(2020, 8, 15, 9, 31, 30, tzinfo=UTC) - timedelta(hours=7), True),
    ],
)
def test_too_fast(previous, visited_at, fast):
    assert too_fast(previous, visited_at) is fast


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.integers(min_value=-86_400, max_value=86_400),
)
def test_too_fast_is_the_gap_either_way(previous, seconds):
    assert too_fast(previous, previous + timedelta(seconds=seconds)) is (abs(seconds) < 60)
