"""Households (API §5): the list query."""

from __future__ import annotations

from marshmallow import fields, validate

from . import UNIT_REF, ListQuerySchema


class HouseholdListQuery(ListQuerySchema):
    ward = fields.String(load_default=None, validate=UNIT_REF)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
