"""GET /api/v1/units (API §3): the units in the caller's scope and their ancestors."""

from flask import Response, jsonify

from schemas.units import UnitListQuery, dump_unit

from ..auth.scope import current_scope, requires
from ..errors import ApiError
from ..paging import decode_cursor, page
from ..parsing import parse_query
from ..store import units as store
from . import bp


@bp.get("/units")
@requires("units.read")
def list_units() -> Response:
    query = parse_query(UnitListQuery())
    after = decode_cursor("units", query["cursor"]) or 0
    if not isinstance(after, int):
        raise ApiError("cursor_invalid")
    scope = current_scope()
    parent_id = None
    if query["parent"]:
        parent = store.get_unit_by_ref(query["parent"])
        if parent is None or not (scope.covers(parent.path) or parent.id in scope.ancestor_ids()):
            raise ApiError("not_found")
        parent_id = parent.id
    rows, has_more = store.list_units(
        scope,
        scheme=query["scheme"],
        parent_id=parent_id,
        level=query["level"],
        after_id=after,
        limit=query["limit"],
    )
    parents = store.parent_refs(rows)
    items = [dump_unit(u, parents.get(u.parent_id)) for u in rows]
    return jsonify(
        page(items, kind="units", last_position=rows[-1].id if rows else after, has_more=has_more)
    )
