"""Checking one pushed mutation (domain/validation.py): envelope, data, counts rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import validation
from domain.hlc import HLC
from domain.records import COUNT_FIELDS, OUTCOMES, OUTCOMES_REQUIRING_COUNTS, SyncError
from domain.validation import (
    MAX_COUNT,
    Mutation,
    clean_household,
    clean_visit,
    count_errors,
    outcome_mismatch,
    parse_mutation,
)

DEVICE = "5b0c6d1e-7f80-4a1b-9c2d-3e4f5a6b7c8d"
HOUSEHOLD = "9f1e2d3c-4b5a-4697-8877-665544332211"
VISIT_V7 = "01890a5d-ac96-774b-bcce-b302099a8057"
HLC_TEXT = f"1597458600000-0003-{DEVICE}"


def raw(**changes: Any) -> dict[str, Any]:
    mutation = {
        "mutation_id": 41,
        "type": "household.upsert",
        "id": HOUSEHOLD,
        "base_version": 0,
        "hlc": HLC_TEXT,
        "data": {"ward": "gso-2020:12345", "address": "Số 12"},
    }
    mutation.update(changes)
    return {k: v for k, v in mutation.items() if v is not ...}


def errors_of(call, *args, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(SyncError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == "validation_failed"
    assert all(caught.value.errors.values())
    return caught.value.errors


# --- the envelope ------------------------------------------------------------------------


def test_parse_mutation():
    assert parse_mutation(raw()) == Mutation(
        mutation_id=41,
        type="household.upsert",
        id=HOUSEHOLD,
        base_version=0,
        hlc=HLC(1597458600000, 3, DEVICE),
        data={"ward": "gso-2020:12345", "address": "Số 12"},
    )


@pytest.mark.parametrize(
    ("changes", "base_version"),
    [
        ({"type": "visit.create", "id": VISIT_V7, "base_version": ...}, None),
        ({"type": "visit.create", "base_version": None}, None),
        ({"type": "visit.create", "base_version": 0}, 0),
        ({"type": "visit.update", "base_version": 3}, 3),
        ({"type": "visit.void", "base_version": 1, "data": {"reason": "twice"}}, 1),
        ({"type": "household.upsert", "base_version": 7, "data": {}}, 7),
    ],
)
def test_parse_mutation_types(changes, base_version):
    mutation = parse_mutation(raw(**changes))
    assert mutation.type == changes["type"]
    assert mutation.base_version == base_version


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"extra": 1}, {"extra"}),
        ({"mutation_id": 0}, {"mutation_id"}),
        ({"mutation_id": True}, {"mutation_id"}),
        ({"mutation_id": "41"}, {"mutation_id"}),
        ({"mutation_id": ...}, {"mutation_id"}),
        ({"type": "household.delete"}, {"type"}),
        ({"type": None}, {"type"}),
        # A type that is no string: never an unhashable value's TypeError, whatever the
        # other fields (base_version's rule depends on the type).
        ({"type": {"household.upsert": 1}}, {"type"}),
        ({"type": ["visit.create"], "base_version": None}, {"type"}),
        ({"type": 1, "base_version": ...}, {"type"}),
        ({"type": True}, {"type"}),
        ({"id": HOUSEHOLD.upper()}, {"id"}),
        ({"id": HOUSEHOLD.replace("-", "")}, {"id"}),
        ({"id": "{" + HOUSEHOLD + "}"}, {"id"}),
        ({"id": 12}, {"id"}),
        ({"base_version": ...}, {"base_version"}),
        ({"base_version": None}, {"base_version"}),
        ({"base_version": -1}, {"base_version"}),
        ({"base_version": True}, {"base_version"}),
        ({"base_version": 1.0}, {"base_version"}),
        ({"type": "visit.update", "base_version": ...}, {"base_version"}),
        ({"type": "visit.void", "base_version": None}, {"base_version"}),
        ({"type": "visit.create", "base_version": 2}, {"base_version"}),
        ({"type": "visit.create", "base_version": False}, {"base_version"}),
        ({"hlc": "1597458600000"}, {"hlc"}),
        ({"hlc": ...}, {"hlc"}),
        ({"hlc": 1597458600000}, {"hlc"}),
        ({"data": ...}, {"data"}),
        ({"data": []}, {"data"}),
        ({"data": None}, {"data"}),
        (
            {"type": "x", "id": "x", "hlc": "x", "data": "x", "more": 1},
            {"type", "id", "hlc", "data", "more"},
        ),
    ],
)
def test_parse_mutation_rejects(changes, fields):
    assert set(errors_of(parse_mutation, raw(**changes))) == fields


@pytest.mark.parametrize("value", [None, [], "mutation", 41])
def test_parse_mutation_needs_an_object(value):
    assert errors_of(parse_mutation, value)


# --- households --------------------------------------------------------------------------

NEW_HOUSEHOLD = {
    "ward": "gso-2020:12345",
    "group": None,
    "address": "Số 12, ngõ 34, ngách 5, phường Hiến Nam",
    "lat": 20.65,
    "lon": 106.05,
    "head_name": "Nguyễn Văn A",
    "phone": None,
}


@pytest.mark.parametrize(
    ("data", "creating", "expected"),
    [
        (NEW_HOUSEHOLD, True, NEW_HOUSEHOLD),
        ({"ward": "gso-2020:12345", "address": " Số 12 "}, True, None),
        ({"group": "gso-2020:12345-01"}, False, None),
        ({"address": "Số 14"}, False, None),
        ({"lat": -90, "lon": 180}, False, None),
        ({"lat": None, "lon": None}, False, None),
        ({"head_name": None, "phone": "+84 (0)912.345-678"}, False, None),
        ({"phone": ""}, False, None),
        ({}, False, {}),
    ],
)
def test_clean_household(data, creating, expected):
    cleaned = clean_household(data, creating=creating)
    if expected is None:
        expected = {**data, **({"address": data["address"].strip()} if "address" in data else {})}
    assert cleaned == expected


@pytest.mark.parametrize(
    ("data", "creating", "fields"),
    [
        ({"address": "Số 12"}, True, {"ward"}),
        ({"ward": "gso-2020:12345"}, True, {"address"}),
        ({"ward": None, "address": None}, True, {"ward", "address"}),
        ({**NEW_HOUSEHOLD, "ward": "12345"}, True, {"ward"}),
        ({**NEW_HOUSEHOLD, "ward": "GSO:12345"}, True, {"ward"}),
        ({**NEW_HOUSEHOLD, "ward": "gso:1:2"}, True, {"ward"}),
        ({"ward": "gso-2020:12345"}, False, {"ward"}),
        ({"group": "gso-2020"}, False, {"group"}),
        ({"group": 12}, False, {"group"}),
        ({"address": ""}, False, {"address"}),
        ({"address": "   "}, False, {"address"}),
        ({"address": None}, False, {"address"}),
        ({"address": "x" * 501}, False, {"address"}),
        ({"lat": 90.5, "lon": 0}, False, {"lat"}),
        ({"lat": 0, "lon": -180.01}, False, {"lon"}),
        ({"lat": True, "lon": 0}, False, {"lat"}),
        ({"lat": "20.65", "lon": 106.05}, False, {"lat"}),
        ({"lat": float("nan"), "lon": 1}, False, {"lat"}),
        ({"lat": 20.65}, False, {"lon"}),
        ({"lat": 20.65, "lon": None}, False, {"lon"}),
        ({"lat": None, "lon": 106.05}, False, {"lat"}),
        ({"head_name": "x" * 201}, False, {"head_name"}),
        ({"head_name": 7}, False, {"head_name"}),
        ({"phone": "0912 abc"}, False, {"phone"}),
        ({"phone": "0" * 33}, False, {"phone"}),
        ({"phone": "+-()"}, False, {"phone"}),
        ({"phone": 912345678}, False, {"phone"}),
        ({"adults": 4}, False, {"adults"}),
        (
            {"ward": "gso-2020:12345", "address": "", "lat": 1, "extra": 1},
            True,
            {"address", "lon", "extra"},
        ),
    ],
)
def test_clean_household_rejects(data, creating, fields):
    assert set(errors_of(clean_household, data, creating=creating)) == fields


# --- visits ------------------------------------------------------------------------------

COUNTS = {
    "adults": 4,
    "smartphones": 3,
    "installed_before": 1,
    "installed_during": 2,
    "priority_subjects": 1,
    "priority_installed": 1,
}
NEW_VISIT = {
    "household_id": HOUSEHOLD,
    "visited_at": "2020-08-15T09:31:00+07:00",
    "outcome": "installed",
    **COUNTS,
    "lat": 20.6501,
    "lon": 106.0502,
    "accuracy_m": 12,
    "notes": "",
}


def test_clean_visit_create():
    cleaned = clean_visit(NEW_VISIT, creating=True)
    assert cleaned == {**NEW_VISIT, "visited_at": datetime(2020, 8, 15, 2, 31, tzinfo=UTC)}
    assert cleaned["visited_at"].tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-08-15T09:31:00+07:00", datetime(2020, 8, 15, 2, 31, tzinfo=UTC)),
        ("2020-08-15T02:31:00Z", datetime(2020, 8, 15, 2, 31, tzinfo=UTC)),
        ("2020-08-15t02:31:00z", datetime(2020, 8, 15, 2, 31, tzinfo=UTC)),
        ("2020-08-15T02:31:00.250+00:00", datetime(2020, 8, 15, 2, 31, 0, 250000, tzinfo=UTC)),
        ("2020-08-15T01:00:00+07:00", datetime(2020, 8, 14, 18, 0, tzinfo=UTC)),
        ("2020-08-14T20:00:00-05:00", datetime(2020, 8, 15, 1, 0, tzinfo=UTC)),
    ],
)
def test_visit_times_are_utc(text, expected):
    cleaned = clean_visit({"visited_at": text, "come_back_at": text}, creating=False)
    assert cleaned["visited_at"] == expected
    assert cleaned["come_back_at"] == expected
    assert cleaned["visited_at"].utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "text",
    [
        "2020-08-15T09:31:00",  # naive
        "2020-08-15 09:31:00+07:00",
        "2020-08-15",
        "2020-08-15T09:31+07:00",
        "2020-08-15T09:31:00+0700",
        "2020-08-15T09:31:00 +07:00",
        "2020-08-15T24:00:00+07:00",
        "2020-13-15T09:31:00+07:00",
        "2020-08-15T09:31:00+25:00",
        "20200815T093100Z",
        "15/08/2020 09:31",
        1597458660,
    ],
)
def test_visit_times_need_rfc3339_with_offset(text):
    assert set(errors_of(clean_visit, {"visited_at": text}, creating=False)) == {"visited_at"}


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("2000-01-01T00:00:00Z", True),
        ("2000-01-01T07:00:00+07:00", True),
        ("2099-12-31T23:59:59.999Z", True),
        ("2100-01-01T06:59:59+07:00", True),  # 2099-12-31T23:59:59Z
        ("1999-12-31T23:59:59.999Z", False),
        ("2000-01-01T06:59:59+07:00", False),  # 1999-12-31T23:59:59Z
        ("2100-01-01T00:00:00Z", False),
        ("0001-01-01T00:00:00+00:00", False),  # a day earlier is no datetime
        ("0001-01-01T00:00:00+23:59", False),  # year 0 in UTC
        ("9999-12-31T23:59:59Z", False),
        ("9999-12-31T23:59:59-23:59", False),  # year 10000 in UTC
    ],
)
def test_visit_times_lie_in_the_campaign_calendar(text, accepted):
    data = {"visited_at": text, "come_back_at": text}
    if accepted:
        cleaned = clean_visit(data, creating=False)
        assert validation.FIRST_TIME <= cleaned["visited_at"] <= validation.LAST_TIME
    else:
        assert errors_of(clean_visit, data, creating=False) == {
            "visited_at": [validation.TIME_RANGE_MESSAGE],
            "come_back_at": [validation.TIME_RANGE_MESSAGE],
        }


def test_query_dates_and_visit_times_share_one_calendar():
    from schemas import CAMPAIGN_DATES

    assert (CAMPAIGN_DATES.min, CAMPAIGN_DATES.max) == (
        validation.FIRST_TIME.date(),
        validation.LAST_TIME.date(),
    )


@pytest.mark.parametrize(
    ("data", "creating", "fields"),
    [
        ({"visited_at": NEW_VISIT["visited_at"], "outcome": "installed"}, True, {"household_id"}),
        ({"household_id": HOUSEHOLD, "outcome": "installed"}, True, {"visited_at"}),
        ({"household_id": HOUSEHOLD, "visited_at": NEW_VISIT["visited_at"]}, True, {"outcome"}),
        ({**NEW_VISIT, "household_id": HOUSEHOLD.upper()}, True, {"household_id"}),
        ({"household_id": HOUSEHOLD}, False, {"household_id"}),
        ({"visited_at": None}, False, {"visited_at"}),
        ({"outcome": None}, False, {"outcome"}),
        ({"outcome": "installed_all"}, False, {"outcome"}),
        ({"adults": -1}, False, {"adults"}),
        ({"adults": 2.0}, False, {"adults"}),
        ({"adults": "4"}, False, {"adults"}),
        ({"smartphones": True}, False, {"smartphones"}),
        ({"installed_during": MAX_COUNT + 1}, False, {"installed_during"}),
        ({"accuracy_m": -0.5}, False, {"accuracy_m"}),
        ({"accuracy_m": "12"}, False, {"accuracy_m"}),
        ({"accuracy_m": float("inf")}, False, {"accuracy_m"}),
        ({"notes": "x" * 2001}, False, {"notes"}),
        ({"notes": ["a"]}, False, {"notes"}),
        ({"lat": 20.6}, False, {"lon"}),
        ({"lat": 91, "lon": 106}, False, {"lat"}),
        ({"come_back_at": "tomorrow"}, False, {"come_back_at"}),
        ({"address": "Số 12", "ward": "gso-2020:1"}, False, {"address", "ward"}),
        ({**NEW_VISIT, "voided": True}, True, {"voided"}),
        (
            {"household_id": "x", "outcome": "x", "adults": -1, "notes": 1},
            True,
            {"household_id", "visited_at", "outcome", "adults", "notes"},
        ),
    ],
)
def test_clean_visit_rejects(data, creating, fields):
    assert set(errors_of(clean_visit, data, creating=creating)) == fields


@pytest.mark.parametrize(
    "data",
    [
        {"outcome": "come_back", "come_back_at": "2020-08-16T18:00:00+07:00"},
        {"notes": None, "accuracy_m": None, "come_back_at": None},
        {"adults": None, "lat": None, "lon": None},
        {"accuracy_m": 0, "adults": 0, "installed_during": MAX_COUNT},
        {},
    ],
)
def test_clean_visit_update(data):
    cleaned = clean_visit(data, creating=False)
    assert set(cleaned) == set(data)


# --- the counts rules --------------------------------------------------------------------

NO_COUNTS = dict.fromkeys(COUNT_FIELDS)


def visit(outcome: str, **counts: int | None) -> dict[str, Any]:
    return {"outcome": outcome, **NO_COUNTS, **counts}


def counted(outcome: str, a, s, b, d, ps, pi) -> dict[str, Any]:
    return visit(
        outcome,
        adults=a,
        smartphones=s,
        installed_before=b,
        installed_during=d,
        priority_subjects=ps,
        priority_installed=pi,
    )


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        (counted("installed", 4, 3, 1, 2, 1, 1), set()),
        (counted("installed", 0, 0, 0, 0, 0, 0), set()),
        (counted("refused", 2, 2, 0, 0, 0, 0), set()),
        (visit("not_home"), set()),
        (visit("vacant"), set()),
        (counted("come_back", 3, 1, 1, 0, 0, 0), set()),
        (visit("installed"), set(COUNT_FIELDS)),
        (visit("no_smartphone", adults=2), set(COUNT_FIELDS) - {"adults"}),
        (visit("not_home", adults=2, smartphones=1), set(COUNT_FIELDS) - {"adults", "smartphones"}),
        (counted("installed", 4, 3, 2, 2, 1, 1), {"installed_during"}),
        (counted("installed", 2, 3, 1, 2, 1, 1), {"smartphones"}),
        (counted("installed", 4, 3, 1, 2, 1, 2), {"priority_installed"}),
        (counted("installed", 4, 3, 1, 2, 5, 1), {"priority_subjects"}),
        (counted("partial", 1, 2, 2, 1, 2, 3), set(COUNT_FIELDS) - {"adults", "installed_before"}),
    ],
)
def test_count_errors(values, fields):
    errors = count_errors(values)
    assert set(errors) == fields
    assert all(errors.values())


@pytest.mark.parametrize("outcome", sorted(OUTCOMES_REQUIRING_COUNTS))
def test_outcomes_requiring_counts(outcome):
    assert set(count_errors(visit(outcome))) == set(COUNT_FIELDS)


@pytest.mark.parametrize("outcome", sorted(set(OUTCOMES) - OUTCOMES_REQUIRING_COUNTS))
def test_outcomes_with_optional_counts(outcome):
    assert count_errors(visit(outcome)) == {}


count_values = st.integers(min_value=0, max_value=6)


@given(
    st.sampled_from(OUTCOMES),
    st.fixed_dictionaries({name: count_values for name in COUNT_FIELDS}),
)
def test_count_errors_are_the_inequalities(outcome, counts):
    holds = (
        counts["installed_before"] + counts["installed_during"]
        <= counts["smartphones"]
        <= counts["adults"]
        and counts["priority_installed"] <= counts["priority_subjects"] <= counts["adults"]
    )
    assert (count_errors({"outcome": outcome, **counts}) == {}) is holds


@pytest.mark.parametrize(
    ("values", "mismatch"),
    [
        # installed: every smartphone has the app, some of them installed now.
        (counted("installed", 4, 3, 1, 2, 0, 0), False),
        (counted("installed", 4, 3, 1, 1, 0, 0), True),
        (counted("installed", 4, 3, 3, 0, 0, 0), True),
        (counted("installed", 4, 0, 0, 0, 0, 0), True),
        # partial: some, not all.
        (counted("partial", 4, 3, 0, 1, 0, 0), False),
        (counted("partial", 4, 3, 1, 0, 0, 0), False),
        (counted("partial", 4, 3, 0, 0, 0, 0), True),
        (counted("partial", 4, 3, 1, 2, 0, 0), True),
        # already_installed: all before, none now.
        (counted("already_installed", 4, 3, 3, 0, 0, 0), False),
        (counted("already_installed", 4, 3, 2, 1, 0, 0), True),
        (counted("already_installed", 4, 3, 2, 0, 0, 0), True),
        # refused: nothing installed now.
        (counted("refused", 4, 3, 1, 0, 0, 0), False),
        (counted("refused", 4, 3, 1, 1, 0, 0), True),
        # no_smartphone.
        (counted("no_smartphone", 2, 0, 0, 0, 0, 0), False),
        (counted("no_smartphone", 2, 1, 0, 0, 0, 0), True),
        # vacant: nobody lives there.
        (counted("vacant", 0, 0, 0, 0, 0, 0), False),
        (counted("vacant", 2, 0, 0, 0, 0, 0), True),
        # The others never mismatch, nor does a visit without counts.
        (counted("not_home", 4, 3, 0, 0, 0, 0), False),
        (counted("come_back", 4, 3, 3, 0, 0, 0), False),
        (counted("language_barrier", 4, 3, 0, 0, 0, 0), False),
        (visit("installed"), False),
        (visit("no_smartphone", smartphones=2), False),
    ],
)
def test_outcome_mismatch(values, mismatch):
    assert outcome_mismatch(values) is mismatch


# --- the shortcut for plainly valid envelopes ----------------------------------------------

_envelope_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=3),
    st.sampled_from(
        ["household.upsert", "visit.create", "visit.update", "visit.void", "visit", HOUSEHOLD,
         HOUSEHOLD.upper(), HOUSEHOLD + "\n", VISIT_V7, HLC_TEXT, "1-0-n", "1-0-", "x"]
    ),
    st.just(0.0),
    st.dictionaries(st.sampled_from(["ward", "address", "reason", "bogus"]), st.none(), max_size=2),
    st.just({1: "not a text key"}),
)  # fmt: skip


@given(
    st.dictionaries(
        st.sampled_from(["mutation_id", "type", "id", "base_version", "hlc", "data", "extra"]),
        _envelope_values,
    ),
    st.dictionaries(
        st.sampled_from(["mutation_id", "type", "id", "base_version", "hlc", "data"]),
        _envelope_values,
        max_size=2,
    ),
)
def test_the_shortcut_answers_as_the_full_check(changes, more):
    """parse_mutation settles most envelopes without collecting errors; whatever it lets
    through, it must let through as the full check alone does, and nothing else."""
    mutation = raw(**{k: v for k, v in changes.items() if k != "extra"}) | more
    if "extra" in changes:
        mutation["extra"] = changes["extra"]

    def outcome(parse):
        try:
            return parse(mutation)
        except SyncError as exc:
            return exc.errors

    assert outcome(parse_mutation) == outcome(validation._parse_mutation_fully)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"type": "visit.create", "base_version": ..., "data": {"household_id": HOUSEHOLD}},
        {"type": "visit.create", "base_version": None},
        {"type": "visit.void", "base_version": 3, "data": {"reason": "twice"}},
    ],
)
def test_the_shortcut_takes_the_usual_mutation(changes):
    assert validation._plainly_valid(raw(**changes)) == parse_mutation(raw(**changes))
