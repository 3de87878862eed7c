"""Units (docs/api.md, Units): the list query and the unit as shown."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.geography import LEVELS

from . import UNIT_REF, ListQuerySchema, OutputSchema


class UnitListQuery(ListQuerySchema):
    scheme = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    parent = fields.String(load_default=None, validate=UNIT_REF)
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS))


class UnitBriefSchema(OutputSchema):
    """A unit named inside another answer (a user's units)."""

    scheme = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))


class UnitSchema(OutputSchema):
    """A unit as listed: its parent as ``scheme:code`` (null for a root) and its figures'
    inputs (null when unknown; a ward without its own rate takes the campaign's)."""

    scheme = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    parent = fields.String(required=True, allow_none=True)
    adult_population = fields.Integer(required=True, allow_none=True)
    target_rate = fields.Float(required=True, allow_none=True)
