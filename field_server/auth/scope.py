"""Roles and scope, enforced in one place.

Step one: a role that may never use an endpoint gets 403 ``forbidden`` (the PERMISSIONS
table). Step two: a unit or record outside the caller's units answers 404 ``not_found``, so
IDs in other wards cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import current_app

from domain.roles import ROLES

from ..client_address import client_address
from ..errors import ApiError
from ..models import Unit, utcnow
from ..services.context import Caller, Settings
from ..store.units import Scope, assigned_roots
from .principal import Principal, authenticate, request_cache

ALL_ROLES = frozenset(ROLES)

# permission -> roles that may ever use it
PERMISSIONS: dict[str, frozenset[str]] = {
    "units.read": ALL_ROLES,
    "users.read": frozenset({"admin", "supervisor"}),
    "users.write": frozenset({"admin", "supervisor"}),
    "devices.read": frozenset({"admin", "district", "supervisor"}),
    "devices.revoke": frozenset({"admin", "supervisor"}),
    "session": ALL_ROLES,
    "stats.read": frozenset({"admin", "district", "supervisor"}),
    "sync": frozenset({"canvasser"}),
    "visits.write": frozenset({"admin", "supervisor"}),
    "visits.read": frozenset({"admin", "district", "supervisor"}),
    "households.read": frozenset({"admin", "district", "supervisor"}),
    "audit.read": frozenset({"admin"}),
    "conflicts.read": frozenset({"admin", "district", "supervisor"}),
    "conflicts.write": frozenset({"admin", "supervisor"}),
    "households.merge": frozenset({"admin", "supervisor"}),
    "rejections.read": frozenset({"admin", "district", "supervisor"}),
    "rejections.write": frozenset({"admin", "supervisor"}),
    "exports.read": frozenset({"admin", "district", "supervisor"}),
}

F = TypeVar("F", bound=Callable[..., Any])


def requires(permission: str) -> Callable[[F], F]:
    """Authenticate the caller and refuse roles that may never use this endpoint."""
    roles = PERMISSIONS[permission]

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            if principal.role not in roles:
                raise ApiError("forbidden")
            return view(*args, **kwargs)

        wrapper.field_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def current_principal() -> Principal:
    return authenticate()


def current_scope() -> Scope:
    """The caller's units: active assignments, and for canvassers those ended within grace."""
    cache = request_cache()
    if "scope" not in cache:
        principal = authenticate()
        if principal.role == "admin":
            cache["scope"] = Scope(everything=True, roots=())
        else:
            now = utcnow()
            grace = 0
            if principal.role == "canvasser":
                grace = current_app.config["ASSIGNMENT_GRACE_DAYS"]
            cache["scope"] = Scope(
                everything=False,
                roots=tuple(assigned_roots(principal.user_id, now - timedelta(days=grace))),
            )
    return cache["scope"]


def ensure_unit_in_scope(unit: Unit | None) -> Unit:
    """The unit, or 404 when it does not exist or lies outside the caller's units."""
    if unit is None or not current_scope().covers(unit.path):
        raise ApiError("not_found")
    return unit


def current_caller() -> Caller:
    """The authenticated caller as services take it: who, their scope, their address."""
    cache = request_cache()
    if "caller" not in cache:
        principal = authenticate()
        cache["caller"] = Caller(
            user_id=principal.user_id,
            username=principal.username,
            role=principal.role,
            scope=current_scope(),
            device_id=principal.device_id,
            address=client_address(),
        )
    return cache["caller"]


def current_settings() -> Settings:
    """The app's settings as services take them, built once per app."""
    ext = current_app.extensions
    if "field_server_settings" not in ext:
        ext["field_server_settings"] = Settings.from_config(current_app.config)
    return ext["field_server_settings"]
