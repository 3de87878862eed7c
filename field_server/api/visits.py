"""Visits (docs/api-supervision.md): the review queue, one visit with its history, the review
(single and bulk) and the supervisor's correction (services/visits.py)."""

from __future__ import annotations

from typing import Any

from schemas.records import VisitRecordSchema
from schemas.review import BulkReviewResultSchema, BulkReviewSchema, ReviewSchema
from schemas.visits import CorrectionSchema, VisitDetailSchema, VisitListQuery, dump_visit_fast

from ..clock import utcnow
from ..operation import operation
from ..services import visits
from ..services.context import Caller, Page, Settings
from . import bp


@bp.get("/visits")
@operation(
    "visits.read",
    query=VisitListQuery,
    response=VisitRecordSchema,
    page="visits",
    errors=("not_found",),
    fast=True,
)
def list_visits(caller: Caller, query: dict[str, Any], settings: Settings) -> Page:
    """The review queue: visits that need a look first, then newest first.

    The hot path of the supervisors' pages: its items are written by ``dump_visit_fast``,
    which the tests hold to VisitRecordSchema."""
    found = visits.queue_page(
        caller,
        ward=query["ward"],
        group=query["group"],
        canvasser=query["canvasser"],
        outcome=query["outcome"],
        review_status=query["review_status"],
        flag=query["flag"],
        since=query["from_"],
        until=query["to"],
        after=query["cursor"],
        limit=query["limit"],
        timezone=settings.timezone,
    )
    return Page([dump_visit_fast(v) for v in found.items], found.last, found.has_more)


@bp.get("/visits/<visit_id>")
@operation("visits.read", response=VisitDetailSchema, errors=("not_found",))
def get_visit(visit_id: str, caller: Caller) -> visits.VisitDetail:
    """One visit, who reviewed it, and every version of it."""
    return visits.visit_detail(caller, visit_id)


@bp.patch("/visits/<visit_id>")
@operation(
    "visits.write",
    body=CorrectionSchema,
    response=VisitRecordSchema,
    errors=("not_found", "version_conflict"),
)
def correct_visit(
    visit_id: str, caller: Caller, body: dict[str, Any], settings: Settings
) -> visits.VisitRecord:
    """Correct a visit's data as its supervisor."""
    return visits.correct_visit(
        caller,
        visit_id,
        base_version=body["base_version"],
        data=body["data"],
        now=utcnow(),
        timezone=settings.timezone,
    )


@bp.post("/visits/<visit_id>/review")
@operation(
    "visits.write",
    body=ReviewSchema,
    response=VisitDetailSchema,
    errors=("not_found", "visit_voided"),
)
def review_visit(
    visit_id: str, caller: Caller, body: dict[str, Any], settings: Settings
) -> visits.VisitDetail:
    """Approve, reject, flag or reset one visit."""
    return visits.review_visit(
        caller,
        visit_id,
        action=body["action"],
        comment=body["comment"],
        now=utcnow(),
        timezone=settings.timezone,
    )


@bp.post("/visits/review")
@operation(
    "visits.write",
    body=BulkReviewSchema,
    response=BulkReviewResultSchema,
    errors=("not_found", "visit_voided"),
)
def review_visits(caller: Caller, body: dict[str, Any], settings: Settings) -> visits.BulkReview:
    """Review up to 1,000 visits at once, all or nothing."""
    return visits.review_visits(
        caller,
        body["ids"],
        action=body["action"],
        comment=body["comment"],
        now=utcnow(),
        timezone=settings.timezone,
    )
