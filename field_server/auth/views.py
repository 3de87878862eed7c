"""POST /api/v1/auth/login, /auth/refresh, /auth/logout (API §2).

Each view: parse (schema), decide (the pure functions below: no I/O, time passed in), persist
(store/ inside one ``write_transaction()``), dump. A response is built inside the
transaction and sent only after it committed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, jsonify, request

from schemas.auth import LoginSchema, LogoutSchema, RefreshSchema, dump_token_pair

from ..api import bp
from ..client_address import client_address
from ..errors import ApiError
from ..models import Device, RefreshFamily, RefreshToken, User, utcnow
from ..parsing import parse_body
from ..store import audit, people, sessions
from ..store.engine import write_transaction
from . import ratelimit
from .passwords import verify_password
from .scope import current_principal, requires
from .tokens import encode_access_token, parse_refresh_token, refresh_expiry, refresh_token_value

# Outcomes of presenting a refresh token.
ROTATE = "rotate"  # issue the next pair of the family
REPLAY = "replay"  # the same device retrying within the leeway: the pair it already got
REUSE = "reuse"  # anything else presenting a spent token: end the family

# --- domain: pure decisions --------------------------------------------------------------


def login_failure_reason(user: User | None, password_ok: bool) -> str | None:
    """Why a login fails (for the audit trail only: the client always sees the same 401)."""
    if user is None:
        return "unknown_user"
    if not password_ok:
        return "wrong_password"
    if not user.active:
        return "inactive"
    return None


def ensure_device_given(role: str, device_id: str | None) -> None:
    """Canvassers sync, and sync needs a device; asked only once the password is known good,
    so the answer reveals nothing about the account to someone guessing."""
    if role == "canvasser" and device_id is None:
        raise ApiError(
            "validation_failed",
            errors={"device_id": ["Required for canvassers: the app's install UUID."]},
        )


def decide_refresh(
    *,
    token: RefreshToken,
    successor: RefreshToken | None,
    family: RefreshFamily,
    user: User,
    device: Device | None,
    presented_device_id: str | None,
    address: str,
    now: datetime,
    leeway_seconds: int,
) -> str:
    """ROTATE, REPLAY or REUSE; raise ApiError for the answers that change nothing."""
    if family.revoked_at is not None:
        if family.revoked_reason == "reuse":
            raise ApiError("refresh_reused")
        if device is not None and device.revoked_at is not None:
            raise ApiError("device_revoked")
        raise ApiError("token_invalid", details={"reason": "session_ended"})
    if device is not None and device.revoked_at is not None:
        raise ApiError("device_revoked")
    if not user.active:
        raise ApiError("token_invalid", details={"reason": "user_inactive"})
    if device is not None and device.user_id != user.id:
        # The tablet has passed to someone else since this session began.
        raise ApiError("token_invalid", details={"reason": "session_ended"})
    if token.rotated_at is not None:
        if presented_device_id is not None:
            same_device = presented_device_id == family.device_id
        else:
            same_device = token.rotated_from_address == address[:64]
        within = leeway_seconds > 0 and now - token.rotated_at <= timedelta(seconds=leeway_seconds)
        if within and same_device and successor is not None and successor.rotated_at is None:
            return REPLAY
        return REUSE
    if presented_device_id is not None and presented_device_id != family.device_id:
        # The body names another device than the session's: refuse, but a misconfigured
        # client is no proof of theft, so the family stays alive.
        raise ApiError("token_invalid", details={"reason": "device_mismatch"})
    if token.expires_at <= now:
        raise ApiError("token_expired")
    return ROTATE


# --- views -------------------------------------------------------------------------------


def _pair(
    *,
    user: User,
    device: Device | None,
    refresh_id: str,
    issued_at: datetime,
    jti: str,
    now: datetime,
) -> dict[str, Any]:
    """The answer for a token pair; the same arguments always give the same strings."""
    access, _, expires_in = encode_access_token(
        user_id=user.id,
        role=user.role,
        device_id=device.device_id if device else None,
        token_version=user.token_version,
        issued_at=issued_at,
        jti=jti,
    )
    units = people.current_units([user.id], now)[user.id]
    return dump_token_pair(
        access_token=access,
        refresh_token=refresh_token_value(refresh_id),
        expires_in=expires_in,
        user=user,
        units=units,
        device=device,
    )


@bp.post("/auth/login")
def login() -> Response:
    body = parse_body(LoginSchema())
    username: str = body["username"]
    device_id: str | None = body["device_id"]
    now = utcnow()
    address = client_address()

    ratelimit.ensure_login_allowed(username, address, now)
    user = people.get_user(username)
    # An unknown user still costs one hash verification, so both failures take as long.
    password_ok = verify_password(user.password_hash if user else None, body["password"])
    reason = login_failure_reason(user, password_ok)
    if reason is not None:
        with write_transaction():
            ratelimit.note_failure(username, address, now)
            audit.record(
                action="login.failed",
                actor=None,
                target=username,
                client_address=address,
                at=now,
                details={"reason": reason},
            )
        raise ApiError("invalid_credentials")
    assert user is not None
    ensure_device_given(user.role, device_id)

    with write_transaction():
        # Re-read inside the write lock: a deactivation may have committed meanwhile.
        if not user.active:
            raise ApiError("invalid_credentials")
        device = None
        if device_id is not None:
            device = sessions.device_for_login(device_id, user.id, body["device_name"], now)
            if device.revoked_at is not None:
                raise ApiError("device_revoked")
            if device.user_id != user.id:
                # A shared tablet: the next person takes it over, its mutation numbering
                # goes on, and the previous owner's sessions on it end.
                sessions.revoke_families(
                    "device_reassigned", now, device_id=device.device_id, except_user_id=user.id
                )
                device.user_id = user.id
            if body["device_name"]:
                device.name = body["device_name"]
            device.last_seen_at = now
        family = sessions.open_family(user.id, device_id, now)
        jti = str(uuid.uuid4())
        token = sessions.issue_token(
            family.id, issued_at=now, expires_at=refresh_expiry(now), access_jti=jti
        )
        payload = _pair(
            user=user, device=device, refresh_id=token.id, issued_at=now, jti=jti, now=now
        )
    return jsonify(payload)


@bp.post("/auth/refresh")
def refresh() -> Response:
    body = parse_body(RefreshSchema())
    token_id = parse_refresh_token(body["refresh_token"])
    if token_id is None:
        raise ApiError("token_invalid")
    now = utcnow()
    address = client_address()
    leeway = current_app.config["REFRESH_REUSE_LEEWAY"]

    reused: ApiError | None = None
    with write_transaction():
        token = sessions.token_for_update(token_id)
        if token is None:
            raise ApiError("token_invalid")
        family, user, device = sessions.family_context(token.family_id)
        successor = sessions.get_token(token.replaced_by) if token.replaced_by else None
        outcome = decide_refresh(
            token=token,
            successor=successor,
            family=family,
            user=user,
            device=device,
            presented_device_id=body["device_id"],
            address=address,
            now=now,
            leeway_seconds=leeway,
        )
        if outcome == REUSE:
            # Someone holds a spent token: end the whole family, and commit that before
            # answering, so neither holder can go on.
            sessions.revoke_family(family.id, "reuse", now)
            audit.record(
                action="refresh.reused",
                actor=user.username,
                target=family.id,
                client_address=address,
                at=now,
                details={"device_id": family.device_id},
            )
            reused = ApiError("refresh_reused")
        elif outcome == REPLAY:
            assert successor is not None
            # Same inputs, same strings: the device gets exactly the pair it lost.
            payload = _pair(
                user=user,
                device=device,
                refresh_id=successor.id,
                issued_at=successor.issued_at,
                jti=successor.access_jti,
                now=now,
            )
        else:
            jti = str(uuid.uuid4())
            new = sessions.issue_token(
                family.id, issued_at=now, expires_at=refresh_expiry(now), access_jti=jti
            )
            sessions.mark_rotated(token, new.id, now, address)
            if device is not None:
                device.last_seen_at = now
            payload = _pair(
                user=user, device=device, refresh_id=new.id, issued_at=now, jti=jti, now=now
            )
    if reused is not None:
        raise reused
    return jsonify(payload)


@bp.post("/auth/logout")
@requires("session")
def logout() -> Response:
    refresh_value = None
    if request.get_data(cache=True).strip():
        refresh_value = parse_body(LogoutSchema())["refresh_token"]
    not_yours = ApiError(
        "validation_failed", errors={"refresh_token": ["Not a refresh token of this user."]}
    )
    token_id = None
    if refresh_value is not None:
        token_id = parse_refresh_token(refresh_value)
        if token_id is None:
            raise not_yours
    principal = current_principal()
    now = utcnow()

    with write_transaction():
        if token_id is not None:
            token = sessions.get_token(token_id)
            if token is None or sessions.family_owner(token.family_id) != principal.user_id:
                raise not_yours
            sessions.revoke_family(token.family_id, "logout", now)
        elif principal.device_id is not None:
            sessions.revoke_families(
                "logout", now, user_id=principal.user_id, device_id=principal.device_id
            )
        else:
            family_id = sessions.family_of_access_token(principal.user_id, principal.token_id)
            if family_id is not None:
                sessions.revoke_family(family_id, "logout", now)
    return jsonify({"ok": True})
