"""Units (API §3): the list query and the unit as shown."""

from marshmallow import fields, validate

from domain.geography import LEVELS

from . import UNIT_REF, ListQuerySchema


class UnitListQuery(ListQuerySchema):
    scheme = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    parent = fields.String(load_default=None, validate=UNIT_REF)
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS))


def dump_unit(unit, parent_ref: str | None) -> dict:  # type: ignore[no-untyped-def]
    return {
        "scheme": unit.scheme,
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent": parent_ref,
        "adult_population": unit.adult_population,
        "target_rate": unit.target_rate,
    }
