"""Persisting a review (docs/api-supervision.md): load the visits, write the plan of
domain/review.py, recount the households whose visits stopped (or started again) counting
(services/visits.py runs them in one write).

Set-based whatever the number of visits: one SELECT per 500 ids, one UPDATE per queue rank
and 500 ids, one SELECT of the households' visits and one executemany for the households
whose counters changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

from domain.records import COUNT_FIELDS, Counters
from domain.review import CountedVisit, ReviewPlan, ReviewTarget, recount

from ..extensions import db
from ..models import Household, Unit, Visit, table
from .batching import chunks

V = table(Visit)
H = table(Household)
U = table(Unit)


@dataclass(frozen=True)
class LoadedTarget:
    target: ReviewTarget
    ward_path: str


def load_targets(ids: Sequence[str], *, lock: bool = False) -> dict[str, LoadedTarget]:
    """The visits to review with their ward's path (unknown ids are absent). ``lock`` takes
    the rows FOR UPDATE on PostgreSQL (SQLite's write transaction already holds them)."""
    found: dict[str, LoadedTarget] = {}
    postgres = db.session.get_bind().dialect.name == "postgresql"
    for chunk in chunks(ids):
        query = (
            select(
                V.c.id,
                V.c.household_id,
                V.c.review_status,
                V.c.voided,
                V.c.flags,
                V.c.priority_subjects,
                U.c.path,
            )
            .join(U, U.c.id == V.c.ward_id)
            .where(V.c.id.in_(chunk))
        )
        if lock and postgres:
            query = query.order_by(V.c.id).with_for_update(of=V)
        for row in db.session.execute(query):
            found[row.id] = LoadedTarget(
                ReviewTarget(
                    id=row.id,
                    household_id=row.household_id,
                    review_status=row.review_status,
                    voided=row.voided,
                    flags=tuple(json.loads(row.flags or "[]")),
                    priority_subjects=row.priority_subjects,
                ),
                row.path,
            )
    return found


def reload_locked(ids: Sequence[str]) -> dict[str, LoadedTarget] | None:
    """On PostgreSQL, the targets read again with their rows locked, once the households
    are locked too: the state the review replaces (a merge may have moved a visit since the
    first read). None on SQLite, whose write transaction has held the whole database since
    it began, so the first read stands."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    return load_targets(ids, lock=True)


def apply_review(plan: ReviewPlan) -> None:
    """Write the new review state. ``version`` stays: a review is not a change of the
    visit's own data (docs/sync-protocol.md)."""
    for rank, ids in sorted(plan.ids_by_rank.items()):
        for chunk in chunks(ids):
            db.session.execute(
                update(V)
                .where(V.c.id.in_(chunk))
                .values(
                    review_status=plan.review_status,
                    review_comment=plan.comment,
                    reviewed_at=plan.reviewed_at,
                    reviewed_by=plan.reviewed_by,
                    queue_rank=rank,
                )
                .execution_options(synchronize_session=False)
            )


def recount_households(household_ids: Sequence[str], now: datetime) -> list[str]:
    """Derive these households' counters again from their visits and store the ones that
    changed; returns their ids (to stamp for the tablets)."""
    if not household_ids:
        return []
    counter_names = tuple(Counters.__dataclass_fields__)
    current: dict[str, Counters] = {}
    for chunk in chunks(household_ids):
        rows = db.session.execute(
            select(H.c.id, *[H.c[name] for name in counter_names]).where(H.c.id.in_(chunk))
        )
        for row in rows:
            current[row.id] = Counters(**{name: getattr(row, name) for name in counter_names})
    visits: list[CountedVisit] = []
    for chunk in chunks(household_ids):
        rows = db.session.execute(
            select(
                V.c.id,
                V.c.household_id,
                V.c.order_ms,
                V.c.order_counter,
                V.c.order_node,
                V.c.review_status,
                V.c.voided,
                *[V.c[name] for name in COUNT_FIELDS],
            ).where(V.c.household_id.in_(chunk))
        )
        visits += [
            CountedVisit(
                id=row.id,
                household_id=row.household_id,
                order_key=(row.order_ms, row.order_counter, row.order_node),
                counts={name: getattr(row, name) for name in COUNT_FIELDS},
                review_status=row.review_status,
                voided=row.voided,
            )
            for row in rows
        ]
    changed = recount(visits, current)
    if changed:
        db.session.execute(
            update(H)
            .where(H.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in (*counter_names, "updated_at")}),
            [
                {"_id": hid, "updated_at": now, **{n: getattr(c, n) for n in counter_names}}
                for hid, c in changed.items()
            ],
            execution_options={"synchronize_session": False},
        )
    return list(changed)
