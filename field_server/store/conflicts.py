"""Conflicts (docs/api-conflicts.md): listing a ward's conflicts newest first, one page by
keyset, reading one by id, and loading and closing one. All SQL for the conflicts table
outside a push lives here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, or_, select, update

from ..extensions import db
from ..models import Conflict, Unit


def list_conflicts(
    *,
    roots: Sequence[str] | None,
    status: str | None,
    kind: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> tuple[list[tuple[Conflict, str]], bool]:
    """A page of (conflict, ward ref), newest first (created_at, then id, descending).
    ``roots`` None lists every ward; otherwise the wards at or below these unit paths."""
    query = select(Conflict, Unit.scheme, Unit.code).join(Unit, Unit.id == Conflict.ward_id)
    if roots is not None:
        query = query.where(or_(*[Unit.path.startswith(p) for p in roots]) if roots else false())
    if status:
        query = query.where(Conflict.status == status)
    if kind:
        query = query.where(Conflict.kind == kind)
    if after is not None:
        created, last_id = after
        query = query.where(
            or_(
                Conflict.created_at < created,
                and_(Conflict.created_at == created, Conflict.id < last_id),
            )
        )
    query = query.order_by(Conflict.created_at.desc(), Conflict.id.desc()).limit(limit + 1)
    rows = [(row[0], f"{row[1]}:{row[2]}") for row in db.session.execute(query)]
    return rows[:limit], len(rows) > limit


def conflict_with_ward(conflict_id: str) -> tuple[Conflict, Unit] | None:
    """The conflict and its ward, read by id (no lock: a page shows it)."""
    row = db.session.execute(
        select(Conflict, Unit)
        .join(Unit, Unit.id == Conflict.ward_id)
        .where(Conflict.id == conflict_id)
    ).first()
    return (row[0], row[1]) if row else None


def conflict_for_update(conflict_id: str) -> tuple[Conflict, Unit] | None:
    """The conflict (locked for this transaction) and its ward."""
    row = db.session.execute(
        select(Conflict, Unit)
        .join(Unit, Unit.id == Conflict.ward_id)
        .where(Conflict.id == conflict_id)
        .with_for_update(of=Conflict)
        .execution_options(populate_existing=True)
    ).first()
    return (row[0], row[1]) if row else None


def close(conflict: Conflict, *, status: str, at: datetime, by: str) -> None:
    conflict.status = status
    conflict.resolved_at = at
    conflict.resolved_by = by
    db.session.flush()


def fields_of(conflict: Conflict) -> dict[str, Any]:
    return json.loads(conflict.fields) if conflict.fields else {}


def open_duplicates_of(household_ids: Iterable[str]) -> list[Conflict]:
    """Open possible_duplicate conflicts recorded on these households, locked."""
    ids = list(household_ids)
    return list(
        db.session.execute(
            select(Conflict)
            .where(
                Conflict.kind == "possible_duplicate",
                Conflict.entity == "household",
                Conflict.entity_id.in_(ids),
                Conflict.status == "open",
            )
            .with_for_update()
        ).scalars()
    )


def close_many(conflict_ids: Sequence[str], *, status: str, at: datetime, by: str) -> None:
    if conflict_ids:
        db.session.execute(
            update(Conflict)
            .where(Conflict.id.in_(list(conflict_ids)))
            .values(status=status, resolved_at=at, resolved_by=by)
            .execution_options(synchronize_session=False)
        )
