"""POST /api/v1/auth/login, /auth/refresh, /auth/logout (docs/api-auth.md): their own blueprint.

Each view parses, calls one operation of services/sessions.py and dumps its answer; the
rules (failed-login limiting, refresh rotation and reuse, which session a logout ends) live
there.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from schemas.auth import LoggedOutSchema, LoginSchema, LogoutSchema, RefreshSchema, TokenPairSchema

from ..client_address import client_address
from ..clock import utcnow
from ..operation import operation
from ..services import sessions
from ..services.context import Caller
from .scope import current_session_settings

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/login")
@operation(
    None,
    body=LoginSchema,
    response=TokenPairSchema,
    errors=("invalid_credentials", "device_credentials_invalid", "device_revoked", "rate_limited"),
)
def login(body: dict[str, Any]) -> sessions.TokenPair:
    """Log in: a token pair, the user's units and, for a tablet, its mutation numbering."""
    return sessions.login(
        username=body["username"],
        password=body["password"],
        device_id=body["device_id"],
        device_secret=body["device_secret"],
        device_name=body["device_name"],
        address=client_address(),
        now=utcnow(),
        settings=current_session_settings(),
    )


@bp.post("/refresh")
@operation(
    None,
    body=RefreshSchema,
    response=TokenPairSchema,
    errors=("token_invalid", "token_expired", "refresh_reused", "device_revoked"),
)
def refresh(body: dict[str, Any]) -> sessions.TokenPair:
    """Rotate a refresh token to a new token pair (the same pair again for a retry)."""
    return sessions.refresh(
        refresh_token=body["refresh_token"],
        device_id=body["device_id"],
        address=client_address(),
        now=utcnow(),
        settings=current_session_settings(),
    )


@bp.post("/logout")
@operation("session", body=LogoutSchema, optional_body=True, response=LoggedOutSchema)
def logout(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """End the caller's session (or the one a refresh token of theirs belongs to)."""
    sessions.logout(
        caller,
        refresh_token=body.get("refresh_token"),
        access_jti=caller.token_id,
        now=utcnow(),
        settings=current_session_settings(),
    )
    return {"ok": True}
