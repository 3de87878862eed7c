"""Rejected mutations (docs/api-conflicts.md#get-apiv1rejections): the list query, the
re-apply body, and how a rejection is shown to supervisors."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.records import REJECTION_CODES

from . import UNIT_REF, ListQuerySchema, OutputSchema, StrictSchema, Timestamp
from .sync import AsSent, PushResultSchema


class RejectionListQuery(ListQuerySchema):
    # Any unit in the caller's scope (a district officer may name the district).
    ward = fields.String(load_default=None, validate=UNIT_REF)


class ApplySchema(StrictSchema):
    # Replaces the stored payload's `data` when given; the rest of the mutation is kept.
    data = fields.Dict(keys=fields.String(), load_default=None)


class RejectionSchema(OutputSchema):
    """A mutation a device pushed and the push rules refused, as the tablet was answered."""

    id = fields.String(
        required=True, metadata={"description": "<device_id>:<mutation_id>, the ledger's key."}
    )
    device_id = fields.String(required=True)
    mutation_id = fields.Integer(required=True)
    canvasser = fields.String(required=True, metadata={"description": "The device's owner."})
    ward = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The ward the mutation was aimed at, when it could be told."},
    )
    type = fields.String(required=True, metadata={"description": "The mutation's type."})
    entity_id = fields.String(
        required=True, allow_none=True, metadata={"description": "The mutation's record id."}
    )
    code = fields.String(
        required=True, validate=validate.OneOf(REJECTION_CODES), metadata={"description": "Why."}
    )
    message = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": "Field errors of a validation_failed rejection, else {}."},
    )
    payload = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": "The mutation as the device pushed it."},
    )
    received_at = Timestamp(required=True)
    resolved_at = Timestamp(required=True, allow_none=True)
    resolved_by = fields.String(required=True, allow_none=True)


class ApplyResultSchema(RejectionSchema):
    """The rejection, now resolved, and the result of its re-applied mutation."""

    result = AsSent(PushResultSchema, required=True)
