"""Near-duplicate suggestions (docs/api-conflicts.md GET /duplicates): the households of one ward as
the duplicate rules see them (domain/duplicates.py), and the possible_duplicate conflicts of the
ward, open (shown first) or settled (never suggested again)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select

from domain.conflicts import duplicate_pair
from domain.duplicates import Candidate

from ..extensions import db
from ..models import Conflict, Household


@dataclass
class WardDuplicates:
    candidates: list[Candidate]
    open_pairs: dict[tuple[str, str], str] = field(default_factory=dict)  # pair -> conflict
    settled_pairs: set[tuple[str, str]] = field(default_factory=set)


def ward_duplicates(ward_id: int) -> WardDuplicates:
    """Every household of the ward that is not merged away (a few columns each: a ward of
    5,000 is one small query), and its possible_duplicate conflicts."""
    rows = db.session.execute(
        select(
            Household.id,
            Household.address_norm,
            Household.first_lat,
            Household.first_lon,
            Household.head_name,
        ).where(Household.ward_id == ward_id, Household.merged_into.is_(None))
    ).all()
    candidates = [
        Candidate(
            id=r.id,
            address_norm=r.address_norm,
            first_pos=(r.first_lat, r.first_lon)
            if r.first_lat is not None and r.first_lon is not None
            else None,
            head_name=r.head_name,
        )
        for r in rows
    ]
    out = WardDuplicates(candidates=candidates)
    conflicts = db.session.execute(
        select(Conflict.id, Conflict.fields, Conflict.status)
        .where(Conflict.ward_id == ward_id, Conflict.kind == "possible_duplicate")
        .order_by(Conflict.created_at, Conflict.id)
    ).all()
    for row in conflicts:
        pair = sorted(duplicate_pair(json.loads(row.fields or "{}")))
        if len(pair) != 2:
            continue
        key = (pair[0], pair[1])
        if row.status == "open":
            out.open_pairs.setdefault(key, row.id)
        else:
            out.settled_pairs.add(key)
    return out


def households_by_id(ids: list[str]) -> dict[str, Household]:
    """The households of a page of suggestions (shown with services/households.py)."""
    rows = db.session.execute(select(Household).where(Household.id.in_(ids))).scalars()
    return {h.id: h for h in rows}
