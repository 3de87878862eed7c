"""Which units an operation may reach: the caller's scope applied to a unit named in a
request. Unknown units and units outside the scope are both 404, so the ids of other wards
cannot be probed."""

from __future__ import annotations

from ..errors import ApiError
from ..models import Unit
from ..store.units import get_unit_by_ref
from .context import Caller


def unit_in_scope(caller: Caller, ref: str | None) -> Unit:
    """The unit named ``scheme:code``, or 404 when unknown or outside the caller's units."""
    unit = get_unit_by_ref(ref) if ref else None
    if unit is None or not caller.scope.covers(unit.path):
        raise ApiError("not_found")
    return unit


def roots_under(caller: Caller, ward_ref: str | None) -> list[str] | None:
    """Unit paths a list is limited to: the named unit's (404 out of scope), else the
    caller's roots; None means everything (an admin naming no unit)."""
    if ward_ref:
        return [unit_in_scope(caller, ward_ref).path]
    if caller.scope.everything:
        return None
    return [path for _, path in caller.scope.roots]
