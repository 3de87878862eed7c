"""Rejected mutations (docs/api-conflicts.md): list those not re-applied yet, re-apply one,
corrected (services/rejections.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from schemas.rejections import (
    ApplyResultSchema,
    ApplySchema,
    RejectionListQuery,
    RejectionSchema,
)

from ..clock import utcnow
from ..errors import message_language
from ..messages import translate_result, translate_results
from ..operation import operation
from ..services import rejections
from ..services.context import Caller, Page, Settings
from . import bp


@bp.get("/rejections")
@operation(
    "rejections.read",
    query=RejectionListQuery,
    response=RejectionSchema,
    page="rejections",
    errors=("not_found",),
)
def list_rejections(caller: Caller, query: dict[str, Any]) -> Page:
    """Rejected mutations in the caller's units not re-applied yet, newest first."""
    found = rejections.list_rejections(
        caller, ward=query["ward"], after=query["cursor"], limit=query["limit"], now=utcnow()
    )
    return replace(found, items=translate_results(found.items, message_language()))


@bp.post("/rejections/<rejection_id>/apply")
@operation(
    "rejections.write",
    body=ApplySchema,
    response=ApplyResultSchema,
    errors=("not_found", "rejection_resolved", "mutation_rejected"),
)
def apply_rejection(
    rejection_id: str, caller: Caller, settings: Settings, body: dict[str, Any]
) -> rejections.AppliedRejection:
    """Re-apply a rejected mutation through the push rules, its data corrected if given."""
    applied = rejections.apply_rejection(
        caller, rejection_id, body["data"], now=utcnow(), settings=settings
    )
    return translate_result(applied, message_language())
