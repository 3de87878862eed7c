"""Users: list, create, change (units, name, active), reset or set a password.

An admin (and the operator's command line) manages everyone; a supervisor manages the
canvassers of their wards: another role is 403 ``forbidden``, a user or unit outside their
wards 404 ``not_found``. A canvasser is a supervisor's only when every unit they may still
write in (open assignments, and those ended within the grace period) lies in the
supervisor's wards: a canvasser shared with another ward is the admin's to manage, or the
supervisor could reset their password and read the other ward as them. Such a canvasser is
neither listed nor changeable (404, as if unseen). Passwords are generated here (or given
by the operator) and hashed before the write transaction opens: argon2 is slow on purpose
and must not hold the lock.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.roles import may_manage, password_errors, unit_errors

from ..errors import ApiError
from ..models import Unit, User
from ..store import people
from ..store import units as unit_store
from .context import Caller, Page, Settings
from .scoping import unit_in_scope
from .units import UnitBrief, brief
from .writes import Write, run_write

# No 0/O, 1/l/I: generated passwords are read aloud and typed on tablets.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet)


def generate_password(groups: int = 4, size: int = 4) -> str:
    """A random password such as ``k7vq-2mxa-9rtp-hd4e`` (about 79 bits)."""
    return "-".join(
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


class UnknownUnits(ApiError):
    """Units named that do not exist: 422 ``validation_failed`` on ``units``."""

    def __init__(self, refs: Sequence[str]) -> None:
        super().__init__(
            "validation_failed", errors={"units": [f"Unknown unit {ref}." for ref in refs]}
        )
        self.refs = list(refs)


class UsernameTaken(ApiError):
    """The username belongs to someone already: 422 ``validation_failed`` on ``username``."""

    def __init__(self, username: str) -> None:
        super().__init__(
            "validation_failed", errors={"username": ["This username is already taken."]}
        )
        self.username = username


@dataclass(frozen=True)
class UserInfo:
    username: str
    full_name: str | None
    role: str
    active: bool
    units: list[UnitBrief]  # open assignments


@dataclass(frozen=True)
class CreatedUser:
    user: UserInfo
    password: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class NewPassword:
    username: str
    password: str  # shown once


@dataclass(frozen=True)
class UpdatedUser:
    user: UserInfo
    changes: dict[str, Any] = field(default_factory=dict)  # as audited; empty: nothing changed


def _info(user: User, units: Sequence[Unit]) -> UserInfo:
    return UserInfo(
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        active=user.active,
        units=[brief(u) for u in units],
    )


def _shown(user: User, now: datetime) -> UserInfo:
    return _info(user, people.current_units([user.id], now)[user.id])


def _resolve_units(caller: Caller, refs: Sequence[str]) -> list[Unit]:
    """Units named in a request: unknown ones are a 422, ones outside the caller's scope
    404; each unit once, in the order first named."""
    found = unit_store.units_by_refs(list(refs))
    missing = [ref for ref in refs if ref not in found]
    if missing:
        raise UnknownUnits(missing)
    units = []
    for ref in dict.fromkeys(refs):
        if not caller.scope.covers(found[ref].path):
            raise ApiError("not_found", details={"unit": ref})
        units.append(found[ref])
    return units


def _check_role_units(role: str, units: Sequence[Unit]) -> None:
    problems = unit_errors(role, [(u.ref, u.level) for u in units])
    if problems:
        raise ApiError("validation_failed", errors={"units": problems})


def _check_password(password: str) -> None:
    problems = password_errors(password)
    if problems:
        raise ApiError("validation_failed", errors={"password": problems})


def _reach_since(caller: Caller, now: datetime, settings: Settings | None) -> datetime:
    """From when an ended assignment still lets a canvasser write (and pull): the grace
    period before ``now``. Only the operator's command line, an admin, may leave out the
    settings; a supervisor's call is checked against the configured grace period."""
    if settings is None:
        if not caller.scope.everything:
            raise ValueError("a caller with a limited scope needs the settings")
        settings = Settings()
    return now - timedelta(days=settings.assignment_grace_days)


def _managed_user(caller: Caller, username: str, now: datetime, settings: Settings | None) -> User:
    """The user named, or 404 when unknown or not the caller's to manage: a supervisor
    manages a canvasser with an open assignment in their wards and none (open, or ended
    within the grace period) outside them."""
    user = people.get_user(username)
    if user is None:
        raise ApiError("not_found")
    if caller.role == "admin":
        return user
    if not may_manage(caller.role, user.role):
        raise ApiError("not_found")
    current = people.current_units([user.id], now)[user.id]
    reach = people.current_units([user.id], _reach_since(caller, now, settings))[user.id]
    if not current or not all(caller.scope.covers(u.path) for u in reach):
        raise ApiError("not_found")
    return user


def get_user(
    caller: Caller, username: str, *, now: datetime, settings: Settings | None
) -> UserInfo:
    """One user the caller manages, with their current units; 404 ``not_found`` for an
    unknown user or one outside the caller's reach (the rule of ``_managed_user``, which
    every change to a user goes through)."""
    return _shown(_managed_user(caller, username, now, settings), now)


def list_users(
    caller: Caller,
    *,
    role: str | None,
    unit: str | None,
    after: Any,
    limit: int,
    now: datetime,
    settings: Settings,
) -> Page:
    """A page of the users the caller manages, by id: everyone for an admin, the
    canvassers of their wards for a supervisor (those who work nowhere else, as
    ``_managed_user`` says); optionally of one role, or with a unit at or below ``unit``."""
    if after is None:
        after = 0
    if not isinstance(after, int):
        raise ApiError("cursor_invalid")
    roles = [role] if role else None
    if caller.role != "admin":
        # A supervisor sees the canvassers of their wards and nobody else.
        roles = [r for r in (roles or ["canvasser"]) if may_manage(caller.role, r)]
    only = unit_in_scope(caller, unit) if unit else None
    if roles is not None and not roles:
        return Page([], after, False)
    rows, has_more = people.list_users(
        scope=caller.scope,
        roles=roles,
        unit=only,
        after_id=after,
        limit=limit,
        now=now,
        reach_since=_reach_since(caller, now, settings),
    )
    units = people.current_units([u.id for u in rows], now)
    return Page([_info(u, units[u.id]) for u in rows], rows[-1].id if rows else after, has_more)


def all_users(
    caller: Caller, *, role: str | None, unit: str | None, now: datetime
) -> list[UserInfo]:
    """Every user the caller may see, by username (the operator's `users list`); optionally
    of one role, or with an open assignment at or below ``unit``."""
    only = None
    if unit:
        found = unit_store.units_by_refs([unit])
        if unit not in found:
            raise UnknownUnits([unit])
        only = found[unit]
    rows = people.all_users()
    units = people.current_units([u.id for u in rows], now)
    shown = []
    for user in rows:
        mine = units[user.id]
        if role and user.role != role:
            continue
        if only and not any(u.path.startswith(only.path) for u in mine):
            continue
        if not caller.scope.everything and not any(caller.scope.covers(u.path) for u in mine):
            continue
        shown.append(_info(user, mine))
    return shown


def create_user(
    caller: Caller,
    *,
    username: str,
    role: str,
    units: Sequence[str],
    full_name: str | None,
    now: datetime,
    settings: Settings,
    password: str | None = None,
) -> CreatedUser:
    """Create a user with their units as open assignments. Without ``password`` one is
    generated; the answer carries it, once."""
    if not may_manage(caller.role, role):
        raise ApiError("forbidden")
    if password is None:
        password = generate_password()
    else:
        _check_password(password)
    password_hash = settings.hasher.hash(password)

    def work(write: Write) -> CreatedUser:
        found = _resolve_units(caller, units)
        _check_role_units(role, found)
        if people.get_user(username) is not None:
            raise UsernameTaken(username)
        user = people.insert_user(
            username=username,
            role=role,
            password_hash=password_hash,
            full_name=full_name,
            now=now,
        )
        write.touch("assignment", people.open_assignments(user.id, found, now))
        write.audit("user.create", username, {"role": role, "units": list(units)})
        return CreatedUser(user=_shown(user, now), password=password)

    return run_write(caller, now, work)


UNCHANGED: Any = object()


def update_user(
    caller: Caller,
    username: str,
    *,
    now: datetime,
    units: Sequence[str] | None = None,
    full_name: str | None = UNCHANGED,
    active: bool | None = None,
    settings: Settings | None = None,
) -> UpdatedUser:
    """Change what is given: ``units`` (the open assignments become exactly these),
    ``full_name``, ``active`` (deactivating ends the user's sessions). Audited once, with
    what changed. ``settings`` (the grace period) may be left out by an admin only."""

    def work(write: Write) -> UpdatedUser:
        user = _managed_user(caller, username, now, settings)
        changes: dict[str, Any] = {}
        if units is not None:
            # Every unit of a user the caller manages is inside the caller's units: the
            # new set replaces all of them.
            wanted = _resolve_units(caller, units)
            _check_role_units(user.role, wanted)
            changed = people.set_units(user, wanted, now)
            if changed:
                write.touch("assignment", changed)
                changes["units"] = list(units)
        if full_name is not UNCHANGED and people.set_full_name(user, full_name, now):
            changes["full_name"] = full_name
        if active is not None and people.set_active(user, active, now):
            changes["active"] = active
        if changes:
            write.audit("user.update", user.username, changes)
        return UpdatedUser(user=_shown(user, now), changes=changes)

    return run_write(caller, now, work)


def assign_units(
    caller: Caller,
    username: str,
    units: Sequence[str],
    *,
    now: datetime,
    settings: Settings | None = None,
) -> list[str]:
    """Give a user more units (keeping theirs); the units newly assigned, in the order
    named (none when they had them all)."""

    def work(write: Write) -> list[str]:
        user = _managed_user(caller, username, now, settings)
        found = _resolve_units(caller, units)
        current = people.current_units([user.id], now)[user.id]
        _check_role_units(user.role, current + found)
        changed = []
        for unit in found:
            ids = people.assign(user, unit, now)
            if ids:
                write.touch("assignment", ids)
                changed.append(unit.ref)
        if changed:
            write.audit("user.assign", user.username, {"units": changed})
        return changed

    return run_write(caller, now, work)


def unassign_units(
    caller: Caller,
    username: str,
    units: Sequence[str],
    *,
    now: datetime,
    settings: Settings | None = None,
) -> list[str]:
    """End a user's assignments to these units now (kept, for the grace period); the units
    whose assignment ended."""

    def work(write: Write) -> list[str]:
        user = _managed_user(caller, username, now, settings)
        changed = []
        for unit in _resolve_units(caller, units):
            ids = people.unassign(user, unit, now)
            if ids:
                write.touch("assignment", ids)
                changed.append(unit.ref)
        if changed:
            write.audit("user.unassign", user.username, {"units": changed})
        return changed

    return run_write(caller, now, work)


def reset_password(
    caller: Caller, username: str, *, now: datetime, settings: Settings
) -> NewPassword:
    """Give a user a new generated password (answered once); their sessions end."""
    password = generate_password()
    password_hash = settings.hasher.hash(password)

    def work(write: Write) -> NewPassword:
        user = _managed_user(caller, username, now, settings)
        people.set_password_hash(user, password_hash, now)
        write.audit("user.password_reset", user.username)
        return NewPassword(username=user.username, password=password)

    return run_write(caller, now, work)


def set_password(
    caller: Caller, username: str, password: str, *, now: datetime, settings: Settings
) -> None:
    """Set a user's password to one the operator chose; their sessions end."""
    _check_password(password)
    password_hash = settings.hasher.hash(password)

    def work(write: Write) -> None:
        user = _managed_user(caller, username, now, settings)
        people.set_password_hash(user, password_hash, now)
        write.audit("user.password_set", user.username)

    run_write(caller, now, work)
