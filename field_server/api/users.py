"""Users (docs/api.md, Users): list, create, change, reset a password (services/users.py).

An admin manages everyone; a supervisor manages the canvassers of their wards who work
nowhere else (another role is 403, a user or unit outside their wards 404).
"""

from __future__ import annotations

from typing import Any

from schemas.users import (
    PasswordResetSchema,
    UserCreatedSchema,
    UserCreateSchema,
    UserListQuery,
    UserPatchSchema,
    UserSchema,
)

from ..clock import utcnow
from ..operation import operation
from ..services import users
from ..services.context import Caller, Page, Settings
from . import bp


@bp.get("/users")
@operation(
    "users.read", query=UserListQuery, response=UserSchema, page="users", errors=("not_found",)
)
def list_users(caller: Caller, query: dict[str, Any], settings: Settings) -> Page:
    """The users the caller manages, by id."""
    return users.list_users(
        caller,
        role=query["role"],
        unit=query["unit"],
        after=query["cursor"],
        limit=query["limit"],
        now=utcnow(),
        settings=settings,
    )


@bp.post("/users")
@operation(
    "users.write",
    body=UserCreateSchema,
    response=UserCreatedSchema,
    status=201,
    errors=("not_found",),
)
def create_user(caller: Caller, body: dict[str, Any], settings: Settings) -> users.CreatedUser:
    """Create a user; the answer carries their generated password, once."""
    return users.create_user(caller, **body, now=utcnow(), settings=settings)


@bp.patch("/users/<username>")
@operation("users.write", body=UserPatchSchema, response=UserSchema, errors=("not_found",))
def update_user(
    username: str, caller: Caller, body: dict[str, Any], settings: Settings
) -> users.UserInfo:
    """Change a user's units, name or whether they are active."""
    return users.update_user(caller, username, **body, now=utcnow(), settings=settings).user


@bp.post("/users/<username>/password")
@operation("users.write", empty_body=True, response=PasswordResetSchema, errors=("not_found",))
def reset_password(username: str, caller: Caller, settings: Settings) -> users.NewPassword:
    """Give a user a new generated password, answered once; their sessions end."""
    return users.reset_password(caller, username, now=utcnow(), settings=settings)
