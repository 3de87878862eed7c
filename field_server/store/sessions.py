"""Refresh families and tokens, and devices as sessions see them.

A login opens a family (bound to the device, or to none) with its first token; each refresh
rotates to a new token of the same family; revoking the family ends every token in it.
Rows that a concurrent request may change are read ``FOR UPDATE`` on PostgreSQL (SQLite's
``BEGIN IMMEDIATE`` already serialises writers), so two rotations of one token, or a login
racing a revocation, are decided one after the other. Functions run in the caller's
transaction: operations write through ``services.writes.run_write``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, false, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Assignment, Device, RefreshFamily, RefreshToken, Unit, User


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE matched (execute() is typed as returning a plain Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _insert(model: type) -> sqlite.Insert | postgresql.Insert:
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


# --- devices -------------------------------------------------------------------------------


def device_for_login(
    device_id: str,
    user_id: int,
    name: str | None,
    now: datetime,
    *,
    secret_hash: str | None = None,
) -> Device:
    """The device row, created for this user when new, and locked for the rest of the
    transaction. ON CONFLICT DO NOTHING makes two first logins of one tablet agree on one row
    instead of one of them failing on the primary key."""
    db.session.execute(
        _insert(Device)
        .values(
            device_id=device_id,
            user_id=user_id,
            name=name,
            secret_hash=secret_hash,
            last_mutation_id=0,
            created_at=now,
            last_seen_at=None,
        )
        .on_conflict_do_nothing(index_elements=["device_id"])
    )
    return db.session.execute(
        select(Device)
        .where(Device.device_id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


class NewDevice(NamedTuple):
    """A device for ``insert_devices``: the fields ``device_for_login`` writes."""

    device_id: str
    user_id: int
    name: str | None
    secret_hash: str | None


def insert_devices(rows: Sequence[NewDevice], now: datetime) -> None:
    """New devices, as a first login makes them (``device_for_login``), added together and
    flushed once (multi-row INSERTs, not a round trip per device). The ids must be new:
    a device already stored fails the flush rather than being taken over."""
    db.session.add_all(
        [
            Device(
                device_id=row.device_id,
                user_id=row.user_id,
                name=row.name,
                secret_hash=row.secret_hash,
                last_mutation_id=0,
                created_at=now,
                last_seen_at=None,
            )
            for row in rows
        ]
    )
    db.session.flush()


def take_over_device(device: Device, user_id: int, now: datetime) -> int:
    """A shared tablet passes to another user: its mutation numbering goes on, and the
    previous owner's sessions on it end. Returns how many sessions ended."""
    ended = revoke_families(
        "device_reassigned", now, device_id=device.device_id, except_user_id=user_id
    )
    device.user_id = user_id
    return ended


def note_device_seen(device: Device, now: datetime, name: str | None = None) -> None:
    """A login or refresh from the device: seen now; a name given replaces the stored one."""
    if name:
        device.name = name
    device.last_seen_at = now


def get_device(device_id: str, *, for_update: bool = False) -> Device | None:
    query = select(Device).where(Device.device_id == device_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


def device_with_owner(device_id: str, *, for_update: bool = False) -> tuple[Device, User] | None:
    query = (
        select(Device, User)
        .join(User, User.id == Device.user_id)
        .where(Device.device_id == device_id)
    )
    if for_update:
        query = query.with_for_update(of=Device).execution_options(populate_existing=True)
    row = db.session.execute(query).first()
    return (row[0], row[1]) if row else None


def _open_assignment_under(roots: Sequence[str], now: datetime) -> Select[Any]:
    """User ids with an open assignment at or below one of the unit paths."""
    return (
        select(Assignment.user_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(
            or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
            or_(*[Unit.path.startswith(path) for path in roots]) if roots else false(),
        )
    )


def owner_in_units(user_id: int, roots: Sequence[str], now: datetime) -> bool:
    """True when the user has an open assignment at or below one of the unit paths."""
    found = db.session.execute(
        _open_assignment_under(roots, now).where(Assignment.user_id == user_id).limit(1)
    ).first()
    return found is not None


def list_devices(
    *, roots: Sequence[str] | None, after_id: str, limit: int, now: datetime
) -> tuple[list[tuple[Device, str]], bool]:
    """A page of (device, owner's username) ordered by device id. ``roots`` None lists every
    device; otherwise those whose owner has an open assignment at or below one of them."""
    query = (
        select(Device, User.username)
        .join(User, User.id == Device.user_id)
        .where(Device.device_id > after_id)
    )
    if roots is not None:
        query = query.where(Device.user_id.in_(_open_assignment_under(roots, now)))
    rows = [
        (row[0], row[1])
        for row in db.session.execute(query.order_by(Device.device_id).limit(limit + 1))
    ]
    return rows[:limit], len(rows) > limit


def revoke_device(device: Device, by_user_id: int | None, now: datetime) -> int:
    """Mark the device revoked and end every refresh family bound to it, whoever owns them;
    returns the number of families ended. ``by_user_id`` is None when an operator revokes it
    from the command line."""
    device.revoked_at = now
    device.revoked_by = by_user_id
    db.session.flush()
    return revoke_families("device_revoked", now, device_id=device.device_id)


def revoke_families(
    reason: str,
    now: datetime,
    *,
    user_id: int | None = None,
    device_id: str | None = None,
    except_user_id: int | None = None,
) -> int:
    """End the open refresh families of a user and/or a device; returns how many ended."""
    if user_id is None and device_id is None:
        raise ValueError("name a user or a device")
    query = update(RefreshFamily).where(RefreshFamily.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(RefreshFamily.user_id == user_id)
    if device_id is not None:
        query = query.where(RefreshFamily.device_id == device_id)
    if except_user_id is not None:
        query = query.where(RefreshFamily.user_id != except_user_id)
    result = db.session.execute(query.values(revoked_at=now, revoked_reason=reason))
    return rowcount(result)


# --- families and tokens -------------------------------------------------------------------


def open_family(user_id: int, device_id: str | None, now: datetime) -> RefreshFamily:
    family = RefreshFamily(
        id=str(uuid.uuid4()), user_id=user_id, device_id=device_id, created_at=now
    )
    db.session.add(family)
    db.session.flush()
    return family


def issue_token(
    family_id: str, *, issued_at: datetime, expires_at: datetime, access_jti: str
) -> RefreshToken:
    token = RefreshToken(
        id=str(uuid.uuid4()),
        family_id=family_id,
        issued_at=issued_at,
        expires_at=expires_at,
        access_jti=access_jti,
    )
    db.session.add(token)
    db.session.flush()
    return token


def token_for_update(token_id: str) -> RefreshToken | None:
    """The token, locked, so a concurrent rotation of it waits and then sees this one's."""
    return db.session.execute(
        select(RefreshToken)
        .where(RefreshToken.id == token_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def get_token(token_id: str) -> RefreshToken | None:
    return db.session.get(RefreshToken, token_id)


def family_context(family_id: str) -> tuple[RefreshFamily, User, Device | None]:
    """The family with its user and device (None when the family has no device)."""
    row = db.session.execute(
        select(RefreshFamily, User, Device)
        .join(User, User.id == RefreshFamily.user_id)
        .outerjoin(Device, Device.device_id == RefreshFamily.device_id)
        .where(RefreshFamily.id == family_id)
        .execution_options(populate_existing=True)
    ).one()
    return row[0], row[1], row[2]


def mark_rotated(token: RefreshToken, successor_id: str, now: datetime, address: str) -> None:
    token.rotated_at = now
    token.rotated_from_address = address[:64]
    token.replaced_by = successor_id
    db.session.flush()


def revoke_family(family_id: str, reason: str, now: datetime) -> bool:
    """End the family unless it has ended already; True when this call ended it."""
    result = db.session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.id == family_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return rowcount(result) > 0


def family_of_access_token(user_id: int, access_jti: str) -> str | None:
    """The family whose token pair includes the access token with this jti (of this user)."""
    return db.session.execute(
        select(RefreshToken.family_id)
        .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
        .where(and_(RefreshFamily.user_id == user_id, RefreshToken.access_jti == access_jti))
        .limit(1)
    ).scalar_one_or_none()


def family_owner(family_id: str) -> int | None:
    return db.session.execute(
        select(RefreshFamily.user_id).where(RefreshFamily.id == family_id)
    ).scalar_one_or_none()
