"""Users (API §2): list query, create and change bodies, and the user as shown."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from domain.roles import ROLES

from . import UNIT_REF, ListQuerySchema, StrictBoolean, StrictSchema

USERNAME = validate.Regexp(
    r"^[a-z0-9][a-z0-9._-]{2,63}$",
    error="3 to 64 characters: lowercase letters, digits, '.', '_' or '-'.",
)


class UserListQuery(ListQuerySchema):
    unit = fields.String(load_default=None, validate=UNIT_REF)
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=USERNAME)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    units = fields.List(fields.String(validate=UNIT_REF), load_default=list)
    full_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class UserPatchSchema(StrictSchema):
    active = StrictBoolean()
    units = fields.List(fields.String(validate=UNIT_REF))
    full_name = fields.String(allow_none=True, validate=validate.Length(max=200))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of active, units, full_name.")


def dump_unit_brief(unit: Any) -> dict[str, Any]:
    return {"scheme": unit.scheme, "code": unit.code, "name": unit.name, "level": unit.level}


def dump_user(user: Any, units: list[Any]) -> dict[str, Any]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "active": user.active,
        "units": [dump_unit_brief(u) for u in units],
    }
