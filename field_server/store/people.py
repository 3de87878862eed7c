"""Users, their assignments and devices: lookups and changes.

Changing a user's role or units bumps ``token_version`` so tokens with the old claims stop
working; deactivating a user or changing their password revokes their refresh families.
Functions run in the caller's transaction. Those that open or end assignments return the
ids of the assignments they changed, for the operation to stamp (``Write.touch``); only
``create_user``, kept for seeding (tests, the demo), stamps them itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, false, not_, or_, select, update

from ..extensions import db
from ..models import Assignment, Device, Unit, User, table
from . import changes
from .sessions import revoke_families
from .units import Scope


class Holder(NamedTuple):
    """What authenticating a token checks of its user and device, as stored now."""

    user_id: int
    username: str
    role: str
    active: bool
    token_version: int
    device_user_id: int | None  # None: no such device (or none named)
    device_revoked: bool


_U, _DV = table(User), table(Device)
# Built once with its keys bound: every authenticated request runs it, and building it and
# loading two ORM objects cost more than the query itself.
_HOLDER = (
    select(
        _U.c.id,
        _U.c.username,
        _U.c.role,
        _U.c.active,
        _U.c.token_version,
        _DV.c.user_id,
        _DV.c.revoked_at.is_not(None),
    )
    .select_from(_U.outerjoin(_DV, _DV.c.device_id == bindparam("device_id")))
    .where(_U.c.id == bindparam("user_id"))
)


def token_holder(user_id: int, device_id: str | None) -> Holder | None:
    """The user and (when given) their device as a token is checked against, in one query;
    None when the user is unknown."""
    row = db.session.execute(_HOLDER, {"user_id": user_id, "device_id": device_id}).first()
    return None if row is None else Holder(*row)


def get_user(username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def get_user_by_id(user_id: int) -> User | None:
    """The user as stored now (read again, also when this session has seen it before)."""
    return db.session.execute(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def insert_user(
    *, username: str, role: str, password_hash: str, full_name: str | None, now: datetime
) -> User:
    """A new active user with no units."""
    user = User(
        username=username,
        role=role,
        password_hash=password_hash,
        full_name=full_name,
        active=True,
        token_version=1,
        created_at=now,
        updated_at=now,
    )
    db.session.add(user)
    db.session.flush()
    return user


def open_assignments(user_id: int, units: Sequence[Unit], now: datetime) -> list[int]:
    """Open an assignment of the user to each unit; the new assignments' ids."""
    assignments = [Assignment(user_id=user_id, unit_id=unit.id, starts_at=now) for unit in units]
    db.session.add_all(assignments)
    db.session.flush()
    return [a.id for a in assignments]


class NewUser(NamedTuple):
    """A user for ``insert_users``: what ``insert_user`` takes, as one row."""

    username: str
    role: str
    password_hash: str
    full_name: str | None


def insert_users(rows: Sequence[NewUser], now: datetime) -> list[User]:
    """New active users with no units, as ``insert_user`` makes them, added together and
    flushed once (multi-row INSERTs, not a round trip per user); the users, in the order
    given, with their ids."""
    users = [
        User(
            username=row.username,
            role=row.role,
            password_hash=row.password_hash,
            full_name=row.full_name,
            active=True,
            token_version=1,
            created_at=now,
            updated_at=now,
        )
        for row in rows
    ]
    db.session.add_all(users)
    db.session.flush()
    return users


def open_assignments_many(pairs: Sequence[tuple[int, int]], now: datetime) -> list[int]:
    """Open an assignment for each (user id, unit id), flushed once; the new assignments'
    ids, in the order given."""
    assignments = [
        Assignment(user_id=user_id, unit_id=unit_id, starts_at=now) for user_id, unit_id in pairs
    ]
    db.session.add_all(assignments)
    db.session.flush()
    return [a.id for a in assignments]


def create_user(
    *,
    username: str,
    role: str,
    password_hash: str,
    full_name: str | None,
    units: Sequence[Unit],
    now: datetime,
) -> User:
    """Seed a user with their units and stamp the assignments (tests and the demo loader;
    operations use ``insert_user`` and ``open_assignments`` inside ``run_write``)."""
    user = insert_user(
        username=username, role=role, password_hash=password_hash, full_name=full_name, now=now
    )
    changes.stamp({"assignment": open_assignments(user.id, units, now)})
    return user


def _open_assignment(user_id: int, now: datetime) -> ColumnElement[bool]:
    return and_(
        Assignment.user_id == user_id,
        or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
    )


def current_units(user_ids: Iterable[int], now: datetime) -> dict[int, list[Unit]]:
    """user id -> units of their open assignments, in one query."""
    ids = list(user_ids)
    result: dict[int, list[Unit]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(Assignment.user_id, Unit)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(
            Assignment.user_id.in_(ids),
            or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
        )
        .order_by(Assignment.user_id, Unit.scheme, Unit.code)
    )
    for user_id, unit in rows:
        if all(u.id != unit.id for u in result[user_id]):
            result[user_id].append(unit)
    return result


def assign(user: User, unit: Unit, now: datetime) -> list[int]:
    """Open an assignment unless one is open; the id of the new one (none when it was open)."""
    existing = db.session.execute(
        select(Assignment.id).where(_open_assignment(user.id, now), Assignment.unit_id == unit.id)
    ).first()
    if existing:
        return []
    assignment = Assignment(user_id=user.id, unit_id=unit.id, starts_at=now)
    db.session.add(assignment)
    db.session.flush()
    _claims_changed(user, now)
    return [assignment.id]


def unassign(user: User, unit: Unit, now: datetime) -> list[int]:
    """End the open assignment to the unit (kept, for the grace period); the ids ended."""
    ended = list(
        db.session.execute(
            update(Assignment)
            .where(_open_assignment(user.id, now), Assignment.unit_id == unit.id)
            .values(ends_at=now, version=Assignment.version + 1)
            .returning(Assignment.id)
        ).scalars()
    )
    if ended:
        _claims_changed(user, now)
    return ended


def set_units(user: User, units: Sequence[Unit], now: datetime) -> list[int]:
    """Make the open assignments exactly ``units``; the ids of the assignments changed."""
    current = {u.id: u for u in current_units([user.id], now)[user.id]}
    wanted = {u.id: u for u in units}
    changed: list[int] = []
    for unit_id, unit in current.items():
        if unit_id not in wanted:
            changed += unassign(user, unit, now)
    for unit_id, unit in wanted.items():
        if unit_id not in current:
            changed += assign(user, unit, now)
    return changed


def _claims_changed(user: User, now: datetime) -> None:
    user.token_version += 1
    user.updated_at = now


def set_full_name(user: User, full_name: str | None, now: datetime) -> bool:
    """True when the name changed."""
    if user.full_name == full_name:
        return False
    user.full_name = full_name
    user.updated_at = now
    return True


def set_active(user: User, active: bool, now: datetime) -> bool:
    if user.active == active:
        return False
    user.active = active
    user.updated_at = now
    if not active:
        revoke_families("user_deactivated", now, user_id=user.id)
    return True


def set_password_hash(user: User, password_hash: str, now: datetime) -> None:
    user.password_hash = password_hash
    user.updated_at = now
    revoke_families("password_changed", now, user_id=user.id)


def list_users(
    *,
    scope: Scope,
    roles: Sequence[str] | None,
    unit: Unit | None,
    after_id: int,
    limit: int,
    now: datetime,
    reach_since: datetime,
) -> tuple[list[User], bool]:
    """A page of users ordered by id. Outside admin scope only users with an open assignment
    inside the scope, and no assignment outside it that is open or ended after
    ``reach_since`` (the grace period), are listed: a supervisor sees the canvassers who
    work in their wards and nowhere else."""
    query = select(User).where(User.id > after_id)
    if roles:
        query = query.where(User.role.in_(roles))
    unit_filters = []
    if unit is not None:
        unit_filters.append(Unit.path.startswith(unit.path))
    if not scope.everything:
        in_scope = or_(*[Unit.path.startswith(p) for _, p in scope.roots] or [false()])
        unit_filters.append(in_scope)
        elsewhere = (
            select(Assignment.user_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(
                or_(Assignment.ends_at.is_(None), Assignment.ends_at > reach_since),
                not_(in_scope),
            )
        )
        query = query.where(User.id.not_in(elsewhere))
    if unit_filters:
        in_units = (
            select(Assignment.user_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(or_(Assignment.ends_at.is_(None), Assignment.ends_at > now), *unit_filters)
        )
        query = query.where(User.id.in_(in_units))
    rows = list(db.session.execute(query.order_by(User.id).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def all_users() -> list[User]:
    return list(db.session.execute(select(User).order_by(User.username)).scalars())
