"""The figures' arithmetic (domain/stats.py), table-driven."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.records import OUTCOMES, REVIEW_STATES
from domain.stats import (
    MAX_DAILY_DAYS,
    NO_FIGURES,
    TOTAL_FIGURES,
    CounterDifference,
    DayFigures,
    UnitNode,
    VisitFigureFacts,
    competition_ranks,
    counter_differences,
    daily_series,
    difference,
    effective_populations,
    effective_target_rate,
    figure,
    first_series_day,
    gap_to_target,
    household_contribution,
    rate,
    totals,
)

NO_COUNTS = dict.fromkeys(
    ("adults", "smartphones", "installed_before", "installed_during", "priority_subjects",
     "priority_installed"),
)  # fmt: skip


def visit(
    vid: str,
    day: str,
    ms: int,
    outcome: str = "installed",
    counts: tuple[int, ...] | None = (4, 3, 1, 2, 0, 0),
    review: str = "pending",
    voided: bool = False,
) -> VisitFigureFacts:
    names = list(NO_COUNTS)
    return VisitFigureFacts(
        id=vid,
        day=day,
        order_key=(ms, 0, "dev"),
        outcome=outcome,
        counts=dict(zip(names, counts, strict=True)) if counts else dict(NO_COUNTS),
        review_status=review,
        voided=voided,
    )


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        pytest.param([], {}, id="no visits: only the household itself"),
        pytest.param(
            [visit("a", "2020-08-15", 1)],
            {
                "2020-08-15": {
                    "visits": 1,
                    "outcome_installed": 1,
                    "review_pending": 1,
                    "installed_during": 2,
                    "households_visited": 1,
                    "adults_counted": 4,
                    "smartphones": 3,
                    "installed": 3,
                    "installed_during_campaign": 2,
                }
            },
            id="one visit with counts",
        ),
        pytest.param(
            [visit("a", "2020-08-15", 1, "not_home", None)],
            {
                "2020-08-15": {
                    "visits": 1,
                    "outcome_not_home": 1,
                    "review_pending": 1,
                    "households_visited": 1,
                }
            },
            id="a visit without counts visits the household and counts nothing else",
        ),
        pytest.param(
            [
                visit("a", "2020-08-15", 1, counts=(4, 3, 0, 1, 0, 0)),
                visit("b", "2020-08-17", 2, "partial", (4, 3, 0, 2, 0, 0)),
            ],
            {
                "2020-08-15": {
                    "visits": 1,
                    "outcome_installed": 1,
                    "review_pending": 1,
                    "installed_during": 1,
                    "households_visited": 1,
                    "adults_counted": 4,
                    "smartphones": 3,
                    "installed": 1,
                    "installed_during_campaign": 1,
                },
                "2020-08-17": {
                    "visits": 1,
                    "outcome_partial": 1,
                    "review_pending": 1,
                    "installed_during": 2,
                    "installed": 1,
                    "installed_during_campaign": 1,
                },
            },
            id="a later day adds only what changed",
        ),
        pytest.param(
            [
                visit("a", "2020-08-15", 1, counts=(4, 3, 0, 3, 0, 0)),
                visit("b", "2020-08-16", 2, "partial", (5, 3, 0, 1, 1, 0)),
            ],
            {
                "2020-08-15": {
                    "visits": 1,
                    "outcome_installed": 1,
                    "review_pending": 1,
                    "installed_during": 3,
                    "households_visited": 1,
                    "adults_counted": 4,
                    "smartphones": 3,
                    "installed": 3,
                    "installed_during_campaign": 3,
                },
                "2020-08-16": {
                    "visits": 1,
                    "outcome_partial": 1,
                    "review_pending": 1,
                    "installed_during": 1,
                    "adults_counted": 1,
                    "priority_subjects": 1,
                },
            },
            id="installs never go back; adults from the latest",
        ),
        pytest.param(
            [visit("a", "2020-08-15", 1, review="rejected")],
            {"2020-08-15": {"review_rejected": 1}},
            id="a rejected visit counts only in the review figures",
        ),
        pytest.param(
            [visit("a", "2020-08-15", 1, voided=True)],
            {},
            id="a void visit counts nowhere",
        ),
        pytest.param(
            [visit("a", "2020-08-15", 1, counts=(4, 4, 3, 0, 0, 0))],
            {
                "2020-08-15": {
                    "visits": 1,
                    "outcome_installed": 1,
                    "review_pending": 1,
                    "households_visited": 1,
                    "adults_counted": 4,
                    "smartphones": 4,
                    "installed": 3,
                }
            },
            id="installed before the campaign is not installed during it",
        ),
    ],
)
def test_household_contribution(visits, expected):
    got = household_contribution(False, visits)
    assert got.undated == {"households": 1}
    assert got.days == expected


def test_a_merged_household_is_no_household():
    assert household_contribution(True, []).undated == {}


def test_visits_of_one_day_in_any_order_give_the_same_state():
    a = visit("a", "2020-08-15", 2, counts=(3, 3, 0, 1, 0, 0))
    b = visit("b", "2020-08-15", 1, counts=(5, 4, 0, 2, 0, 0))
    assert household_contribution(False, [a, b]) == household_contribution(False, [b, a])
    state = household_contribution(False, [a, b]).days["2020-08-15"]
    assert (state["adults_counted"], state["installed"]) == (3, 2)  # latest by HLC is a


def test_difference_drops_what_did_not_change():
    before = {(1, "d"): {"visits": 2, "installed": 1}, (2, "d"): {"visits": 1}}
    after = {(1, "d"): {"visits": 3, "installed": 1}, (3, None): {"households": 1}}
    assert difference(after, before) == {
        (1, "d"): {"visits": 1},
        (2, "d"): {"visits": -1},
        (3, None): {"households": 1},
    }


@pytest.mark.parametrize(
    ("values", "ranks"),
    [
        ({"a": 0.5, "b": 0.7, "c": 0.5, "d": 0.1}, {"b": 1, "a": 2, "c": 2, "d": 4}),
        ({"a": None, "b": 0.2, "c": None}, {"b": 1, "a": 2, "c": 2}),
        ({"a": 0.0}, {"a": 1}),
        ({}, {}),
    ],
)
def test_competition_ranks(values, ranks):
    assert competition_ranks(values) == ranks


@pytest.mark.parametrize(
    ("target", "population", "installed", "gap"),
    [
        (0.6, 9200, 0, 5520),  # 0.6 x 9200 in floats is 5520.000000000001
        (0.6, 9200, 5519, 1),
        (0.6, 9200, 6000, 0),
        (0.6, 7, 0, 5),  # ceil(4.2)
        (None, 9200, 0, None),
        (0.6, None, 0, None),
    ],
)
def test_gap_to_target(target, population, installed, gap):
    assert gap_to_target(target, population, installed) == gap


@given(
    target=st.floats(min_value=0, max_value=1),
    population=st.integers(min_value=0, max_value=10**9),
    installed=st.integers(min_value=0, max_value=10**9),
)
def test_gap_to_target_is_the_ceiling_of_the_rate_as_written(target, population, installed):
    # The rate as its decimal text says (0.6, not the binary float just above it), times
    # the population, rounded up: Decimal does it slowly and exactly.
    expected = max(0, math.ceil(Decimal(str(target)) * population) - installed)
    assert gap_to_target(target, population, installed) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(1, 3, 0.333333), (0, 5, 0.0), (3, 0, None), (3, None, None), (2, 3, 0.666667)],
)
def test_rate(numerator, denominator, expected):
    assert rate(numerator, denominator) == expected


def test_populations_sum_up_where_a_unit_has_none():
    nodes = [
        UnitNode(1, None, "province", None, None),
        UnitNode(2, 1, "district", None, 0.7),
        UnitNode(3, 2, "ward", 9000, 0.6),
        UnitNode(4, 2, "ward", None, None),
        UnitNode(5, 3, "group", None, None),
        UnitNode(6, 1, "district", 500, None),
    ]
    assert effective_populations(nodes) == {1: 9500, 2: 9000, 3: 9000, 4: None, 5: None, 6: 500}
    assert effective_target_rate(nodes[1], 0.6) == 0.7
    assert effective_target_rate(nodes[0], 0.6) == 0.6
    assert effective_target_rate(nodes[3], 0.6) is None  # a ward's own, even unknown


def test_totals_name_every_figure_from_its_place():
    values = tuple(range(1, len(TOTAL_FIGURES) + 1))  # each figure its own value
    got = totals(values, adult_population=None, target_rate=None)
    for name in ("households", "households_visited", "visits", "smartphones", "installed",
                 "installed_during_campaign", "priority_subjects", "priority_installed",
                 "open_conflicts"):  # fmt: skip
        assert got[name] == figure(values, name), name
    assert got["adults_counted"] == figure(values, "adults_counted")
    assert got["by_outcome"] == {o: figure(values, f"outcome_{o}") for o in OUTCOMES}
    assert got["review"] == {r: figure(values, f"review_{r}") for r in REVIEW_STATES}


def test_totals_with_nothing_counted():
    got = totals(NO_FIGURES, adult_population=None, target_rate=0.6)
    assert got["coverage"] is None and got["gap_to_target"] is None
    assert got["by_outcome"]["installed"] == 0 and got["review"]["pending"] == 0


def test_daily_series_is_zero_filled_and_cumulative_from_before_the_first_day():
    rows = [("2020-08-10", 1, 1, 2), ("2020-08-15", 2, 2, 3), ("2020-08-16", 1, 1, 1)]
    series = daily_series(rows, date(2020, 8, 14), date(2020, 8, 17))
    assert series == [
        DayFigures(date(2020, 8, 14), 0, 0, 2),
        DayFigures(date(2020, 8, 15), 2, 2, 5),
        DayFigures(date(2020, 8, 16), 1, 1, 6),
        DayFigures(date(2020, 8, 17), 0, 0, 6),
    ]


@pytest.mark.parametrize(
    ("start", "known", "expected"),
    [
        (date(2020, 8, 1), "2020-07-01", date(2020, 8, 1)),  # asked for: as asked
        (None, "2020-08-15", date(2020, 8, 15)),  # the unit's first day
        (None, None, date(2020, 8, 20)),  # no visit yet: only `to`
        (None, "2020-09-01", date(2020, 8, 20)),  # only later visits: only `to`
        (None, "2010-01-01", date(2020, 8, 20) - timedelta(days=MAX_DAILY_DAYS - 1)),
    ],
)
def test_first_series_day(start, known, expected):
    first = first_series_day(start, date(2020, 8, 20), known)
    assert first == expected
    assert (date(2020, 8, 20) - first).days < MAX_DAILY_DAYS


def test_counter_differences_name_unit_day_figure_and_both_values():
    expected = {(1, "2020-08-15"): {"visits": 2, "installed": 3}, (1, None): {"households": 1}}
    stored = {(1, "2020-08-15"): {"visits": 2, "installed": 10}, (2, None): {"households": 4}}
    assert counter_differences(expected, stored) == [
        CounterDifference(1, None, "households", 0, 1),
        CounterDifference(1, "2020-08-15", "installed", 10, 3),
        CounterDifference(2, None, "households", 4, 0),
    ]
    assert counter_differences(expected, expected) == []
