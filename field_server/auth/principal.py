"""Who is calling: the bearer token checked against the user and device as they are now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request

from ..errors import ApiError
from ..store import people
from .tokens import decode_access_token


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    device_id: str | None
    token_id: str


def request_cache() -> dict[str, Any]:
    """Per-request memo. Not flask.g: g lives as long as the app context, which several
    requests share when they are made from inside one (the demo's tablets, tests)."""
    return request.environ.setdefault("field_server.cache", {})


def current_principal_or_none() -> Principal | None:
    return request_cache().get("principal")


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("token_invalid", details={"reason": "missing_bearer_token"})
    return token.strip()


def authenticate() -> Principal:
    """Decode the token and check it against the database: one query per request.

    Order matters for clients: a deactivated user is token_invalid, a role or unit change
    (older `ver`) is token_expired, a revoked device is device_revoked.
    """
    cache = request_cache()
    if "principal" in cache:
        return cache["principal"]
    claims = decode_access_token(bearer_token())
    try:
        user_id = int(claims["sub"])
    except ValueError:
        raise ApiError("token_invalid") from None
    holder = people.token_holder(user_id, claims["dev"])
    if holder is None:
        raise ApiError("token_invalid")
    if not holder.active:
        raise ApiError("token_invalid", details={"reason": "user_inactive"})
    if claims["dev"] is not None:
        if holder.device_user_id != holder.user_id:
            raise ApiError("token_invalid", details={"reason": "device_unknown"})
        if holder.device_revoked:
            raise ApiError("device_revoked")
    if claims["ver"] != holder.token_version or claims["role"] != holder.role:
        raise ApiError("token_expired", details={"reason": "claims_changed"})
    cache["principal"] = Principal(
        user_id=holder.user_id,
        username=holder.username,
        role=holder.role,
        device_id=claims["dev"],
        token_id=claims["jti"],
    )
    return cache["principal"]
