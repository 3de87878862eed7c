"""Loading a units CSV into the unit tree (`field-server units import`, docs/cli.md),
set-based, in one go.

``plan_import`` fetches the stored units the file names and lets ``domain.geography``
validate and plan; ``write_plan`` writes the plan with a handful of statements per tree
level (bulk INSERT ... RETURNING for new units, one UPDATE setting the path of every new
unit of a level, one executemany UPDATE for changed units) and returns the ids to stamp.
The operation (services/units.py) runs both in one write transaction: a rejected file
raises ``ImportRejected`` before anything is written, and the transaction rolls back on any
other error, so the table is either fully updated or untouched.

Paths (``/<root id>/.../<own id>/``) of new units are computed in SQL from the parent's
path; a unit whose parent changes has its own path and its whole subtree's rewritten by one
prefix UPDATE, and the figures' counters of what lies below a moved ward or larger unit
move from its old ancestors to its new ones (store/figures.py ``move_counters``).
``version`` and ``updated_at`` move only for units whose stored values
change, so importing the same file twice changes nothing the second time. Last, the
effective adult populations the figures read (store/figures.py) are recomputed for the new
and changed units and every unit above them, old and new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.orm import aliased

from domain.geography import (
    LEVELS,
    ImportPlan,
    ParsedFile,
    PlannedUnit,
    StoredUnit,
    UnitKey,
    plan_units_import,
)

from ..extensions import db
from ..models import Unit, table
from . import figures
from .batching import chunks

UNITS = table(Unit)


@dataclass(frozen=True)
class ImportCounts:
    created: int
    updated: int
    unchanged: int

    @classmethod
    def of(cls, plan: ImportPlan) -> ImportCounts:
        return cls(plan.count("create"), plan.count("update"), plan.count("unchanged"))


def plan_import(
    parsed: ParsedFile, *, ward_target_rate: float
) -> tuple[ImportPlan, dict[UnitKey, StoredUnit]]:
    """What the file would change, against the stored units it names. Raises
    ``ImportRejected`` when the file is bad."""
    stored = stored_units(parsed.keys())
    return plan_units_import(parsed, stored, ward_target_rate=ward_target_rate), stored


def stored_units(keys: Iterable[UnitKey]) -> dict[UnitKey, StoredUnit]:
    """The stored units among ``keys``, with their parent's code, a chunk per query."""
    parent = aliased(Unit)
    by_scheme: dict[str, list[str]] = {}
    for scheme, code in keys:
        by_scheme.setdefault(scheme, []).append(code)
    found: dict[UnitKey, StoredUnit] = {}
    for scheme, codes in by_scheme.items():
        for chunk in chunks(sorted(codes)):
            rows = db.session.execute(
                select(
                    Unit.id,
                    Unit.scheme,
                    Unit.code,
                    Unit.name,
                    Unit.level,
                    parent.code.label("parent_code"),
                    Unit.adult_population,
                    Unit.target_rate,
                )
                .outerjoin(parent, parent.id == Unit.parent_id)
                .where(Unit.scheme == scheme, Unit.code.in_(chunk))
            )
            for row in rows:
                found[(row.scheme, row.code)] = StoredUnit(
                    scheme=row.scheme,
                    code=row.code,
                    name=row.name,
                    level=row.level,
                    parent_code=row.parent_code,
                    adult_population=row.adult_population,
                    target_rate=row.target_rate,
                    id=row.id,
                )
    return found


def write_plan(plan: ImportPlan, stored: dict[UnitKey, StoredUnit], now: datetime) -> list[int]:
    """Write the new and changed units of the plan; their ids (tablets pull units by the
    change sequence, so they need a new position)."""
    ids: dict[UnitKey, int] = {key: unit.id for key, unit in stored.items() if unit.id}
    table = UNITS
    touched: list[UnitKey] = []
    left: set[int] = set()  # the ancestors that moved units leave
    # Level by level, top down: a level's parents (new, moved or untouched) are final by the
    # time its own units are inserted or moved, whatever order the file had.
    for level in LEVELS:
        units = [u for u in plan.units if u.level == level]
        new = [u for u in units if u.action == "create"]
        for chunk in chunks(new):
            rows = db.session.execute(
                insert(table).returning(table.c.id, table.c.scheme, table.c.code),
                [
                    {
                        "scheme": u.scheme,
                        "code": u.code,
                        "name": u.name,
                        "level": u.level,
                        "parent_id": ids[(u.scheme, u.parent_code)] if u.parent_code else None,
                        # Filled in below from the parent's path; '' marks "not yet set".
                        "path": "",
                        "adult_population": u.adult_population,
                        "target_rate": u.target_rate,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for u in chunk
                ],
            )
            for row in rows:
                ids[(row.scheme, row.code)] = row.id
        if new:
            _set_new_paths(level)
        changed = [u for u in units if u.action == "update"]
        touched += [u.key for u in new + changed]
        for chunk in chunks(changed):
            _update_changed(chunk, ids, now)
        for unit in changed:
            if unit.moved:
                left |= _move_subtree(
                    ids[unit.key],
                    ids[(unit.scheme, unit.parent_code)] if unit.parent_code else None,
                    moves_counters=unit.level != "group",
                )
    touched_ids = [ids[key] for key in touched]
    # The figures read each unit's effective adult population from its row: make the
    # touched units' and their old and new ancestors' exact, in this transaction.
    figures.refresh_populations(touched_ids, also=left)
    return touched_ids


def _set_new_paths(level: str) -> None:
    """One UPDATE for every new unit of the level: parent's path + own id + '/'."""
    parent = aliased(Unit)
    parent_path = select(parent.path).where(parent.id == Unit.parent_id).scalar_subquery()
    db.session.execute(
        update(Unit)
        .where(Unit.path == "", Unit.level == level)
        .values(path=func.coalesce(parent_path, "/") + cast(Unit.id, String) + "/")
        .execution_options(synchronize_session=False)
    )


def _update_changed(units: list[PlannedUnit], ids: dict[UnitKey, int], now: datetime) -> None:
    """One executemany UPDATE for a chunk of changed units; version moves by one."""
    table = UNITS
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            name=bindparam("b_name"),
            parent_id=bindparam("b_parent_id"),
            adult_population=bindparam("b_population"),
            target_rate=bindparam("b_rate"),
            version=table.c.version + 1,
            updated_at=now,
        ),
        [
            {
                "b_id": ids[u.key],
                "b_name": u.name,
                "b_parent_id": ids[(u.scheme, u.parent_code)] if u.parent_code else None,
                "b_population": u.adult_population,
                "b_rate": u.target_rate,
            }
            for u in units
        ],
    )


def _move_subtree(unit_id: int, parent_id: int | None, *, moves_counters: bool) -> set[int]:
    """Rewrite the path prefix of a moved unit and of everything below it; the ids of the
    ancestors it left. Moves are rare (a re-drawn boundary), so reading the two current
    paths first costs nothing.

    ``moves_counters``: the figures' counters of what lies below the unit leave its old
    ancestors for its new ones (figures.move_counters). True for a ward and above: a
    household counts in the units on its ward's path. A group's households keep their
    ward (a household's ward is its own column), so a moved group moves no counter."""
    if moves_counters:
        figures.lock_tree()  # every write that read the old paths has committed
    old_path = db.session.execute(select(Unit.path).where(Unit.id == unit_id)).scalar_one()
    left = {int(part) for part in old_path.strip("/").split("/")[:-1]}
    parent_path = "/"
    if parent_id is not None:
        parent_path = db.session.execute(select(Unit.path).where(Unit.id == parent_id)).scalar_one()
    new_path = f"{parent_path}{unit_id}/"
    if new_path == old_path:
        return left
    if moves_counters:
        joined = {int(part) for part in parent_path.strip("/").split("/") if part}
        figures.move_counters(unit_id, left, joined)
    db.session.execute(
        update(Unit)
        .where(Unit.path.startswith(old_path))
        .values(
            path=literal(new_path, String) + func.substr(Unit.path, len(old_path) + 1, type_=String)
        )
        .execution_options(synchronize_session=False)
    )
    return left


def all_units(scheme: str | None = None) -> list[Unit]:
    """Every unit (of a scheme), parents before children, for `units list`."""
    query = select(Unit).order_by(Unit.scheme, Unit.path)
    if scheme:
        query = query.where(Unit.scheme == scheme)
    return list(db.session.execute(query).scalars())


def count_units() -> int:
    return db.session.execute(select(func.count()).select_from(Unit)).scalar_one()
