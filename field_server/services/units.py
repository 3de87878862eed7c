"""Units: the list a caller may see, the import of a units file, the operator's listing.

A caller sees the units of their scope, everything below them, and their ancestors (so a
client can draw the tree); the operator's `units list` sees every unit. An import writes
the whole file or nothing, and is audited only when it changed something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from domain.geography import ParsedFile

from ..errors import ApiError
from ..store import unit_import
from ..store import units as store
from ..store.engine import is_storage_error
from ..store.unit_import import ImportCounts
from .context import Caller, Page
from .scoping import unit_in_scope
from .writes import Write, run_write

__all__ = [
    "ImportConflict",
    "ImportCounts",
    "StorageUnavailable",
    "UnitBrief",
    "UnitInfo",
    "UnitLine",
    "brief",
    "import_units",
    "list_units",
    "unit_tree",
]


@dataclass(frozen=True)
class UnitBrief:
    """A unit named inside another answer (a user's units)."""

    scheme: str
    code: str
    name: str
    level: str

    @property
    def ref(self) -> str:
        return f"{self.scheme}:{self.code}"


def brief(unit: Any) -> UnitBrief:
    return UnitBrief(scheme=unit.scheme, code=unit.code, name=unit.name, level=unit.level)


@dataclass(frozen=True)
class UnitInfo:
    scheme: str
    code: str
    name: str
    level: str
    parent: str | None  # the parent's scheme:code
    adult_population: int | None
    target_rate: float | None


def get_unit(caller: Caller, ref: str) -> UnitBrief:
    """One unit in the caller's scope, by ``scheme:code``; 404 ``not_found`` otherwise."""
    return brief(unit_in_scope(caller, ref))


def list_units(
    caller: Caller,
    *,
    scheme: str | None,
    parent: str | None,
    level: str | None,
    after: Any,
    limit: int,
) -> Page:
    """A page of the units the caller may see (and their ancestors), by id. ``parent``
    must itself be visible: unknown and hidden parents are both 404."""
    if after is None:
        after = 0
    if not isinstance(after, int):
        raise ApiError("cursor_invalid")
    scope = caller.scope
    parent_id = None
    if parent:
        found = store.get_unit_by_ref(parent)
        if found is None or not (scope.covers(found.path) or found.id in scope.ancestor_ids()):
            raise ApiError("not_found")
        parent_id = found.id
    rows, has_more = store.list_units(
        scope, scheme=scheme, parent_id=parent_id, level=level, after_id=after, limit=limit
    )
    parents = store.parent_refs(rows)
    items = [
        UnitInfo(
            scheme=u.scheme,
            code=u.code,
            name=u.name,
            level=u.level,
            parent=parents.get(u.parent_id) if u.parent_id is not None else None,
            adult_population=u.adult_population,
            target_rate=u.target_rate,
        )
        for u in rows
    ]
    return Page(items, rows[-1].id if rows else after, has_more)


class ImportConflict(Exception):
    """Another import created the same units at the same time; nothing was written."""


class StorageUnavailable(Exception):
    """The database cannot take the import now (unreachable, locked, full); nothing was
    written. ``reason`` is the database's own words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def import_units(
    caller: Caller,
    parsed: ParsedFile,
    *,
    ward_target_rate: float,
    now: datetime,
    dry_run: bool = False,
) -> ImportCounts:
    """Load or update the units of a parsed file in one write; what was (or, with
    ``dry_run``, would be) created, updated and left unchanged.

    Raises ``domain.geography.ImportRejected`` before writing when the file is bad,
    ``ImportConflict`` or ``StorageUnavailable`` when the write could not be made.
    """

    def work(write: Write) -> ImportCounts:
        plan, stored = unit_import.plan_import(parsed, ward_target_rate=ward_target_rate)
        counts = ImportCounts.of(plan)
        if dry_run or counts.created + counts.updated == 0:
            return counts
        write.touch("unit", unit_import.write_plan(plan, stored, now))
        write.audit("units.import", None, {"created": counts.created, "updated": counts.updated})
        return counts

    try:
        return run_write(caller, now, work)
    except IntegrityError:
        # The plan was valid against what was stored: only a concurrent import of the same
        # new units gets here.
        raise ImportConflict() from None
    except DBAPIError as exc:
        if not is_storage_error(exc):
            raise
        raise StorageUnavailable(str(exc.orig)) from None


@dataclass(frozen=True)
class UnitLine:
    """One unit of the operator's tree listing; ``depth`` 0 for a root."""

    ref: str
    level: str
    name: str
    adult_population: int | None
    target_rate: float | None
    depth: int


def unit_tree(scheme: str | None = None) -> Sequence[UnitLine]:
    """Every stored unit (of a scheme) in tree order: siblings by code, each followed by
    its subtree (`field-server units list`)."""
    rows = unit_import.all_units(scheme)
    by_id = {unit.id: unit for unit in rows}

    def tree_key(unit: Any) -> tuple[str, ...]:
        ids = [int(part) for part in unit.path.strip("/").split("/")]
        return (unit.scheme, *(by_id[i].code if i in by_id else "" for i in ids))

    return [
        UnitLine(
            ref=unit.ref,
            level=unit.level,
            name=unit.name,
            adult_population=unit.adult_population,
            target_rate=unit.target_rate,
            depth=unit.path.strip("/").count("/"),
        )
        for unit in sorted(rows, key=tree_key)
    ]
