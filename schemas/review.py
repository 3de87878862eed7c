"""Review (API §5): the bodies of a single and a bulk review."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.review import MAX_BULK_REVIEW, MAX_COMMENT_LENGTH, REVIEW_ACTIONS

from . import StrictSchema


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
