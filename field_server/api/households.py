"""Households (docs/api-supervision.md): the list with its search, and one household with its visits
(services/households.py)."""

from __future__ import annotations

from typing import Any

from schemas.households import HouseholdDetailSchema, HouseholdListQuery
from schemas.records import HouseholdRecordSchema

from ..operation import operation
from ..services import households
from ..services.context import Caller, Page
from . import bp


@bp.get("/households")
@operation(
    "households.read",
    query=HouseholdListQuery,
    response=HouseholdRecordSchema,
    page="households",
    errors=("not_found",),
)
def list_households(caller: Caller, query: dict[str, Any]) -> Page:
    """The households of the caller's units, by ward and address, with a search."""
    return households.list_households(
        caller, ward=query["ward"], text=query["q"], after=query["cursor"], limit=query["limit"]
    )


@bp.get("/households/<household_id>")
@operation("households.read", response=HouseholdDetailSchema, errors=("not_found",))
def get_household(household_id: str, caller: Caller) -> households.HouseholdDetail:
    """One household with its visits, newest first."""
    return households.household_detail(caller, household_id)
