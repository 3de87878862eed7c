"""Households for supervisors: the list with its search, and one household with its visits.

Phone numbers are shown as stored: these serve the supervisors of the household's ward
(exports, which leave the system, mask them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from domain.address import normalise_address

from ..errors import ApiError
from ..store import household_queries, visit_queries
from .context import Caller, Page
from .scoping import unit_in_scope
from .visits import VisitRecord, visit_records


@dataclass(frozen=True, slots=True)
class HouseholdRecord:
    """A household as the supervision APIs show it (fields: domain/records.py
    HOUSEHOLD_KEYS, in that order)."""

    id: str
    version: int
    ward: str  # scheme:code
    group: str | None  # scheme:code
    address: str
    lat: float | None
    lon: float | None
    head_name: str | None
    phone: str | None
    adults: int | None
    smartphones: int | None
    installed: int | None
    priority_subjects: int | None
    priority_installed: int | None
    merged_into: str | None


@dataclass(frozen=True, slots=True)
class HouseholdDetail(HouseholdRecord):
    """A household with its visits, newest first."""

    visits: list[VisitRecord]


_RECORD_FIELDS = tuple(f.name for f in fields(HouseholdRecord))
_STORED = tuple(name for name in _RECORD_FIELDS if name not in ("ward", "group"))


def household_records(rows: Sequence[Any]) -> list[HouseholdRecord]:
    """Stored household rows as shown, with one query for all their wards and groups."""
    refs = visit_queries.unit_refs([r.ward_id for r in rows] + [r.group_id for r in rows])
    return [
        HouseholdRecord(
            **{name: getattr(row, name) for name in _STORED},
            ward=refs.get(row.ward_id, ""),
            group=refs.get(row.group_id) if row.group_id is not None else None,
        )
        for row in rows
    ]


def _position(raw: Any) -> household_queries.HouseholdPosition | None:
    """A decoded cursor back to (ward id, normalised address, id); cursor_invalid when it
    is not one."""
    if raw is None:
        return None
    try:
        ward_id, address_norm, household_id = raw
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None
    if (
        isinstance(ward_id, bool)
        or not isinstance(ward_id, int)
        or not isinstance(address_norm, str)
        or not isinstance(household_id, str)
    ):
        raise ApiError("cursor_invalid")
    return ward_id, address_norm, household_id


def list_households(
    caller: Caller, *, ward: str | None, text: str | None, after: Any, limit: int
) -> Page:
    """A page of the households (not merged away) in the caller's units or under ``ward``,
    by ward and address; ``text`` searches the address and the head's name."""
    position = _position(after)
    if ward:
        unit = unit_in_scope(caller, ward)
        if unit.level == "group":
            raise ApiError(
                "validation_failed", errors={"ward": ["Name a ward (or a unit above it)."]}
            )
        if unit.level == "ward":
            wards = visit_queries.WardSet(ids=(unit.id,), paths=None)
        else:
            wards = visit_queries.wards_under([unit.path])
    else:
        wards = visit_queries.wards_under(visit_queries.scope_paths(caller.scope))
    needle = text.strip() if text else None
    rows, has_more = household_queries.household_page(
        wards,
        text=needle or None,
        normalised=normalise_address(needle) if needle else None,
        after=position,
        limit=limit,
    )
    last = [rows[-1].ward_id, rows[-1].address_norm, rows[-1].id] if rows else None
    return Page(household_records(rows), last, has_more)


def household_detail(caller: Caller, household_id: str) -> HouseholdDetail:
    """The household and its visits; 404 when unknown or outside the caller's units."""
    found = household_queries.household_with_ward_path(household_id)
    if found is None or not caller.scope.covers(found[1]):
        raise ApiError("not_found")
    [record] = household_records([found[0]])
    return HouseholdDetail(
        **{name: getattr(record, name) for name in _RECORD_FIELDS},
        visits=visit_records(visit_queries.visits_of_household(household_id)),
    )
