"""Pull: the changes in a device's scope after a position of the change sequence.

A position is (change_seq, entity rank, key): rows are served in that order, so a page may
end in the middle of one transaction's changes and the next page goes on from the exact row.
Each row carries only its latest position, so a record appears once per advance with its
latest state. Scope: the caller's units (groups only, for a group assignment), those still in
their grace period, the households there, all their visits, and the caller's assignments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, or_, select

from schemas.records import dump_household, dump_visit, rfc3339

from ..extensions import db
from ..models import Assignment, Household, Unit, User, Visit
from .changes import PULLED_MODELS
from .units import Scope, parent_refs, scope_condition

RANKS = {"unit": 0, "assignment": 1, "household": 2, "visit": 3}
ENTITIES = tuple(RANKS)
START: tuple[int, int, Any] = (-1, -1, "")


@dataclass(frozen=True)
class PullScope:
    user_id: int
    units: Scope  # the unit subtrees (and their ancestors, for units)
    ward_ids: frozenset[int]  # wards wholly in scope
    group_ids: frozenset[int]  # groups in scope (households of those groups only)

    def fingerprint(self) -> str:
        text = ",".join(f"{i}:{p}" for i, p in sorted(self.units.roots))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def pull_scope(user_id: int, roots: Sequence[tuple[int, str]]) -> PullScope:
    scope = Scope(everything=False, roots=tuple(roots))
    ward_ids: set[int] = set()
    group_ids: set[int] = set()
    if roots:
        rows = db.session.execute(
            select(Unit.id, Unit.level, Unit.parent_id).where(
                or_(*[Unit.path.startswith(path) for _, path in roots]),
                Unit.level.in_(("ward", "group")),
            )
        ).all()
        ward_ids = {r.id for r in rows if r.level == "ward"}
        group_ids = {r.id for r in rows if r.level == "group" and r.parent_id not in ward_ids}
    return PullScope(user_id, scope, frozenset(ward_ids), frozenset(group_ids))


def _after(column_seq: Any, column_key: Any, rank: int, position: tuple[int, int, Any]) -> Any:
    seq, last_rank, key = position
    if rank > last_rank:
        return column_seq >= seq
    if rank < last_rank:
        return column_seq > seq
    # The first term is implied by the second; it gives the planner an index range.
    return and_(column_seq >= seq, or_(column_seq > seq, and_(column_seq == seq, column_key > key)))


def _not_indexed(column: Any) -> Any:
    """The column as an expression no index serves, on SQLite: its planner would otherwise
    read a whole ward through the ward index and sort it, for every page (quadratic in the
    ward's size, and a full ward per incremental pull), instead of walking the change_seq
    index from the cursor and stopping after ``limit`` rows. PostgreSQL's planner weighs
    both by statistics and is left alone."""
    if db.session.get_bind().dialect.name != "sqlite":
        return column
    return column.concat("") if isinstance(column.type, String) else column + 0


def _household_in_scope(scope: PullScope) -> Any:
    clauses = []
    if scope.ward_ids:
        clauses.append(_not_indexed(Household.ward_id).in_(scope.ward_ids))
    if scope.group_ids:
        clauses.append(_not_indexed(Household.group_id).in_(scope.group_ids))
    return or_(*clauses) if clauses else Household.id.is_(None)


def pull_page(
    scope: PullScope, position: tuple[int, int, Any], limit: int
) -> tuple[list[dict[str, Any]], tuple[int, int, Any], bool]:
    """(changes, position after the last one, has_more).

    Two steps: each entity's next ``limit + 1`` positions (keys only) to find where the
    page ends, then the full rows of just the page's records by primary key. Fetching
    ``limit + 1`` full rows of all four entities to keep a quarter of them cost more than
    the queries did.
    """
    fetch = limit + 1
    keys: list[tuple[int, int, Any]] = []

    unit_query = select(Unit.change_seq, Unit.id).where(
        _after(Unit.change_seq, Unit.id, 0, position)
    )
    condition = scope_condition(scope.units)
    if condition is not None:
        unit_query = unit_query.where(condition)
    units = db.session.execute(unit_query.order_by(Unit.change_seq, Unit.id).limit(fetch))
    keys += [(seq, 0, key) for seq, key in units]

    assignments = db.session.execute(
        select(Assignment.change_seq, Assignment.id)
        .where(
            Assignment.user_id == scope.user_id,
            _after(Assignment.change_seq, Assignment.id, 1, position),
        )
        .order_by(Assignment.change_seq, Assignment.id)
        .limit(fetch)
    )
    keys += [(seq, 1, key) for seq, key in assignments]

    households = db.session.execute(
        select(Household.change_seq, Household.id)
        .where(_household_in_scope(scope), _after(Household.change_seq, Household.id, 2, position))
        .order_by(Household.change_seq, Household.id)
        .limit(fetch)
    )
    keys += [(seq, 2, key) for seq, key in households]

    # Joined, not `household_id IN (in-scope households)`: that list is built from every
    # household in scope for each page, where the join looks up only the page's households.
    visits = db.session.execute(
        select(Visit.change_seq, Visit.id)
        .join(Household, Household.id == Visit.household_id)
        .where(_household_in_scope(scope), _after(Visit.change_seq, Visit.id, 3, position))
        .order_by(Visit.change_seq, Visit.id)
        .limit(fetch)
    )
    keys += [(seq, 3, key) for seq, key in visits]

    keys.sort()
    page_keys, has_more = keys[:limit], len(keys) > limit
    new_position = page_keys[-1] if page_keys else position

    # Plain rows, not ORM objects: a page is read-only and building objects costs more
    # than the query. Read in the same snapshot, so the rows are the ones just found.
    rows: dict[tuple[int, Any], Any] = {}
    for rank, entity in enumerate(RANKS):
        model = PULLED_MODELS[entity]
        wanted = [key for _, r, key in page_keys if r == rank]
        if wanted:
            table = model.__table__
            found = db.session.execute(select(table).where(table.c.id.in_(wanted)))
            rows.update(((rank, row.id), row) for row in found)
    page = [(key, ENTITIES[key[1]], rows[key[1], key[2]]) for key in page_keys]
    return _dump(page), new_position, has_more


def _dump(page: list[tuple[tuple[int, int, Any], str, Any]]) -> list[dict[str, Any]]:
    parents = parent_refs([row for _, entity, row in page if entity == "unit"])
    unit_ids = {row.unit_id for _, entity, row in page if entity == "assignment"}
    for _, entity, row in page:
        if entity in ("household", "visit"):
            unit_ids.add(row.ward_id)
            if row.group_id:
                unit_ids.add(row.group_id)
    refs = {}
    if unit_ids:
        refs = {
            r.id: f"{r.scheme}:{r.code}"
            for r in db.session.execute(
                select(Unit.id, Unit.scheme, Unit.code).where(Unit.id.in_(unit_ids))
            )
        }
    user_ids = {row.canvasser_id for _, entity, row in page if entity == "visit"}
    usernames = {}
    if user_ids:
        usernames = dict(
            db.session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()
        )

    changes = []
    for _, entity, row in page:
        if entity == "unit":
            changes.append(
                {
                    "entity": "unit",
                    "op": "upsert",
                    "id": f"{row.scheme}:{row.code}",
                    "version": row.version,
                    "data": {
                        "scheme": row.scheme,
                        "code": row.code,
                        "name": row.name,
                        "level": row.level,
                        "parent": parents.get(row.parent_id),
                        "adult_population": row.adult_population,
                        "target_rate": row.target_rate,
                    },
                }
            )
        elif entity == "assignment":
            changes.append(
                {
                    "entity": "assignment",
                    "op": "upsert",
                    "id": str(row.id),
                    "version": row.version,
                    "data": {
                        "id": str(row.id),
                        "unit": refs.get(row.unit_id),
                        "starts_at": rfc3339(row.starts_at),
                        "ends_at": rfc3339(row.ends_at),
                    },
                }
            )
        elif entity == "household":
            if row.merged_into:
                changes.append(
                    {
                        "entity": "household",
                        "op": "merge",
                        "id": row.id,
                        "data": {"into": row.merged_into},
                    }
                )
            else:
                data = dump_household(row, refs[row.ward_id], refs.get(row.group_id))
                changes.append(
                    {
                        "entity": "household",
                        "op": "upsert",
                        "id": row.id,
                        "version": row.version,
                        "data": data,
                    }
                )
        elif row.voided:
            changes.append({"entity": "visit", "op": "delete", "id": row.id})
        else:
            data = dump_visit(
                row, refs[row.ward_id], refs.get(row.group_id), usernames.get(row.canvasser_id)
            )
            changes.append(
                {
                    "entity": "visit",
                    "op": "upsert",
                    "id": row.id,
                    "version": row.version,
                    "data": data,
                }
            )
    return changes
