"""Access tokens (JWT) and refresh token values.

Decoding pins the algorithm list and requires every claim, so ``alg: none``, another
algorithm, a missing claim or the wrong audience are all ``token_invalid``.
A refresh token is ``<id>.<HMAC(jwt key, id)>``: the server stores no secret and can hand
out the same value again when a rotation's response was lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from flask import current_app

from ..errors import ApiError

REQUIRED_CLAIMS = ("sub", "role", "dev", "iat", "exp", "jti", "iss", "aud", "ver")


def encode_access_token(
    *,
    user_id: int,
    role: str,
    device_id: str | None,
    token_version: int,
    issued_at: datetime,
    jti: str | None = None,
) -> tuple[str, str, int]:
    """Return (token, jti, expires_in seconds). Same inputs give the same token."""
    cfg = current_app.config
    lifetime = cfg["ACCESS_TOKEN_SECONDS"]
    iat = int(issued_at.timestamp())
    jti = jti or str(uuid.uuid4())
    claims = {
        "sub": str(user_id),
        "role": role,
        "dev": device_id,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": jti,
        "iss": cfg["JWT_ISSUER"],
        "aud": cfg["JWT_AUDIENCE"],
        "ver": token_version,
    }
    token = jwt.encode(claims, cfg["JWT_KEY"], algorithm=cfg["JWT_ALGORITHM"])
    return token, jti, lifetime


def decode_access_token(token: str) -> dict[str, Any]:
    cfg = current_app.config
    try:
        claims = jwt.decode(
            token,
            cfg["JWT_KEY"],
            algorithms=[cfg["JWT_ALGORITHM"]],
            audience=cfg["JWT_AUDIENCE"],
            issuer=cfg["JWT_ISSUER"],
            # `dev` may be null, which PyJWT's `require` treats as missing: checked below.
            options={"require": [c for c in REQUIRED_CLAIMS if c != "dev"]},
        )
    except jwt.ExpiredSignatureError:
        raise ApiError("token_expired") from None
    except jwt.PyJWTError:
        raise ApiError("token_invalid") from None
    if "dev" not in claims:
        raise ApiError("token_invalid")
    if not isinstance(claims["ver"], int) or not isinstance(claims["sub"], str):
        raise ApiError("token_invalid")
    if claims["dev"] is not None and not isinstance(claims["dev"], str):
        raise ApiError("token_invalid")
    return claims


def _refresh_mac(token_id: str) -> str:
    key = current_app.config["JWT_KEY"].encode()
    digest = hmac.new(key, b"refresh:" + token_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def refresh_token_value(token_id: str) -> str:
    return f"{token_id}.{_refresh_mac(token_id)}"


def parse_refresh_token(value: str) -> str | None:
    """The token id when the value is genuine, else None."""
    token_id, _, mac = value.partition(".")
    if not token_id or not mac or len(token_id) > 36:
        return None
    if not hmac.compare_digest(mac, _refresh_mac(token_id)):
        return None
    return token_id


def refresh_expiry(issued_at: datetime) -> datetime:
    return issued_at + timedelta(days=current_app.config["REFRESH_TOKEN_DAYS"])
