"""Auth (docs/api-auth.md): login, refresh and logout bodies, and their answers.

A device id is the lowercase UUID a tablet makes once per install; anything else (upper
case, braces, no dashes) is refused so that one tablet can never appear under two spellings.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from domain.roles import ROLES

from . import FullRegexp, OutputSchema, StrictSchema
from .units import UnitBriefSchema

DEVICE_ID = FullRegexp(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    error="Use a lowercase UUID such as 5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f.",
)

# Generous bounds: long enough for any real password or token, short enough that nobody can
# make the server hash megabytes.
MAX_PASSWORD = 1024
MAX_REFRESH_TOKEN = 200
# A device secret (API v1.1) is random, made once per install: long enough not to be guessed.
MIN_DEVICE_SECRET = 32
MAX_DEVICE_SECRET = 128


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD))
    device_id = fields.String(load_default=None, allow_none=True, validate=DEVICE_ID)
    device_secret = fields.String(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Length(min=MIN_DEVICE_SECRET, max=MAX_DEVICE_SECRET),
        metadata={
            "description": "API v1.1: the random secret the app made beside its device id; "
            "required with a device id."
        },
    )
    device_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=200)
    )

    @validates_schema
    def _secret_needs_device(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("device_secret") is not None and data.get("device_id") is None:
            raise ValidationError("Send device_secret with its device_id.", "device_secret")


class RefreshSchema(StrictSchema):
    refresh_token = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_REFRESH_TOKEN)
    )
    # Optional extension: the device presenting the token, so that a retry after a lost
    # response is recognised even when the tablet's address changed (mobile networks do).
    device_id = fields.String(load_default=None, allow_none=True, validate=DEVICE_ID)


class LogoutSchema(StrictSchema):
    refresh_token = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_REFRESH_TOKEN)
    )


class SessionUserSchema(OutputSchema):
    """Who logged in: ``units`` are their open assignments (none for an admin)."""

    username = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    units = fields.List(fields.Nested(UnitBriefSchema), required=True)


class SessionDeviceSchema(OutputSchema):
    """The session's device: a tablet that lost its data goes on after ``last_mutation_id``."""

    device_id = fields.String(required=True)
    last_mutation_id = fields.Integer(required=True)


class TokenPairSchema(OutputSchema):
    """The answer to a login or a refresh."""

    access_token = fields.String(required=True, metadata={"description": "A JWT."})
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds the access token is valid."}
    )
    user = fields.Nested(SessionUserSchema, required=True)
    device = fields.Nested(
        SessionDeviceSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Null when the login named no device."},
    )


class LoggedOutSchema(OutputSchema):
    """The answer to a logout."""

    ok = fields.Boolean(required=True, validate=validate.Equal(True))
