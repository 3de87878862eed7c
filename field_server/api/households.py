"""Households (API §5): the list with its search, and one household with its visits.

Phone numbers are shown as stored: these endpoints serve the supervisors of the household's
ward (exports, which leave the system, mask them).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from domain.address import normalise_address
from schemas.households import HouseholdListQuery
from schemas.records import dump_household

from ..auth.scope import current_scope, ensure_unit_in_scope, requires
from ..errors import ApiError
from ..paging import decode_cursor, page
from ..parsing import parse_query
from ..store import household_queries, visit_queries
from ..store.units import get_unit_by_ref
from . import bp
from .visits import dump_visit_rows


def _position(raw: Any) -> household_queries.HouseholdPosition | None:
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


@bp.get("/households")
@requires("households.read")
def list_households() -> Response:
    query = parse_query(HouseholdListQuery())
    after = _position(decode_cursor("households", query["cursor"]))
    if query["ward"]:
        unit = ensure_unit_in_scope(get_unit_by_ref(query["ward"]))
        if unit.level == "group":
            raise ApiError(
                "validation_failed", errors={"ward": ["Name a ward (or a unit above it)."]}
            )
        if unit.level == "ward":
            wards = visit_queries.WardSet(ids=(unit.id,), paths=None)
        else:
            wards = visit_queries.wards_under([unit.path])
    else:
        wards = visit_queries.wards_under(visit_queries.scope_paths(current_scope()))
    text = query["q"].strip() if query["q"] else None
    rows, has_more = household_queries.household_page(
        wards,
        text=text or None,
        normalised=normalise_address(text) if text else None,
        after=after,
        limit=query["limit"],
    )
    refs = visit_queries.unit_refs([r.ward_id for r in rows] + [r.group_id for r in rows])
    items = [
        dump_household(r, refs.get(r.ward_id, ""), refs.get(r.group_id) if r.group_id else None)
        for r in rows
    ]
    last = [rows[-1].ward_id, rows[-1].address_norm, rows[-1].id] if rows else None
    return jsonify(page(items, kind="households", last_position=last, has_more=has_more))


@bp.get("/households/<household_id>")
@requires("households.read")
def get_household(household_id: str) -> Response:
    found = household_queries.household_with_ward_path(household_id)
    if found is None or not current_scope().covers(found[1]):
        raise ApiError("not_found")
    row = found[0]
    refs = visit_queries.unit_refs([row.ward_id, row.group_id])
    shown = dump_household(row, refs.get(row.ward_id, ""), refs.get(row.group_id))
    shown["visits"] = dump_visit_rows(visit_queries.visits_of_household(household_id))
    return jsonify(shown)
