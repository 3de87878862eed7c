"""Duplicate households (docs/api-conflicts.md): the near-duplicate suggestions behind the
supervisors' /duplicates page (GET /duplicates), and merging one household into another (POST
/households/{id}/merge); services/merges.py."""

from __future__ import annotations

from typing import Any

from schemas.conflicts import DuplicateListQuery, DuplicateSuggestionSchema, MergeSchema
from schemas.records import HouseholdRecordSchema

from ..clock import utcnow
from ..operation import operation
from ..services import merges
from ..services.context import Caller, Page, Settings
from ..services.households import HouseholdRecord
from . import bp


@bp.get("/duplicates")
@operation(
    "conflicts.read",
    query=DuplicateListQuery,
    response=DuplicateSuggestionSchema,
    page="duplicates",
    errors=("not_found",),
)
def list_duplicates(caller: Caller, query: dict[str, Any]) -> Page:
    """Households of a ward that may be one, open possible_duplicate conflicts first."""
    return merges.list_duplicates(
        caller, ward=query["ward"], after=query["cursor"], limit=query["limit"]
    )


@bp.post("/households/<household_id>/merge")
@operation(
    "households.merge", body=MergeSchema, response=HouseholdRecordSchema, errors=("not_found",)
)
def merge_household(
    household_id: str, caller: Caller, body: dict[str, Any], settings: Settings
) -> HouseholdRecord:
    """Merge a household into another of its ward; answers the survivor."""
    return merges.merge_household(
        caller, household_id, into=body["into"], now=utcnow(), timezone=settings.timezone
    )
