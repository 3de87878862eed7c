"""The demo's set-up (`field-server demo`): a units file and one user per role, loaded into
an empty database through the same operations as `units import` and `users create`
(services/units.py, services/users.py), in one transaction, so the demo leaves the rows
and audit rows those leave. Everything after (tablets syncing, the supervisor's day) goes
through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.geography import ParsedFile
from domain.roles import unit_errors

from ..store import people
from ..store import units as unit_store
from ..store.unit_import import count_units
from . import units as unit_service
from . import users as user_service
from .context import Caller, Settings
from .writes import Write, run_write


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    full_name: str
    units: tuple[str, ...]  # scheme:code


@dataclass(frozen=True)
class DemoLoaded:
    units_created: int
    passwords: dict[str, str]  # username -> the generated password, shown once


class DemoRefused(Exception):
    """The demo cannot run: the database is not empty (the message says what it holds)."""


def database_contents() -> tuple[int, int]:
    """(units, users) already stored."""
    return count_units(), len(people.all_users())


def _refusal() -> DemoRefused | None:
    units, users = database_contents()
    if units or users:
        return DemoRefused(f"the database already holds {units} unit(s) and {users} user(s)")
    return None


# Rows written per flush by the demo at scale: one multi-row INSERT each, not one per row.
CHUNK = 2000


def _create_many(
    write: Write,
    users: Sequence[DemoUser],
    password: str,
    password_hash: str,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> dict[str, str]:
    """The users of the demo at scale, tens of thousands: the rows, assignments and audit
    rows ``users.create_user`` writes (the units checked by the same rule), written a chunk
    at a time (store/people.py ``insert_users``, ``open_assignments_many``): multi-row
    INSERTs instead of a round trip per user (minutes for the country on PostgreSQL); the
    usernames are new, since the database held no user. The assignments are stamped once,
    with the transaction."""
    refs = sorted({ref for user in users for ref in user.units})
    units = {}
    for start in range(0, len(refs), 5000):
        units.update(unit_store.units_by_refs(refs[start : start + 5000]))
    missing = [ref for ref in refs if ref not in units]
    if missing:
        raise user_service.UnknownUnits(missing)
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        for user in chunk:
            problems = unit_errors(user.role, [(units[r].ref, units[r].level) for r in user.units])
            if problems:
                raise ValueError(f"{user.username}: {problems}")
        rows = people.insert_users(
            [
                people.NewUser(user.username, user.role, password_hash, user.full_name)
                for user in chunk
            ],
            now,
        )
        assignment_ids = people.open_assignments_many(
            [
                (row.id, units[ref].id)
                for row, user in zip(rows, chunk, strict=True)
                for ref in user.units
            ],
            now,
        )
        write.touch("assignment", assignment_ids)
        for user in chunk:
            details = {"role": user.role, "units": list(user.units)}
            write.audit("user.create", user.username, details)
        if progress is not None:
            progress(start + len(chunk))
    return dict.fromkeys((user.username for user in users), password)


def load_demo(
    caller: Caller,
    parsed: ParsedFile,
    users: Sequence[DemoUser],
    *,
    now: datetime,
    settings: Settings,
    shared_password: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoLoaded:
    """Import the units, then create the users with generated passwords, all in one
    transaction (the operations join it: services/writes.py); refused (``DemoRefused``)
    when the database already holds a unit or a user, so the demo never mixes with real
    data, and a failure part-way leaves nothing behind.

    With ``shared_password`` every user gets that one password, hashed once: the demo at
    scale creates tens of thousands, and argon2 is slow on purpose (a hash each would take
    most of an hour). ``progress`` is told how many users exist so far."""
    # Hashed before the write lock is taken: argon2 is slow on purpose.
    shared_hash = settings.hasher.hash(shared_password) if shared_password is not None else None

    def load(write: Write) -> DemoLoaded:
        refused = _refusal()
        if refused is not None:
            raise refused
        counts = unit_service.import_units(
            caller, parsed, ward_target_rate=settings.target_rate, now=now
        )
        if shared_hash is not None and shared_password is not None:
            passwords = _create_many(write, users, shared_password, shared_hash, now, progress)
            return DemoLoaded(units_created=counts.created, passwords=passwords)
        passwords = {}
        for user in users:
            created = user_service.create_user(
                caller,
                username=user.username,
                role=user.role,
                units=list(user.units),
                full_name=user.full_name,
                now=now,
                settings=settings,
            )
            passwords[user.username] = created.password
        return DemoLoaded(units_created=counts.created, passwords=passwords)

    return run_write(caller, now, load, timezone=settings.timezone)
