"""Devices (docs/api-auth.md, docs/api-supervision.md): the list query and a device as shown to
supervisors."""

from __future__ import annotations

from marshmallow import fields

from . import UNIT_REF, ListQuerySchema, OutputSchema, Timestamp


class DeviceListQuery(ListQuerySchema):
    # Any unit in the caller's scope; named `ward` because that is what supervisors pick.
    ward = fields.String(load_default=None, validate=UNIT_REF)


class DeviceSchema(OutputSchema):
    device_id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    owner = fields.String(required=True, metadata={"description": "The owner's username."})
    last_seen = Timestamp(timespec="seconds", required=True, allow_none=True)
    last_mutation_id = fields.Integer(required=True)
    revoked = fields.Boolean(required=True)
    revoked_at = Timestamp(timespec="seconds", required=True, allow_none=True)
