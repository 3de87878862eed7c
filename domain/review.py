"""Supervisors' review of visits (docs/api-supervision.md) as pure functions.

- ``queue_rank``: where a visit stands in the review queue (1 = in front). The push write
  path and the review both call it, so a visit is ranked by one rule whoever changed it.
- ``plan_review``: what one review action (single or bulk, all or nothing) does to a set of
  visits: their new review state and rank, which households must be recounted (a rejected
  visit stops counting at once), and the audit rows. It refuses voided visits.
- ``recount``: the households' counters again, from their visits (domain/rules.py).
- ``local_range``: a pair of campaign-local dates as a half-open UTC interval, for the
  ``from``/``to`` parameters of the lists.

Nothing here reads a clock or a database: the caller passes the time, the reviewer and the
visits as loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .records import Counters, SyncError, VisitFacts, complete_counts
from .rules import derive_counters

# action -> the review_status it sets
REVIEW_ACTIONS: dict[str, str] = {
    "approve": "approved",
    "reject": "rejected",
    "flag": "flagged",
    "reset": "pending",
}
MAX_BULK_REVIEW = 1000
# Every value queue_rank gives, front of the queue first.
QUEUE_RANKS = (1, 0)
MAX_COMMENT_LENGTH = 2000


def queue_rank(flags: Sequence[str], review_status: str, priority_subjects: int | None) -> int:
    """1 for a visit that goes to the front of the review queue: it carries a quality flag,
    a supervisor flagged it, or the household has priority subjects (people in quarantine or
    awaiting a test, who must install first); else 0."""
    if flags or review_status == "flagged" or (priority_subjects or 0) > 0:
        return 1
    return 0


def status_for(action: str) -> str:
    """The review_status an action sets; SyncError ``validation_failed`` for another one."""
    try:
        return REVIEW_ACTIONS[action]
    except KeyError:
        raise SyncError(
            "validation_failed",
            f"Unknown review action {action!r}.",
            errors={"action": [f"Must be one of: {', '.join(REVIEW_ACTIONS)}."]},
        ) from None


def counts_toward_figures(review_status: str, voided: bool) -> bool:
    """A visit counts when it is neither void nor rejected (docs/sync-protocol.md)."""
    return not voided and review_status != "rejected"


@dataclass(frozen=True)
class ReviewTarget:
    """What the review needs to know of one visit, as stored now."""

    id: str
    household_id: str
    review_status: str
    voided: bool
    flags: tuple[str, ...]
    priority_subjects: int | None


@dataclass
class ReviewPlan:
    """What one review action writes."""

    review_status: str
    comment: str | None
    reviewed_at: datetime
    reviewed_by: str
    # rank -> visit ids that get it (one set-based UPDATE per rank)
    ids_by_rank: dict[int, list[str]] = field(default_factory=dict)
    household_ids: list[str] = field(default_factory=list)  # to measure for the figures
    recount_household_ids: list[str] = field(default_factory=list)  # counting changed
    audit_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def visit_ids(self) -> list[str]:
        return [visit_id for ids in self.ids_by_rank.values() for visit_id in ids]


def plan_review(
    targets: Sequence[ReviewTarget],
    action: str,
    comment: str | None,
    *,
    now: datetime,
    reviewer: str,
    client_address: str | None,
) -> ReviewPlan:
    """The review of these visits, all or nothing. Raises SyncError ``visit_voided`` (with
    the voided ids in details) when any of them is void: a void visit no longer exists for
    the tablet, and approving it would count nothing."""
    new_status = status_for(action)
    voided = [t.id for t in targets if t.voided]
    if voided:
        raise SyncError(
            "visit_voided", "A voided visit cannot be reviewed.", details={"ids": voided}
        )
    plan = ReviewPlan(
        review_status=new_status, comment=comment, reviewed_at=now, reviewed_by=reviewer
    )
    households: dict[str, None] = {}
    recount_ids: dict[str, None] = {}
    for target in targets:
        rank = queue_rank(target.flags, new_status, target.priority_subjects)
        plan.ids_by_rank.setdefault(rank, []).append(target.id)
        households[target.household_id] = None
        if counts_toward_figures(target.review_status, False) != counts_toward_figures(
            new_status, False
        ):
            recount_ids[target.household_id] = None
        plan.audit_rows.append(
            {
                "action": "visit.review",
                "actor": reviewer,
                "target": target.id,
                "client_address": client_address,
                "at": now,
                "details": {
                    "action": action,
                    "comment": comment,
                    "previous_status": target.review_status,
                    "review_status": new_status,
                },
            }
        )
    plan.household_ids = list(households)
    plan.recount_household_ids = list(recount_ids)
    return plan


@dataclass(frozen=True)
class CountedVisit:
    """One visit of a household, as the counters need it."""

    id: str
    household_id: str
    order_key: tuple[int, int, str]
    counts: Mapping[str, int | None]
    review_status: str
    voided: bool


def recount(visits: Iterable[CountedVisit], current: Mapping[str, Counters]) -> dict[str, Counters]:
    """The households (keys of ``current``) whose counters differ from ``current`` once
    derived again from their visits, with the new counters."""
    by_household: dict[str, list[VisitFacts]] = {hid: [] for hid in current}
    for visit in visits:
        facts = VisitFacts(
            id=visit.id,
            order_key=visit.order_key,
            counts=complete_counts(visit.counts),
            counting=counts_toward_figures(visit.review_status, visit.voided),
        )
        by_household.setdefault(visit.household_id, []).append(facts)
    changed: dict[str, Counters] = {}
    for household_id, household_facts in by_household.items():
        counters = derive_counters(household_facts)
        if household_id in current and counters != current[household_id]:
            changed[household_id] = counters
    return changed


def local_range(
    start: date | None, end: date | None, zone: str
) -> tuple[datetime | None, datetime | None]:
    """``from``/``to`` local dates (both ends included) as [since, until) in UTC."""
    tz = ZoneInfo(zone)
    since = datetime.combine(start, time(0), tz).astimezone(UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(UTC) if end else None
    return since, until
