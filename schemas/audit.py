"""Audit (docs/api-supervision.md): the list query and one audit row as shown to admins."""

from __future__ import annotations

from marshmallow import fields, validate

from . import OutputSchema, Timestamp
from .visits import DateRangeQuery


class AuditListQuery(DateRangeQuery):
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    action = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class AuditEntrySchema(OutputSchema):
    """One audit row: who (``actor``: a username, or ``cli:<system user>``) did what
    (``action``, e.g. ``visit.review``) to what (``target``), from where, when."""

    id = fields.Integer(required=True)
    at = Timestamp(required=True)
    actor = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    target = fields.String(required=True, allow_none=True)
    client_address = fields.String(required=True, allow_none=True)
    details = fields.Dict(
        required=True, metadata={"description": "What the action changed ({} when nothing)."}
    )
