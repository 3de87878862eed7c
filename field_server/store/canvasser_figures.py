"""A ward's figures per canvasser (the ward dashboard's canvassers' table, docs/web.md).

One grouped read of the ward's visits, whatever the number of canvassers:

- ``visits``: the visits that count (neither void nor rejected), as the figures' ``visits``
  (docs/figures.md), so the canvassers' visits add up to the ward's;
- ``installs``: the ``installed_during`` of those visits, as the figures' flow figure of
  that name (domain/stats.py), so they add up to the ward's installs made during visits;
- ``flagged``: visits not void that carry at least one quality flag, and per flag the
  visits not void that carry it, matched exactly as the review queue's ``flag`` filter
  matches (store/visit_queries.py), so each equals the rows the queue lists for that
  canvasser and flag, voided visits apart;
- ``last_visit``: when their latest visit not void took place.

``ix_visits_ward_canvasser`` (ward_id, canvasser_id, voided, review_status, flags,
installed_during, visited_at) holds every column read, in the grouping's order: the read is
one range of that index, with no sort and no visit row fetched (on PostgreSQL once the
table is vacuumed; docs/benchmarks.md "Supervisors' pages"). It costs in proportion to the
ward's visits: about 10 ms at 50,000 visits in one ward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, case, func, not_, or_, select, type_coerce

from domain.records import FLAGS

from ..extensions import db
from ..models import User, UTCDateTime, Visit, table

V = table(Visit)
USERS = table(User)


@dataclass(frozen=True)
class CanvasserFigures:
    """One canvasser's visits in one ward (see the module's docstring for each figure)."""

    username: str
    visits: int
    installs: int
    flagged: int
    by_flag: dict[str, int]  # flag name -> visits not void carrying it (only those > 0)
    last_visit: datetime | None


@lru_cache(maxsize=1)
def _statement() -> Any:
    """The grouped read, built once.

    Two steps: the ward's visits grouped by what the figures depend on (canvasser, void,
    review state, flags), which reads ``ix_visits_ward_canvasser`` alone, in its order, with
    no sort and no test per visit; then those few groups folded per canvasser, where the
    flags' tests run once per distinct flags text instead of once per visit."""
    kinds = (
        select(
            V.c.canvasser_id,
            V.c.voided,
            V.c.review_status,
            V.c.flags,
            func.count().label("n"),
            func.sum(func.coalesce(V.c.installed_during, 0)).label("installed_during"),
            func.max(V.c.visited_at).label("last_visit"),
        )
        .where(V.c.ward_id == bindparam("ward_id"))
        .group_by(V.c.canvasser_id, V.c.voided, V.c.review_status, V.c.flags)
        .subquery()
    )
    kept = not_(kinds.c.voided)
    counting = and_(kept, kinds.c.review_status != "rejected")
    flags = [kinds.c.flags.contains(f'"{name}"', autoescape=True) for name in FLAGS]
    per_canvasser = (
        select(
            kinds.c.canvasser_id,
            func.sum(case((counting, kinds.c.n), else_=0)).label("visits"),
            func.sum(case((counting, kinds.c.installed_during), else_=0)).label("installs"),
            func.sum(case((and_(kept, or_(*flags)), kinds.c.n), else_=0)).label("flagged"),
            *[
                func.sum(case((and_(kept, carried), kinds.c.n), else_=0)).label(f"flag_{index}")
                for index, carried in enumerate(flags)
            ],
            type_coerce(func.max(case((kept, kinds.c.last_visit))), UTCDateTime()).label(
                "last_visit"
            ),
        )
        .group_by(kinds.c.canvasser_id)
        .subquery()
    )
    return (
        select(USERS.c.username, per_canvasser)
        .join(per_canvasser, per_canvasser.c.canvasser_id == USERS.c.id)
        .order_by(USERS.c.username)
    )


def ward_canvassers(ward_id: int) -> list[CanvasserFigures]:
    """Every canvasser with a visit in the ward (void or not), by username."""
    rows = db.session.execute(_statement(), {"ward_id": ward_id}).all()
    return [
        CanvasserFigures(
            username=row.username,
            visits=int(row.visits or 0),
            installs=int(row.installs or 0),
            flagged=int(row.flagged or 0),
            by_flag={
                name: int(count)
                for name, count in zip(
                    FLAGS, (getattr(row, f"flag_{i}") for i in range(len(FLAGS))), strict=True
                )
                if count
            },
            last_visit=row.last_visit,
        )
        for row in rows
    ]
