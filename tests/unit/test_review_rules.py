"""The review rules (domain/review.py): queue rank, review plans, recounts, local date ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.records import Counters, SyncError
from domain.review import (
    CountedVisit,
    ReviewTarget,
    local_range,
    plan_review,
    queue_rank,
    recount,
    status_for,
)

NOW = datetime(2020, 8, 15, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("flags", "status", "priority_subjects", "rank"),
    [
        ([], "pending", None, 0),
        ([], "pending", 0, 0),
        ([], "approved", 0, 0),
        ([], "rejected", None, 0),
        ([], "flagged", 0, 1),
        (["too_fast"], "pending", 0, 1),
        (["gps_far_from_household", "clock_suspect"], "approved", None, 1),
        ([], "pending", 1, 1),
        ([], "approved", 3, 1),
        (["outcome_mismatch"], "flagged", 2, 1),
    ],
)
def test_queue_rank(flags, status, priority_subjects, rank):
    assert queue_rank(flags, status, priority_subjects) == rank


@pytest.mark.parametrize(
    ("action", "status"),
    [("approve", "approved"), ("reject", "rejected"), ("flag", "flagged"), ("reset", "pending")],
)
def test_each_action_sets_its_status(action, status):
    assert status_for(action) == status


def test_an_unknown_action_is_a_validation_error():
    with pytest.raises(SyncError) as caught:
        status_for("delete")
    assert caught.value.code == "validation_failed" and "action" in caught.value.errors


def target(visit_id, household="h1", status="pending", voided=False, flags=(), subjects=0):
    return ReviewTarget(visit_id, household, status, voided, tuple(flags), subjects)


def plan(targets, action="approve", comment=None):
    return plan_review(
        targets, action, comment, now=NOW, reviewer="sv.vangiang", client_address="10.0.0.9"
    )


def test_plan_groups_visits_by_their_new_rank():
    result = plan(
        [target("v1"), target("v2", flags=["too_fast"]), target("v3", subjects=2), target("v4")]
    )
    assert result.review_status == "approved"
    assert result.ids_by_rank == {0: ["v1", "v4"], 1: ["v2", "v3"]}
    assert sorted(result.visit_ids) == ["v1", "v2", "v3", "v4"]


def test_flagging_puts_every_visit_in_front_and_reset_takes_it_back():
    assert plan([target("v1"), target("v2")], "flag").ids_by_rank == {1: ["v1", "v2"]}
    back = plan([target("v1", status="flagged")], "reset")
    assert back.review_status == "pending" and back.ids_by_rank == {0: ["v1"]}


@pytest.mark.parametrize(
    ("previous", "action", "recounted"),
    [
        ("pending", "approve", False),
        ("pending", "flag", False),
        ("pending", "reject", True),
        ("approved", "reject", True),
        ("rejected", "reject", False),
        ("rejected", "approve", True),
        ("rejected", "reset", True),
        ("flagged", "approve", False),
    ],
)
def test_households_are_recounted_only_when_a_visit_starts_or_stops_counting(
    previous, action, recounted
):
    result = plan([target("v1", household="h1", status=previous)], action)
    assert result.household_ids == ["h1"]
    assert result.recount_household_ids == (["h1"] if recounted else [])


def test_one_audit_row_per_visit_with_the_previous_status():
    result = plan(
        [target("v1", status="flagged"), target("v2", household="h2")], "reject", "bịa số liệu"
    )
    assert [row["target"] for row in result.audit_rows] == ["v1", "v2"]
    first = result.audit_rows[0]
    assert first["action"] == "visit.review" and first["actor"] == "sv.vangiang"
    assert first["at"] == NOW and first["client_address"] == "10.0.0.9"
    assert first["details"] == {
        "action": "reject",
        "comment": "bịa số liệu",
        "previous_status": "flagged",
        "review_status": "rejected",
    }


def test_a_voided_visit_refuses_the_whole_review():
    with pytest.raises(SyncError) as caught:
        plan([target("v1"), target("v2", voided=True), target("v3", voided=True)])
    assert caught.value.code == "visit_voided"
    assert caught.value.details == {"ids": ["v2", "v3"]}


def counted(visit_id, ms, adults, before, during, status="pending", voided=False, household="h1"):
    counts = {
        "adults": adults,
        "smartphones": adults,
        "installed_before": before,
        "installed_during": during,
        "priority_subjects": 0,
        "priority_installed": 0,
    }
    return CountedVisit(visit_id, household, (ms, 0, "n"), counts, status, voided)


@pytest.mark.parametrize(
    ("visits", "current", "expected"),
    [
        # nothing changed: nothing to write
        (
            [counted("v1", 1, 4, 1, 2)],
            Counters(4, 4, 3, 0, 0),
            None,
        ),
        # the only visit rejected: the household has no counts any more
        (
            [counted("v1", 1, 4, 1, 2, status="rejected")],
            Counters(4, 4, 3, 0, 0),
            Counters(),
        ),
        # the latest visit rejected: the earlier one's counts again
        (
            [counted("v1", 1, 3, 0, 1), counted("v2", 2, 5, 1, 3, status="rejected")],
            Counters(5, 5, 4, 0, 0),
            Counters(3, 3, 1, 0, 0),
        ),
        # a rejected visit approved again counts again; a voided one never does
        (
            [counted("v1", 1, 3, 0, 1), counted("v2", 2, 5, 1, 3, voided=True)],
            Counters(),
            Counters(3, 3, 1, 0, 0),
        ),
    ],
)
def test_recount(visits, current, expected):
    changed = recount(visits, {"h1": current})
    assert changed == ({} if expected is None else {"h1": expected})


def test_recount_covers_a_household_left_without_visits():
    assert recount([], {"h9": Counters(2, 2, 1, 0, 0)}) == {"h9": Counters()}


@pytest.mark.parametrize(
    ("start", "end", "since", "until"),
    [
        (
            date(2020, 8, 15),
            date(2020, 8, 15),
            datetime(2020, 8, 14, 17, tzinfo=UTC),
            datetime(2020, 8, 15, 17, tzinfo=UTC),
        ),
        (date(2020, 8, 1), None, datetime(2020, 7, 31, 17, tzinfo=UTC), None),
        (None, date(2020, 8, 31), None, datetime(2020, 8, 31, 17, tzinfo=UTC)),
        (None, None, None, None),
    ],
)
def test_local_range_in_the_campaign_zone(start, end, since, until):
    assert local_range(start, end, "Asia/Ho_Chi_Minh") == (since, until)
