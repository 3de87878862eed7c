"""Sessions: log in, refresh a token pair, log out, and clear a username's failed logins.

Each operation decides with the pure functions below (no I/O, time passed in), persists
through the store inside ``run_write`` and answers plain data; the token pair is built
inside the transaction and handed out only once it committed.

Tokens: an access token is a JWT whose decoding pins the algorithm list and requires every
claim, so ``alg: none``, another algorithm, a missing claim or the wrong audience are all
``token_invalid``. A refresh token is ``<id>.<HMAC(jwt key, id)>``: the server stores no
secret and can hand out the same value again when a rotation's answer was lost.

Failed logins are limited per username and, far more loosely, per client address: when the
failures already counted in the sliding window reach a limit, the next attempt is refused
with 429 ``rate_limited`` *before* the password is looked at, so a right password does not
get through either and guessing costs the server no hashing. A successful login does not
reset the counter: otherwise someone who knows one password (their own) could interleave it
to keep guessing another's at full speed from one address. The check and the recording are
separate short transactions around the password hash (which must not hold the write lock):
under concurrency a few attempts already in flight when the limit is reached are still
answered, at most one per busy worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import ApiError
from ..models import Device, RefreshFamily, RefreshToken, User
from ..store import logins, people, sessions
from .context import Caller
from .units import UnitBrief, brief
from .writes import Write, run_write

# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionSettings:
    """The settings sessions read (config.py documents each), taken from the app's config
    once per app (auth/scope.py ``current_session_settings``)."""

    jwt_key: str
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "field-server"
    jwt_audience: str = "field-api"
    access_token_seconds: int = 900
    refresh_token_days: int = 30
    refresh_reuse_leeway: int = 30
    login_window_seconds: int = 60
    login_max_failures_per_user: int = 10
    login_max_failures_per_address: int = 300
    hasher: PasswordHasher = field(default_factory=PasswordHasher, compare=False, repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], hasher: PasswordHasher) -> SessionSettings:
        return cls(
            jwt_key=config["JWT_KEY"],
            jwt_algorithm=config["JWT_ALGORITHM"],
            jwt_issuer=config["JWT_ISSUER"],
            jwt_audience=config["JWT_AUDIENCE"],
            access_token_seconds=config["ACCESS_TOKEN_SECONDS"],
            refresh_token_days=config["REFRESH_TOKEN_DAYS"],
            refresh_reuse_leeway=config["REFRESH_REUSE_LEEWAY"],
            login_window_seconds=config["LOGIN_WINDOW_SECONDS"],
            login_max_failures_per_user=config["LOGIN_MAX_FAILURES_PER_USER"],
            login_max_failures_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            hasher=hasher,
        )

    @property
    def login_window(self) -> timedelta:
        return timedelta(seconds=self.login_window_seconds)


# --- tokens --------------------------------------------------------------------------------

REQUIRED_CLAIMS = ("sub", "role", "dev", "iat", "exp", "jti", "iss", "aud", "ver")


def encode_access_token(
    settings: SessionSettings,
    *,
    user_id: int,
    role: str,
    device_id: str | None,
    token_version: int,
    issued_at: datetime,
    jti: str | None = None,
) -> tuple[str, str, int]:
    """(token, jti, expires_in seconds). The same inputs give the same token."""
    lifetime = settings.access_token_seconds
    iat = int(issued_at.timestamp())
    jti = jti or str(uuid.uuid4())
    claims = {
        "sub": str(user_id),
        "role": role,
        "dev": device_id,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": jti,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "ver": token_version,
    }
    token = jwt.encode(claims, settings.jwt_key, algorithm=settings.jwt_algorithm)
    return token, jti, lifetime


def decode_access_token(settings: SessionSettings, token: str) -> dict[str, Any]:
    """The claims of a genuine, unexpired access token; else 401 ``token_invalid`` (or
    ``token_expired``)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
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


def _refresh_mac(settings: SessionSettings, token_id: str) -> str:
    key = settings.jwt_key.encode()
    digest = hmac.new(key, b"refresh:" + token_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def refresh_token_value(settings: SessionSettings, token_id: str) -> str:
    return f"{token_id}.{_refresh_mac(settings, token_id)}"


def parse_refresh_token(settings: SessionSettings, value: str) -> str | None:
    """The token id when the value is genuine, else None."""
    token_id, _, mac = value.partition(".")
    if not token_id or not mac or len(token_id) > 36:
        return None
    # Bytes: compare_digest refuses a str with characters outside ASCII (a forged token).
    if not hmac.compare_digest(mac.encode(), _refresh_mac(settings, token_id).encode()):
        return None
    return token_id


def refresh_expiry(settings: SessionSettings, issued_at: datetime) -> datetime:
    return issued_at + timedelta(days=settings.refresh_token_days)


# --- passwords -----------------------------------------------------------------------------

# Hasher parameters -> a hash of a random password, verified against when the username is
# unknown, so both failures take as long. Made once per process and set of parameters.
_DUMMY_HASHES: dict[tuple[Any, ...], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.type)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[key]


def verify_password(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and answer False."""
    target = password_hash or _dummy_hash(hasher)
    try:
        ok = hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


# --- failed-login limiting -----------------------------------------------------------------


def retry_after_seconds(blocking_at: datetime, window: timedelta, now: datetime) -> int:
    """Whole seconds until the blocking failure leaves the window, at least 1."""
    remaining = (blocking_at + window - now).total_seconds()
    return max(1, math.ceil(remaining))


def ensure_login_allowed(
    settings: SessionSettings, username: str, address: str, now: datetime
) -> None:
    """Raise 429 rate_limited (with Retry-After) when either counter is at its limit."""
    window = settings.login_window
    since = now - window
    waits = []
    _, user_blocking = logins.failures_for_username(
        username, since, settings.login_max_failures_per_user
    )
    if user_blocking is not None:
        waits.append(retry_after_seconds(user_blocking, window, now))
    _, address_blocking = logins.failures_for_address(
        address, since, settings.login_max_failures_per_address
    )
    if address_blocking is not None:
        waits.append(retry_after_seconds(address_blocking, window, now))
    if waits:
        # Both may be exhausted: the client may try again only when both allow it.
        wait = max(waits)
        raise ApiError(
            "rate_limited", details={"retry_after": wait}, headers={"Retry-After": str(wait)}
        )


# --- pure decisions ------------------------------------------------------------------------

# Outcomes of presenting a refresh token.
ROTATE = "rotate"  # issue the next pair of the family
REPLAY = "replay"  # the same device retrying within the leeway: the pair it already got
REUSE = "reuse"  # anything else presenting a spent token: end the family


def login_failure_reason(user: User | None, password_ok: bool) -> str | None:
    """Why a login fails (for the audit trail only: the client always sees the same 401)."""
    if user is None:
        return "unknown_user"
    if not password_ok:
        return "wrong_password"
    if not user.active:
        return "inactive"
    return None


def device_secret_hash(secret: str) -> str:
    """What the server keeps of a device secret. The secret is random and long (32 to 128
    characters, made by the app), so a plain SHA-256 is enough: there is no dictionary to
    try, and a memory-hard hash would only slow every tablet's login."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def device_credentials_refusal(
    device: Device | None, user_id: int, presented_hash: str | None
) -> str | None:
    """Why this login may not use the device (for the audit trail), or None.

    ``device`` is the stored row, None for a device id never seen. A new device must come
    with its secret; a known one needs the same secret, whoever logs in (a shared tablet
    changes hands, nobody else can claim it). A device registered before credentials
    existed (no hash) serves only its current owner, who may present a first secret."""
    if device is None:
        return None if presented_hash is not None else "device_secret_missing"
    if device.secret_hash is None:
        return None if device.user_id == user_id else "device_unproven"
    if presented_hash is None:
        return "device_secret_missing"
    if not hmac.compare_digest(device.secret_hash, presented_hash):
        return "device_secret_wrong"
    return None


class _DeviceRefused(Exception):
    """Raised inside the login's write to roll it back; answered after a failed login is
    recorded in a write of its own."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionUser:
    username: str
    role: str
    units: list[UnitBrief]  # open assignments


@dataclass(frozen=True)
class SessionDevice:
    device_id: str
    last_mutation_id: int


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: SessionUser
    device: SessionDevice | None
    token_type: str = "Bearer"  # noqa: S105 (the kind of token, not a secret)


def _pair(
    settings: SessionSettings,
    *,
    user: User,
    device: Device | None,
    refresh_id: str,
    issued_at: datetime,
    jti: str,
    now: datetime,
) -> TokenPair:
    """The answer for a token pair; the same arguments always give the same strings."""
    access, _, expires_in = encode_access_token(
        settings,
        user_id=user.id,
        role=user.role,
        device_id=device.device_id if device else None,
        token_version=user.token_version,
        issued_at=issued_at,
        jti=jti,
    )
    units = people.current_units([user.id], now)[user.id]
    return TokenPair(
        access_token=access,
        refresh_token=refresh_token_value(settings, refresh_id),
        expires_in=expires_in,
        user=SessionUser(username=user.username, role=user.role, units=[brief(u) for u in units]),
        device=SessionDevice(device.device_id, device.last_mutation_id) if device else None,
    )


def _audit_row(
    now: datetime,
    action: str,
    *,
    actor: str | None,
    target: str | None,
    address: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    """An audit row of a request made before anyone is authenticated."""
    return {
        "at": now,
        "actor": actor,
        "action": action,
        "target": target,
        "client_address": address,
        "details": details,
    }


# --- operations ----------------------------------------------------------------------------


def login(
    *,
    username: str,
    password: str,
    device_id: str | None,
    device_name: str | None,
    address: str,
    now: datetime,
    settings: SessionSettings,
    device_secret: str | None = None,
) -> TokenPair:
    """Check the password and open a session (a refresh family, bound to the device when
    one is named) with its first token pair. Unknown user, wrong password and inactive
    account are the same 401 ``invalid_credentials``, counted and audited."""
    user = check_password(
        username=username, password=password, address=address, now=now, settings=settings
    )
    ensure_device_given(user.role, device_id)
    user_id = user.id
    presented_hash = device_secret_hash(device_secret) if device_secret is not None else None

    def work(write: Write) -> TokenPair:
        # Read again inside the write lock: a deactivation may have committed meanwhile.
        current = people.get_user_by_id(user_id)
        if current is None or not current.active:
            raise ApiError("invalid_credentials")
        device = None
        if device_id is not None:
            known = sessions.get_device(device_id, for_update=True)
            refusal = device_credentials_refusal(known, current.id, presented_hash)
            if refusal is not None:
                raise _DeviceRefused(refusal)
            device = known or sessions.device_for_login(
                device_id, current.id, device_name, now, secret_hash=presented_hash
            )
            if device.secret_hash is None and presented_hash is not None:
                device.secret_hash = presented_hash  # a device from before v1.1 takes its first
            elif device.secret_hash != presented_hash:
                # Two first logins raced to register the id with different secrets.
                raise _DeviceRefused("device_secret_wrong")
            if device.revoked_at is not None:
                raise ApiError("device_revoked")
            if device.user_id != current.id:
                sessions.take_over_device(device, current.id, now)
            sessions.note_device_seen(device, now, device_name)
        family = sessions.open_family(current.id, device_id, now)
        jti = str(uuid.uuid4())
        token = sessions.issue_token(
            family.id, issued_at=now, expires_at=refresh_expiry(settings, now), access_jti=jti
        )
        return _pair(
            settings,
            user=current,
            device=device,
            refresh_id=token.id,
            issued_at=now,
            jti=jti,
            now=now,
        )

    try:
        return run_write(None, now, work)
    except _DeviceRefused as refused:
        _record_failed_login(username, address, now, settings, refused.reason)
        raise ApiError("device_credentials_invalid") from None


def check_password(
    *, username: str, password: str, address: str, now: datetime, settings: SessionSettings
) -> User:
    """The user a username and password name, under the failed-login limits: 429 when a
    limit holds, else one password verification (also for an unknown user, so both failures
    take as long); a failure is counted, audited and answered 401 ``invalid_credentials``.
    The API's login and the web pages' login both go through here, so they share limits."""
    ensure_login_allowed(settings, username, address, now)
    user = people.get_user(username)
    password_ok = verify_password(settings.hasher, user.password_hash if user else None, password)
    reason = login_failure_reason(user, password_ok)
    if reason is not None:
        _record_failed_login(username, address, now, settings, reason)
        raise ApiError("invalid_credentials")
    assert user is not None
    return user


def session_user(user_id: int, version: int) -> User | None:
    """The user a web page's session cookie names, while the session still holds: the user
    is active and neither role nor units changed since (the same ``token_version`` the
    access tokens carry as ``ver``)."""
    user = people.get_user_by_id(user_id)
    if user is None or not user.active or user.token_version != version:
        return None
    return user


def _record_failed_login(
    username: str, address: str, now: datetime, settings: SessionSettings, reason: str
) -> None:
    """Count a failed login towards the limits and audit it, in a write of its own."""

    def failed(write: Write) -> None:
        logins.record_failure(username, address, now, forget_before=now - settings.login_window)
        write.audit_many(
            [
                _audit_row(
                    now,
                    "login.failed",
                    actor=None,
                    target=username,
                    address=address,
                    details={"reason": reason},
                )
            ]
        )

    run_write(None, now, failed)


def refresh(
    *,
    refresh_token: str,
    device_id: str | None,
    address: str,
    now: datetime,
    settings: SessionSettings,
) -> TokenPair:
    """Rotate a refresh token to the next pair of its family; the same pair again for the
    same device retrying within the leeway; any other reuse ends the family (committed
    before the 401 ``refresh_reused`` is answered, so neither holder can go on)."""
    token_id = parse_refresh_token(settings, refresh_token)
    if token_id is None:
        raise ApiError("token_invalid")

    def work(write: Write) -> TokenPair | None:
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
            presented_device_id=device_id,
            address=address,
            now=now,
            leeway_seconds=settings.refresh_reuse_leeway,
        )
        if outcome == REUSE:
            sessions.revoke_family(family.id, "reuse", now)
            write.audit_many(
                [
                    _audit_row(
                        now,
                        "refresh.reused",
                        actor=user.username,
                        target=family.id,
                        address=address,
                        details={"device_id": family.device_id},
                    )
                ]
            )
            return None
        if outcome == REPLAY:
            assert successor is not None
            # Same inputs, same strings: the device gets exactly the pair it lost.
            return _pair(
                settings,
                user=user,
                device=device,
                refresh_id=successor.id,
                issued_at=successor.issued_at,
                jti=successor.access_jti,
                now=now,
            )
        jti = str(uuid.uuid4())
        new = sessions.issue_token(
            family.id, issued_at=now, expires_at=refresh_expiry(settings, now), access_jti=jti
        )
        sessions.mark_rotated(token, new.id, now, address)
        if device is not None:
            sessions.note_device_seen(device, now)
        return _pair(
            settings, user=user, device=device, refresh_id=new.id, issued_at=now, jti=jti, now=now
        )

    pair = run_write(None, now, work)
    if pair is None:
        raise ApiError("refresh_reused")
    return pair


def _not_yours() -> ApiError:
    return ApiError(
        "validation_failed", errors={"refresh_token": ["Not a refresh token of this user."]}
    )


def logout(
    caller: Caller,
    *,
    refresh_token: str | None,
    access_jti: str | None,
    now: datetime,
    settings: SessionSettings,
) -> None:
    """End a session: the family of ``refresh_token`` (which must be the caller's), else
    every session of the caller on the access token's device, else the family whose pair
    includes the access token ``access_jti`` (None, a caller without an access token, has
    no such family). Ending an ended session is fine."""
    token_id = None
    if refresh_token is not None:
        token_id = parse_refresh_token(settings, refresh_token)
        if token_id is None:
            raise _not_yours()
    user_id = caller.user_id
    if user_id is None:
        raise ApiError("token_invalid")

    def work(write: Write) -> None:
        if token_id is not None:
            token = sessions.get_token(token_id)
            if token is None or sessions.family_owner(token.family_id) != user_id:
                raise _not_yours()
            sessions.revoke_family(token.family_id, "logout", now)
        elif caller.device_id is not None:
            sessions.revoke_families("logout", now, user_id=user_id, device_id=caller.device_id)
        elif access_jti is not None:
            family_id = sessions.family_of_access_token(user_id, access_jti)
            if family_id is not None:
                sessions.revoke_family(family_id, "logout", now)

    run_write(caller, now, work)


def unlock(caller: Caller, username: str, *, now: datetime) -> int:
    """Forget a username's failed logins so it may log in again at once (the per-address
    counter is left alone: it clears itself within the window); how many were forgotten."""

    def work(write: Write) -> int:
        cleared = logins.clear_failures(username)
        write.audit("user.unlock", username, {"cleared": cleared})
        return cleared

    return run_write(caller, now, work)
