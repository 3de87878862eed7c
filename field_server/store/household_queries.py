"""Reading households for supervisors (docs/api-supervision.md): the list with its search, and one
household.

The list is ordered by (ward_id, address_norm, id) and paged by keyset on those columns, so
a ward's page is a range scan of ``ix_households_ward_address``; households merged into
another are tombstones and left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, func, literal, or_, select, tuple_

from ..extensions import db
from ..models import Household, Unit, table
from .visit_queries import WardSet

H = table(Household)
U = table(Unit)

HouseholdPosition = tuple[int, str, str]


def household_page(
    wards: WardSet,
    *,
    text: str | None,
    normalised: str | None,
    after: HouseholdPosition | None,
    limit: int,
) -> tuple[list[Any], bool]:
    """One page of households not merged away: (rows, has_more). ``text`` matches address or
    head_name case-insensitively; ``normalised`` (the search normalised like addresses are)
    matches the stored normalised address."""
    query = select(H).where(H.c.merged_into.is_(None))
    if wards.ids is not None:
        if not wards.ids:
            return [], False
        query = query.where(H.c.ward_id.in_(wards.ids))
    elif wards.paths is not None:
        inside = select(U.c.id).where(
            U.c.level == "ward", or_(*[U.c.path.startswith(p) for p in wards.paths])
        )
        query = query.where(H.c.ward_id.in_(inside))
    if text:
        needle = text.lower()
        matches = [
            func.lower(H.c.address).contains(needle, autoescape=True),
            func.lower(H.c.head_name).contains(needle, autoescape=True),
        ]
        if normalised:
            matches.append(H.c.address_norm.contains(normalised, autoescape=True))
        query = query.where(or_(*matches))
    if after is not None:
        ward_id, address_norm, household_id = after
        query = query.where(
            tuple_(H.c.ward_id, H.c.address_norm, H.c.id)
            > tuple_(
                literal(ward_id, Integer()),
                literal(address_norm, String()),
                literal(household_id, String()),
            )
        )
    query = query.order_by(H.c.ward_id, H.c.address_norm, H.c.id).limit(limit + 1)
    rows = list(db.session.execute(query).all())
    return rows[:limit], len(rows) > limit


def household_with_ward_path(household_id: str) -> tuple[Any, str] | None:
    """The household row and its ward's path, in one query (None when unknown)."""
    row = db.session.execute(
        select(H, U.c.path.label("ward_path"))
        .join(U, U.c.id == H.c.ward_id)
        .where(H.c.id == household_id)
    ).first()
    return (row, row.ward_path) if row is not None else None
