"""Roles and scope, enforced in one place, and what a request hands the services.

Step one: a role that may never use an endpoint gets 403 ``forbidden`` (the PERMISSIONS
table, applied by ``field_server.operation``). Step two: a unit or record outside the
caller's units answers 404 ``not_found``, so IDs in other wards cannot be probed (the
services check it against ``Caller.scope``). ``current_caller`` and the ``current_*settings``
functions build the plain inputs services take from the request and the app.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from domain.roles import ROLES, Scope

from ..client_address import client_address
from ..clock import utcnow
from ..services.context import Caller, Settings
from ..services.sessions import SessionSettings
from ..store.units import assigned_roots
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


def current_principal() -> Principal:
    """Who the bearer token names (authenticated once per request)."""
    return authenticate()


def current_scope() -> Scope:
    """The caller's units: active assignments, and for canvassers those ended within grace."""
    cache = request_cache()
    if "scope" not in cache:
        principal = authenticate()
        cache["scope"] = scope_of(principal.user_id, principal.role)
    return cache["scope"]


def scope_of(user_id: int, role: str) -> Scope:
    """A user's units as every request sees them (the API's and the web pages' alike)."""
    if role == "admin":
        return Scope(everything=True, roots=())
    grace = current_settings().assignment_grace_days if role == "canvasser" else 0
    since = utcnow() - timedelta(days=grace)
    return Scope(everything=False, roots=tuple(assigned_roots(user_id, since)))


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
            token_id=principal.token_id,
        )
    return cache["caller"]


def current_settings() -> Settings:
    """The app's settings as services take them, built once per app."""
    ext = current_app.extensions
    if "field_server_settings" not in ext:
        ext["field_server_settings"] = Settings.from_config(current_app.config)
    return ext["field_server_settings"]


def current_session_settings() -> SessionSettings:
    """The app's token and login settings as services/sessions.py takes them, built once
    per app."""
    ext = current_app.extensions
    if "field_server_session_settings" not in ext:
        ext["field_server_session_settings"] = SessionSettings.from_config(
            current_app.config, hasher=current_settings().hasher
        )
    return ext["field_server_session_settings"]
