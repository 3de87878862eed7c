"""Visits (docs/api-supervision.md): the review queue's query, the supervisor's correction body, and
a visit as the review answers and its detail page show it (the list's fields plus who reviewed it,
and for the detail its history).

The review queue is the hot path of the supervisors' pages: ``dump_visit_fast`` writes its
items without marshmallow's per-field cost (about five times less per visit); a test checks
that it writes exactly what ``VisitRecordSchema`` would (tests/api/test_visit_queue.py).
"""

from __future__ import annotations

import operator
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from domain.records import FLAGS, OUTCOMES, REVIEW_STATES, VISIT_KEYS, VISIT_TIMES, rfc3339

from . import CAMPAIGN_DATES, UNIT_REF, ListQuerySchema, OutputSchema, StrictSchema, Timestamp
from .records import VisitRecordSchema


class DateRangeQuery(ListQuerySchema):
    """`from` and `to`: campaign-local dates, both ends included."""

    from_ = fields.Date(data_key="from", load_default=None, validate=CAMPAIGN_DATES)
    to = fields.Date(load_default=None, validate=CAMPAIGN_DATES)

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


class ReviewedVisitSchema(VisitRecordSchema):
    """A visit as the list shows it, plus who reviewed it last and when (null before any
    review)."""

    reviewed_at = Timestamp(required=True, allow_none=True)
    reviewed_by = fields.String(required=True, allow_none=True)


class RevisionSchema(OutputSchema):
    """One version of a visit: what it changed (with the values before), by whom, when."""

    version = fields.Integer(required=True, metadata={"description": "1: the creation."})
    changed = fields.List(fields.String(), required=True)
    previous = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "The changed fields' values before ({} for the creation)."},
    )
    author = fields.String(required=True, allow_none=True)
    author_role = fields.String(required=True)
    at = Timestamp(required=True)


class VisitDetailSchema(ReviewedVisitSchema):
    """One visit with its history, every version oldest first."""

    history = fields.List(fields.Nested(RevisionSchema), required=True)


_read_record = operator.attrgetter(*VISIT_KEYS)


def dump_visit_fast(visit: Any) -> dict[str, Any]:
    """``VisitRecordSchema().dump(visit)``, written directly: the review queue's items."""
    record = dict(zip(VISIT_KEYS, _read_record(visit), strict=True))
    for key in VISIT_TIMES:
        record[key] = rfc3339(record[key])
    record["flags"] = list(record["flags"])
    return record
