"""Households (docs/api-supervision.md): the list query, and one household as its page shows it (the
record of HouseholdRecordSchema with its visits, newest first)."""

from __future__ import annotations

from marshmallow import fields, validate

from . import UNIT_REF, ListQuerySchema
from .records import HouseholdRecordSchema, VisitRecordSchema


class HouseholdListQuery(ListQuerySchema):
    ward = fields.String(load_default=None, validate=UNIT_REF)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class HouseholdDetailSchema(HouseholdRecordSchema):
    """A household and its visits, newest first."""

    visits = fields.List(fields.Nested(VisitRecordSchema), required=True)
