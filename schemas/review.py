"""Review (docs/api-supervision.md): the bodies of a single and a bulk review, and the bulk review's
answer (a single review answers the visit as its detail shows it: schemas/visits.py)."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.records import REVIEW_STATES
from domain.review import MAX_BULK_REVIEW, MAX_COMMENT_LENGTH, REVIEW_ACTIONS

from . import OutputSchema, StrictSchema
from .visits import ReviewedVisitSchema


class ReviewSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(tuple(REVIEW_ACTIONS)))
    comment = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MAX_COMMENT_LENGTH)
    )


class BulkReviewSchema(ReviewSchema):
    ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=MAX_BULK_REVIEW),
    )


class BulkReviewResultSchema(OutputSchema):
    """What a bulk review changed: how many visits, their new review status, and the
    visits themselves in the order of ``ids``."""

    updated = fields.Integer(required=True, validate=validate.Range(min=0))
    review_status = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(REVIEW_STATES)
    )
    items = fields.List(fields.Nested(ReviewedVisitSchema), required=True)
