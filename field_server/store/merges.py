"""Merging one household into another (docs/api-conflicts.md POST /households/{id}/merge): the
visits move to the survivor, the other household becomes a tombstone (``merged_into``), and the
survivor's counters are derived again from all its visits. Set-based: a few statements whatever the
number of visits. services/merges.py runs it in one write that measures both households before
(which locks them) and stamps the returned ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from domain.records import COUNT_FIELDS, Counters, VisitFacts
from domain.rules import derive_counters

from ..extensions import db
from ..models import Household, Visit


@dataclass
class Merged:
    moved_visits: list[str]
    counters: Counters


def households_locked(ids: list[str]) -> dict[str, Household]:
    """The households, read again once the write's measure locked them."""
    rows = db.session.execute(
        select(Household).where(Household.id.in_(ids)).execution_options(populate_existing=True)
    ).scalars()
    return {h.id: h for h in rows}


def _facts(row: Any) -> VisitFacts:
    counts = {name: getattr(row, name) for name in COUNT_FIELDS}
    return VisitFacts(
        id=row.id,
        order_key=(row.order_ms, row.order_counter, row.order_node),
        counts=counts if all(v is not None for v in counts.values()) else None,
        counting=not row.voided and row.review_status != "rejected",
    )


def merge(source: Household, into: Household, now: datetime) -> Merged:
    """Move the source's visits to ``into``, make the source a tombstone, re-derive the
    survivor's counters. Checks (same ward, neither merged) are the caller's."""
    moved = list(
        db.session.execute(select(Visit.id).where(Visit.household_id == source.id)).scalars()
    )
    if moved:
        db.session.execute(
            update(Visit)
            .where(Visit.household_id == source.id)
            .values(
                household_id=into.id,
                ward_id=into.ward_id,
                group_id=into.group_id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    source.merged_into = into.id
    source.updated_at = now
    for name in Counters.__dataclass_fields__:  # a tombstone has no visits left to count
        setattr(source, name, None)
    columns = [getattr(Visit, c) for c in ("id", "order_ms", "order_counter", "order_node")]
    columns += [getattr(Visit, c) for c in (*COUNT_FIELDS, "voided", "review_status")]
    rows = db.session.execute(select(*columns).where(Visit.household_id == into.id)).all()
    counters = derive_counters(_facts(row) for row in rows)
    for name in Counters.__dataclass_fields__:
        setattr(into, name, getattr(counters, name))
    into.updated_at = now
    db.session.flush()
    return Merged(moved_visits=moved, counters=counters)
