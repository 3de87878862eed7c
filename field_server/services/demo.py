"""The demo's set-up (`field-server demo`): a units file and one user per role, loaded into
an empty database through the same operations as `units import` and `users create`
(services/units.py, services/users.py), in one transaction, so the demo leaves the rows
and audit rows those leave. Everything after (tablets syncing, the supervisor's day) goes
through the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.geography import ParsedFile

from ..store import people
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


def load_demo(
    caller: Caller,
    parsed: ParsedFile,
    users: Sequence[DemoUser],
    *,
    now: datetime,
    settings: Settings,
) -> DemoLoaded:
    """Import the units, then create the users with generated passwords, all in one
    transaction (the operations join it: services/writes.py); refused (``DemoRefused``)
    when the database already holds a unit or a user, so the demo never mixes with real
    data, and a failure part-way leaves nothing behind."""

    def load(write: Write) -> DemoLoaded:
        refused = _refusal()
        if refused is not None:
            raise refused
        counts = unit_service.import_units(
            caller, parsed, ward_target_rate=settings.target_rate, now=now
        )
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
