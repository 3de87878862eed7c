"""Users (docs/api.md, Users): list query, create and change bodies, and the user as shown."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from domain.roles import ROLES

from . import UNIT_REF, FullRegexp, ListQuerySchema, OutputSchema, StrictBoolean, StrictSchema
from .units import UnitBriefSchema

USERNAME = FullRegexp(
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


class UserSchema(OutputSchema):
    """A user as shown to admins and supervisors: ``units`` are their open assignments."""

    username = fields.String(required=True)
    full_name = fields.String(required=True, allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    active = fields.Boolean(required=True)
    units = fields.List(fields.Nested(UnitBriefSchema), required=True)


class UserCreatedSchema(OutputSchema):
    """The answer to a creation: the user, and the generated password (shown only here)."""

    user = fields.Nested(UserSchema, required=True)
    password = fields.String(required=True)


class PasswordResetSchema(OutputSchema):
    """The answer to a password reset: the new generated password (shown only here)."""

    username = fields.String(required=True)
    password = fields.String(required=True)
