"""Users (API §2): list, create, change, reset a password.

An admin manages everyone; a supervisor manages the canvassers of their wards (another role
is 403, a user or unit outside their wards 404). A supervisor changing a canvasser's units
only touches the units inside their own wards.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from domain.roles import may_manage, unit_errors
from schemas.users import UserCreateSchema, UserListQuery, UserPatchSchema, dump_user

from ..auth.passwords import generate_password, hash_password
from ..auth.scope import current_principal, current_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..models import Unit, User, utcnow
from ..paging import decode_cursor, page
from ..parsing import parse_body, parse_empty_body, parse_query
from ..store import audit, people
from ..store import units as unit_store
from ..store.engine import write_transaction
from . import bp


def resolve_units(refs: list[str]) -> list[Unit]:
    """Units named in a body: unknown ones are a 422, ones outside the caller's scope 404."""
    found = unit_store.units_by_refs(refs)
    missing = [ref for ref in refs if ref not in found]
    if missing:
        raise ApiError(
            "validation_failed", errors={"units": [f"Unknown unit {ref}." for ref in missing]}
        )
    scope = current_scope()
    units = []
    for ref in dict.fromkeys(refs):
        if not scope.covers(found[ref].path):
            raise ApiError("not_found", details={"unit": ref})
        units.append(found[ref])
    return units


def check_role_units(role: str, units: list[Unit]) -> None:
    problems = unit_errors(role, [(u.ref, u.level) for u in units])
    if problems:
        raise ApiError("validation_failed", errors={"units": problems})


def managed_user(username: str) -> User:
    """The user named in the path, or 404 when unknown or not the caller's to manage."""
    principal = current_principal()
    user = people.get_user(username)
    if user is None:
        raise ApiError("not_found")
    if principal.role == "admin":
        return user
    if not may_manage(principal.role, user.role):
        raise ApiError("not_found")
    scope = current_scope()
    units = people.current_units([user.id], utcnow())[user.id]
    if not any(scope.covers(u.path) for u in units):
        raise ApiError("not_found")
    return user


def _audit(action: str, target: str, details: dict[str, Any] | None = None) -> None:
    audit.record(
        action=action,
        actor=current_principal().username,
        target=target,
        client_address=client_address(),
        at=utcnow(),
        details=details,
    )


def _shown(user: User) -> dict[str, Any]:
    return dump_user(user, people.current_units([user.id], utcnow())[user.id])


@bp.get("/users")
@requires("users.read")
def list_users() -> Response:
    query = parse_query(UserListQuery())
    after = decode_cursor("users", query["cursor"]) or 0
    if not isinstance(after, int):
        raise ApiError("cursor_invalid")
    principal = current_principal()
    roles = [query["role"]] if query["role"] else None
    if principal.role != "admin":
        # A supervisor sees the canvassers of their wards and nobody else.
        roles = [r for r in (roles or ["canvasser"]) if may_manage(principal.role, r)]
    unit = None
    if query["unit"]:
        unit = unit_store.get_unit_by_ref(query["unit"])
        if unit is None or not current_scope().covers(unit.path):
            raise ApiError("not_found")
    now = utcnow()
    rows, has_more = (
        people.list_users(
            scope=current_scope(),
            roles=roles,
            unit=unit,
            after_id=after,
            limit=query["limit"],
            now=now,
        )
        if roles is None or roles
        else ([], False)
    )
    units = people.current_units([u.id for u in rows], now)
    items = [dump_user(u, units[u.id]) for u in rows]
    last = rows[-1].id if rows else after
    return jsonify(page(items, kind="users", last_position=last, has_more=has_more))


@bp.post("/users")
@requires("users.write")
def create_user() -> tuple[Response, int]:
    body = parse_body(UserCreateSchema())
    if not may_manage(current_principal().role, body["role"]):
        raise ApiError("forbidden")
    # Hash before taking the write lock: argon2 is slow on purpose.
    password = generate_password()
    password_hash = hash_password(password)
    with write_transaction():
        units = resolve_units(body["units"])
        check_role_units(body["role"], units)
        if people.get_user(body["username"]) is not None:
            raise ApiError(
                "validation_failed", errors={"username": ["This username is already taken."]}
            )
        user = people.create_user(
            username=body["username"],
            role=body["role"],
            password_hash=password_hash,
            full_name=body["full_name"],
            units=units,
            now=utcnow(),
        )
        _audit("user.create", user.username, {"role": user.role, "units": body["units"]})
    return jsonify({"user": _shown(user), "password": password}), 201


@bp.patch("/users/<username>")
@requires("users.write")
def update_user(username: str) -> Response:
    body = parse_body(UserPatchSchema())
    with write_transaction():
        user = managed_user(username)
        now = utcnow()
        changes: dict[str, Any] = {}
        if "units" in body:
            wanted = resolve_units(body["units"])
            scope = current_scope()
            # Units outside the caller's wards stay as they are.
            kept = [
                u for u in people.current_units([user.id], now)[user.id] if not scope.covers(u.path)
            ]
            check_role_units(user.role, kept + wanted)
            if people.set_units(user, kept + wanted, now):
                changes["units"] = body["units"]
        if "full_name" in body and body["full_name"] != user.full_name:
            user.full_name = body["full_name"]
            user.updated_at = now
            changes["full_name"] = body["full_name"]
        if "active" in body and people.set_active(user, body["active"], now):
            changes["active"] = body["active"]
        if changes:
            _audit("user.update", user.username, changes)
    return jsonify(_shown(user))


@bp.post("/users/<username>/password")
@requires("users.write")
def reset_password(username: str) -> Response:
    parse_empty_body()
    password = generate_password()
    password_hash = hash_password(password)
    with write_transaction():
        user = managed_user(username)
        people.set_password_hash(user, password_hash, utcnow())
        _audit("user.password_reset", user.username)
    return jsonify({"username": user.username, "password": password})
