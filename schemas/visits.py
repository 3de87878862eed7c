"""Visits (API §5): the review queue's query, the supervisor's correction body, and a visit
as its detail page shows it (the list's fields plus who reviewed it and its history)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from domain.records import FLAGS, OUTCOMES, REVIEW_STATES

from . import UNIT_REF, ListQuerySchema, StrictSchema
from .records import dump_visit, rfc3339


class DateRangeQuery(ListQuerySchema):
    """`from` and `to`: campaign-local dates, both ends included."""

    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("Must not be before `from`.", "to")


class VisitListQuery(DateRangeQuery):
    ward = fields.String(load_default=None, validate=UNIT_REF)
    group = fields.String(load_default=None, validate=UNIT_REF)
    canvasser = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    outcome = fields.String(load_default=None, validate=validate.OneOf(OUTCOMES))
    review_status = fields.String(load_default=None, validate=validate.OneOf(REVIEW_STATES))
    flag = fields.String(load_default=None, validate=validate.OneOf(FLAGS))


class CorrectionSchema(StrictSchema):
    base_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    data = fields.Dict(required=True)


def dump_reviewed_visit(
    row: Any, ward_ref: str, group_ref: str | None, canvasser: str | None
) -> dict[str, Any]:
    """A visit as the list shows it, plus who reviewed it and when."""
    return {
        **dump_visit(row, ward_ref, group_ref, canvasser),
        "reviewed_at": rfc3339(row.reviewed_at),
        "reviewed_by": row.reviewed_by,
    }


def dump_revision(row: Any, previous: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    """One version of a visit: what it changed (with the values before), by whom, when."""
    return {
        "version": row.version,
        "changed": changed,
        "previous": previous,
        "author": row.author,
        "author_role": row.author_role,
        "at": rfc3339(row.at),
    }
