"""Duplicate households: the near-duplicate suggestions behind the supervisors' /duplicates
page, and merging one household into another. Suggestions never merge anything by
themselves.

A merge moves the visits to the survivor, leaves the other household as a tombstone
(``merged_into``) that tablets pull, derives the survivor's counters again, settles the
figures, and resolves the open possible_duplicate conflicts recorded on the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.conflicts import MergeSide, check_merge, duplicate_pair
from domain.duplicates import listing

from ..errors import ApiError
from ..store import conflicts as conflict_store
from ..store import duplicates as duplicate_store
from ..store import figures, household_queries
from ..store import merges as merge_store
from .context import Caller, Page
from .households import HouseholdRecord, household_records
from .scoping import unit_in_scope
from .writes import Write, run_write


@dataclass(frozen=True)
class DuplicateSuggestion:
    """Two households that may be one, why, and the open possible_duplicate conflict
    recorded for the pair, if any."""

    households: list[HouseholdRecord]
    score: float
    reasons: list[str]
    address_similarity: float
    distance_m: float | None
    conflict_id: str | None


def list_duplicates(caller: Caller, *, ward: str, after: Any, limit: int) -> Page:
    """A page of a ward's duplicate suggestions: the pairs of open possible_duplicate
    conflicts first, then by score, best first."""
    unit = unit_in_scope(caller, ward)
    if unit.level != "ward":
        raise ApiError("validation_failed", errors={"ward": ["Name a ward."]})
    if after is not None and (not isinstance(after, list) or len(after) != 4):
        raise ApiError("cursor_invalid")
    found = duplicate_store.ward_duplicates(unit.id)
    rows = listing(found.candidates, found.open_pairs, found.settled_pairs)
    if after is not None:
        try:
            rows = [row for row in rows if row.key > after]
        except TypeError:
            raise ApiError("cursor_invalid") from None
    chosen, has_more = rows[:limit], len(rows) > limit
    ids = sorted({i for row in chosen for i in (row.suggestion.a, row.suggestion.b)})
    shown = {
        record.id: record
        for record in household_records(list(duplicate_store.households_by_id(ids).values()))
    }
    items = [
        DuplicateSuggestion(
            households=[shown[row.suggestion.a], shown[row.suggestion.b]],
            score=row.suggestion.score,
            reasons=list(row.suggestion.reasons),
            address_similarity=row.suggestion.address_similarity,
            distance_m=row.suggestion.distance_m,
            conflict_id=row.conflict_id,
        )
        for row in chosen
    ]
    return Page(items, chosen[-1].key if chosen else None, has_more)


def _visible_household(caller: Caller, household_id: str) -> Any | None:
    found = household_queries.household_with_ward_path(household_id)
    if found is None or not caller.scope.covers(found[1]):
        return None
    return found[0]


def merge_household(
    caller: Caller, household_id: str, *, into: str, now: datetime, timezone: str
) -> HouseholdRecord:
    """Merge a household into another of its ward; the survivor as it is after."""

    def work(write: Write) -> None:
        source = _visible_household(caller, household_id)
        if source is None:
            raise ApiError("not_found")
        target = _visible_household(caller, into)
        # Unknown, out of scope and in another ward look alike: ids cannot be probed.
        if target is None or target.ward_id != source.ward_id:
            raise ApiError(
                "validation_failed", errors={"into": ["No household with this id in this ward."]}
            )
        ids = sorted({source.id, target.id})
        write.measure(ids)  # locks both (PostgreSQL) before they are read again
        rows = merge_store.households_locked(ids)
        kept, merged_away = rows[target.id], rows[source.id]
        check_merge(
            MergeSide(merged_away.id, merged_away.ward_id, merged_away.merged_into),
            MergeSide(kept.id, kept.ward_id, kept.merged_into),
        )
        merged = merge_store.merge(merged_away, kept, now)
        pair = frozenset(ids)
        settled = [
            c.id
            for c in conflict_store.open_duplicates_of(ids)
            if duplicate_pair(conflict_store.fields_of(c)) == pair
        ]
        conflict_store.close_many(settled, status="resolved", at=now, by=caller.username)
        figures.adjust_open_conflicts({merged_away.ward_id: -len(settled)})
        write.touch("household", ids)
        write.touch("visit", merged.moved_visits)
        write.audit(
            "household.merge",
            merged_away.id,
            {
                "into": kept.id,
                "visits_moved": len(merged.moved_visits),
                "conflicts_resolved": settled,
            },
        )

    run_write(caller, now, work, timezone=timezone)
    survivor = household_queries.household_with_ward_path(into)
    if survivor is None:  # cannot happen: the merge just wrote it
        raise ApiError("not_found")
    return household_records([survivor[0]])[0]
