"""Households and visits as the API shows them (docs/api-supervision.md), shared by pull and the
visit APIs.

The key orders are constants of domain/records.py so that pull, which builds records from
plain rows rather than from objects, shows exactly the keys, in exactly the order, of
``HouseholdRecordSchema`` and ``VisitRecordSchema`` (and the api tests check every record
the server sends against them, through the OpenAPI document). The review queue's fast
writer is schemas/visits.py ``dump_visit_fast``.
"""

from __future__ import annotations

from marshmallow import fields, validate

from domain.records import (
    FLAGS,
    HOUSEHOLD_KEYS,
    HOUSEHOLD_REFS,
    OUTCOMES,
    REVIEW_STATES,
    VISIT_KEYS,
    VISIT_REFS,
    VISIT_TIMES,
)

from . import OutputSchema, Timestamp

__all__ = ["HOUSEHOLD_KEYS", "HOUSEHOLD_REFS", "VISIT_KEYS", "VISIT_REFS", "VISIT_TIMES"]


def _count(description: str) -> fields.Integer:
    return fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={"description": description},
    )


class HouseholdRecordSchema(OutputSchema):
    """A household as pull and the supervision APIs show it (keys: HOUSEHOLD_KEYS)."""

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    ward = fields.String(required=True, metadata={"description": "The ward, as scheme:code."})
    group = fields.String(required=True, allow_none=True)
    address = fields.String(required=True)
    lat = fields.Float(required=True, allow_none=True)
    lon = fields.Float(required=True, allow_none=True)
    head_name = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    adults = _count("Derived from the counting visits.")
    smartphones = _count("Derived from the counting visits.")
    installed = _count("Derived from the counting visits.")
    priority_subjects = _count("Derived from the counting visits.")
    priority_installed = _count("Derived from the counting visits.")
    merged_into = fields.String(required=True, allow_none=True)


class VisitRecordSchema(OutputSchema):
    """A visit as pull and the supervision APIs show it (keys: VISIT_KEYS)."""

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    household_id = fields.String(required=True)
    visited_at = Timestamp(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    adults = _count("Adults living in the household.")
    smartphones = _count("Smartphones in the household.")
    installed_before = _count("Adults who had the app before the visit.")
    installed_during = _count("Adults helped to install it during the visit.")
    priority_subjects = _count("People in quarantine or awaiting a test.")
    priority_installed = _count("Of those, how many have the app.")
    lat = fields.Float(required=True, allow_none=True)
    lon = fields.Float(required=True, allow_none=True)
    accuracy_m = fields.Float(required=True, allow_none=True)
    notes = fields.String(required=True, allow_none=True)
    come_back_at = Timestamp(required=True, allow_none=True)
    ward = fields.String(required=True)
    group = fields.String(required=True, allow_none=True)
    canvasser = fields.String(required=True, allow_none=True)
    device_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Null in a pull when the device is not the caller's own."},
    )
    review_status = fields.String(required=True, validate=validate.OneOf(REVIEW_STATES))
    review_comment = fields.String(required=True, allow_none=True)
    flags = fields.List(fields.String(validate=validate.OneOf(FLAGS)), required=True)
    voided = fields.Boolean(required=True)
    received_at = Timestamp(required=True)
