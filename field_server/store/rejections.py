"""Rejected mutations kept in the device ledger (docs/api-conflicts.md): listing
those not yet re-applied, newest first, and loading one to re-apply.

A rejection belongs to the ward it was aimed at (``device_mutations.ward_id``). When that
is unknown (a household that does not exist, a ward ref that names nothing, a malformed
mutation), it belongs to the units of the device's owner: it is visible to admins and to
the supervisors (and district officers) whose units hold one of the owner's open
assignments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, literal_column, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Assignment, DeviceMutation, Unit, User

DM = DeviceMutation

# The rows of the ledger's index of open rejections (models.py), spelt as its predicate is,
# the status a literal: a plan made for any value of a bound parameter (PostgreSQL's generic
# plan of a prepared statement) could not use that index.
OPEN = and_(DM.status == literal_column("'rejected'"), DM.resolved_at.is_(None))


def _owners_under(roots: Sequence[str], now: datetime) -> Select[int]:
    """User ids with an open assignment at or below one of the unit paths."""
    return (
        select(Assignment.user_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(
            or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
            or_(*[Unit.path.startswith(path) for path in roots]),
        )
    )


def _in_units(roots: Sequence[str], now: datetime, ward: type[Unit]) -> ColumnElement[bool]:
    if not roots:
        return false()
    return or_(
        or_(*[ward.path.startswith(path) for path in roots]),
        and_(DM.ward_id.is_(None), DM.user_id.in_(_owners_under(roots, now))),
    )


def list_rejections(
    *,
    roots: Sequence[str] | None,
    after: tuple[datetime, str, int] | None,
    limit: int,
    now: datetime,
) -> tuple[list[tuple[DeviceMutation, str, str | None]], bool]:
    """A page of (rejected mutation, owner's username, ward ref or None) not re-applied yet,
    newest first (received_at, device id, mutation id descending). ``roots`` None: all."""
    ward = aliased(Unit)
    query = (
        select(DM, User.username, ward.scheme, ward.code)
        .join(User, User.id == DM.user_id)
        .outerjoin(ward, ward.id == DM.ward_id)
        .where(OPEN)
    )
    if roots is not None:
        query = query.where(_in_units(roots, now, ward))
    if after is not None:
        received, device_id, mutation_id = after
        query = query.where(
            or_(
                DM.received_at < received,
                and_(
                    DM.received_at == received,
                    or_(
                        DM.device_id < device_id,
                        and_(DM.device_id == device_id, DM.mutation_id < mutation_id),
                    ),
                ),
            )
        )
    query = query.order_by(DM.received_at.desc(), DM.device_id.desc(), DM.mutation_id.desc())
    rows: list[tuple[DeviceMutation, str, str | None]] = [
        (row[0], row[1], f"{row[2]}:{row[3]}" if row[2] is not None else None)
        for row in db.session.execute(query.limit(limit + 1))
    ]
    return rows[:limit], len(rows) > limit


def rejection_for_update(
    device_id: str, mutation_id: int, *, roots: Sequence[str] | None, now: datetime
) -> tuple[DeviceMutation, User, Unit | None] | None:
    """The rejected mutation (locked), its owner and its ward; None when unknown, not a
    rejection, or outside the units (``roots`` None: everything)."""
    ward = aliased(Unit)
    query = (
        select(DM, User, ward)
        .join(User, User.id == DM.user_id)
        .outerjoin(ward, ward.id == DM.ward_id)
        .where(DM.device_id == device_id, DM.mutation_id == mutation_id, DM.status == "rejected")
    )
    if roots is not None:
        query = query.where(_in_units(roots, now, ward))
    row = db.session.execute(
        query.with_for_update(of=DM).execution_options(populate_existing=True)
    ).first()
    return (row[0], row[1], row[2]) if row else None


def resolve(row: DeviceMutation, *, by: str, at: datetime) -> None:
    """Mark a rejection re-applied: it leaves the list; the device's ledger answer stays."""
    row.resolved_at = at
    row.resolved_by = by
    db.session.flush()
