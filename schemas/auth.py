"""Auth (API §2): login, refresh and logout bodies, and the token-pair answer.

A device id is the lowercase UUID a tablet makes once per install; anything else (upper
case, braces, no dashes) is refused so that one tablet can never appear under two spellings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import fields, validate

from . import StrictSchema

DEVICE_ID = validate.Regexp(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    error="Use a lowercase UUID such as 5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f.",
)

# Generous bounds: long enough for any real password or token, short enough that nobody can
# make the server hash megabytes.
MAX_PASSWORD = 1024
MAX_REFRESH_TOKEN = 200


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD))
    device_id = fields.String(load_default=None, allow_none=True, validate=DEVICE_ID)
    device_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=200)
    )


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


def dump_user(user: Any, units: Sequence[Any]) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "units": [
            {"scheme": u.scheme, "code": u.code, "name": u.name, "level": u.level} for u in units
        ],
    }


def dump_session_device(device: Any | None) -> dict[str, Any] | None:
    if device is None:
        return None
    return {"device_id": device.device_id, "last_mutation_id": device.last_mutation_id}


def dump_token_pair(
    *,
    access_token: str,
    refresh_token: str,
    expires_in: int,
    user: Any,
    units: Sequence[Any],
    device: Any | None,
) -> dict[str, Any]:
    return {
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "user": dump_user(user, units),
        "device": dump_session_device(device),
    }
