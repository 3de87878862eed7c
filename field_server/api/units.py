"""GET /api/v1/units (docs/api.md, Units): the units in the caller's scope and their ancestors
(services/units.py)."""

from __future__ import annotations

from typing import Any

from schemas.units import UnitListQuery, UnitSchema

from ..operation import operation
from ..services import units
from ..services.context import Caller, Page
from . import bp


@bp.get("/units")
@operation(
    "units.read", query=UnitListQuery, response=UnitSchema, page="units", errors=("not_found",)
)
def list_units(caller: Caller, query: dict[str, Any]) -> Page:
    """The units the caller may see and their ancestors, by id."""
    return units.list_units(
        caller,
        scheme=query["scheme"],
        parent=query["parent"],
        level=query["level"],
        after=query["cursor"],
        limit=query["limit"],
    )
