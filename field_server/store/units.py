"""The unit tree: lookups, scope (which subtrees a user may see) and listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, or_, select

from domain.roles import Scope

from ..extensions import db
from ..models import Assignment, Unit, table
from . import figures


def parse_unit_ref(ref: str) -> tuple[str, str] | None:
    """'scheme:code' -> (scheme, code); None when it is not of that form."""
    scheme, sep, code = ref.partition(":")
    if not sep or not scheme or not code or ":" in code:
        return None
    return scheme, code


def get_unit(scheme: str, code: str) -> Unit | None:
    return db.session.execute(
        select(Unit).where(Unit.scheme == scheme, Unit.code == code)
    ).scalar_one_or_none()


def get_unit_by_ref(ref: str) -> Unit | None:
    parsed = parse_unit_ref(ref)
    return get_unit(*parsed) if parsed else None


def units_by_refs(refs: Sequence[str]) -> dict[str, Unit]:
    """The units named by 'scheme:code' refs (missing ones are absent from the result)."""
    pairs = {p for p in (parse_unit_ref(r) for r in refs) if p}
    if not pairs:
        return {}
    by_scheme: dict[str, list[str]] = {}
    for scheme, code in pairs:
        by_scheme.setdefault(scheme, []).append(code)
    found: dict[str, Unit] = {}
    for scheme, codes in by_scheme.items():
        rows = db.session.execute(
            select(Unit).where(Unit.scheme == scheme, Unit.code.in_(codes))
        ).scalars()
        found.update({u.ref: u for u in rows})
    return found


# Built once, of the tables' columns and run on the session's connection: every
# authenticated request and every push reads the caller's units, and the ORM's layer cost
# more than the query.
_UT, _AT = table(Unit), table(Assignment)
_ASSIGNED_ROOTS = (
    select(_UT.c.id, _UT.c.path)
    .join(_AT, _AT.c.unit_id == _UT.c.id)
    .where(
        _AT.c.user_id == bindparam("user_id"),
        or_(_AT.c.ends_at.is_(None), _AT.c.ends_at > bindparam("ended_after")),
    )
    .order_by(_UT.c.id)
)


def assigned_roots(user_id: int, ended_after: datetime) -> list[tuple[int, str]]:
    """(id, path) of the user's units whose assignment is open or ended after the instant."""
    parameters = {"user_id": user_id, "ended_after": ended_after}
    return [
        (id_, path) for id_, path in db.session.connection().execute(_ASSIGNED_ROOTS, parameters)
    ]


def scope_condition(scope: Scope) -> ColumnElement[bool] | None:
    """A WHERE clause selecting the units in scope and their ancestors."""
    if scope.everything:
        return None
    clauses = [Unit.path.startswith(path) for _, path in scope.roots]
    ancestors = scope.ancestor_ids()
    if ancestors:
        clauses.append(Unit.id.in_(ancestors))
    return or_(*clauses) if clauses else Unit.id.is_(None)


def list_units(
    scope: Scope,
    *,
    scheme: str | None,
    parent_id: int | None,
    level: str | None,
    after_id: int,
    limit: int,
) -> tuple[list[Unit], bool]:
    """One page of units in scope (and their ancestors), ordered by id; (rows, has_more)."""
    query = select(Unit).where(Unit.id > after_id)
    condition = scope_condition(scope)
    if condition is not None:
        query = query.where(condition)
    if scheme:
        query = query.where(Unit.scheme == scheme)
    if parent_id is not None:
        query = query.where(Unit.parent_id == parent_id)
    if level:
        query = query.where(Unit.level == level)
    rows = list(db.session.execute(query.order_by(Unit.id).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def parent_refs(units: Sequence[Unit]) -> dict[int, str]:
    """parent id -> 'scheme:code', for showing each unit's parent without N lookups."""
    ids = {u.parent_id for u in units if u.parent_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(Unit.id, Unit.scheme, Unit.code).where(Unit.id.in_(ids)))
    return {row.id: f"{row.scheme}:{row.code}" for row in rows}


def create_unit(
    *,
    scheme: str,
    code: str,
    name: str,
    level: str,
    parent: Unit | None,
    adult_population: int | None = None,
    target_rate: float | None = None,
) -> Unit:
    """Insert one unit under its parent and set its path (used by tests and small tools;
    bulk loads go through the importer)."""
    unit = Unit(
        scheme=scheme,
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        adult_population=adult_population,
        target_rate=target_rate,
        path="",
    )
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    # The figures read every unit's population from its own row: keep it and its
    # ancestors' sums exact in this same transaction.
    figures.refresh_populations([unit.id])
    return unit
