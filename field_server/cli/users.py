"""field-server users: create, list, assign, unassign, deactivate, set-password, unlock.

The operator acts as an admin. Input goes through the same schemas and role rules as the
users API, and every change writes an audit row with the actor `cli:<system user>`.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from domain.roles import ROLES, password_errors, unit_errors
from schemas.users import UserCreateSchema

from ..auth.passwords import generate_password, hash_password
from ..models import Unit, User, utcnow
from ..store import audit, people
from ..store import units as unit_store
from ..store.engine import write_transaction


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _audit(action: str, target: str, details: dict[str, Any] | None = None) -> None:
    audit.record(
        action=action,
        actor=_actor(),
        target=target,
        client_address=None,
        at=utcnow(),
        details=details,
    )


def _user(username: str) -> User:
    user = people.get_user(username)
    if user is None:
        _fail(f"no user named {username!r}")
    return user  # type: ignore[return-value]


def _units(refs: tuple[str, ...]) -> list[Unit]:
    found = unit_store.units_by_refs(list(refs))
    missing = [r for r in refs if r not in found]
    if missing:
        _fail(f"unknown unit(s): {', '.join(missing)} (use SCHEME:CODE, e.g. gso-2020:12019)")
    return [found[r] for r in dict.fromkeys(refs)]


def _check_role_units(role: str, units: list[Unit]) -> None:
    problems = unit_errors(role, [(u.ref, u.level) for u in units])
    if problems:
        _fail(" ".join(problems))


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    problems = password_errors(password)
    if problems:
        _fail(" ".join(problems))
    return password


@click.group("users")
def users() -> None:
    """Manage user accounts and their units."""


unit_option = click.option(
    "--unit",
    "units",
    multiple=True,
    metavar="SCHEME:CODE",
    help="A unit (repeat for several).",
)


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The user's role.")
@unit_option
@click.option("--full-name", default=None, help="The person's name, shown to supervisors.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create(
    username: str,
    role: str,
    units: tuple[str, ...],
    full_name: str | None,
    password_stdin: bool,
) -> None:
    """Create a user; canvassers get their units as assignments.

    Without --password-stdin a password is generated and printed once.
    """
    try:
        UserCreateSchema().load(
            {"username": username, "role": role, "units": list(units), "full_name": full_name}
        )
    except ValidationError as exc:
        _fail("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages.items()))
    password = _read_password() if password_stdin else generate_password()
    password_hash = hash_password(password)
    with write_transaction():
        found = _units(units)
        _check_role_units(role, found)
        if people.get_user(username) is not None:
            _fail(f"the username {username!r} is already taken")
        people.create_user(
            username=username,
            role=role,
            password_hash=password_hash,
            full_name=full_name,
            units=found,
            now=utcnow(),
        )
        _audit("user.create", username, {"role": role, "units": list(units)})
    click.echo(f"Created {role} {username}" + (f" for {', '.join(units)}" if units else ""))
    if not password_stdin:
        click.echo(f"Password (shown once): {password}")


@users.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Only this role.")
@click.option("--unit", default=None, metavar="SCHEME:CODE", help="Only users in this unit.")
@with_appcontext
def list_(role: str | None, unit: str | None) -> None:
    """List users: username, role, active, units."""
    now = utcnow()
    rows = people.all_users()
    units = people.current_units([u.id for u in rows], now)
    only = _units((unit,))[0] if unit else None
    for user in rows:
        mine = units[user.id]
        if role and user.role != role:
            continue
        if only and not any(u.path.startswith(only.path) for u in mine):
            continue
        state = "active" if user.active else "inactive"
        refs = ",".join(u.ref for u in mine) or "-"
        click.echo(f"{user.username}\t{user.role}\t{state}\t{refs}")


@users.command("assign")
@click.argument("username")
@unit_option
@with_appcontext
def assign(username: str, units: tuple[str, ...]) -> None:
    """Give a user one more unit (or several)."""
    if not units:
        _fail("give at least one --unit")
    with write_transaction():
        user = _user(username)
        found = _units(units)
        now = utcnow()
        current = people.current_units([user.id], now)[user.id]
        _check_role_units(user.role, current + found)
        changed = [u.ref for u in found if people.assign(user, u, now)]
        if changed:
            _audit("user.assign", username, {"units": changed})
    click.echo(f"Assigned {username} to {', '.join(changed)}" if changed else "Nothing changed")


@users.command("unassign")
@click.argument("username")
@unit_option
@with_appcontext
def unassign(username: str, units: tuple[str, ...]) -> None:
    """End a user's assignment to a unit (the grace period counts from now)."""
    if not units:
        _fail("give at least one --unit")
    with write_transaction():
        user = _user(username)
        now = utcnow()
        changed = [u.ref for u in _units(units) if people.unassign(user, u, now)]
        if changed:
            _audit("user.unassign", username, {"units": changed})
    click.echo(f"Unassigned {username} from {', '.join(changed)}" if changed else "Nothing changed")


@users.command("deactivate")
@click.argument("username")
@with_appcontext
def deactivate(username: str) -> None:
    """Deactivate a user: their tokens stop working and their sessions are revoked."""
    with write_transaction():
        user = _user(username)
        changed = people.set_active(user, False, utcnow())
        if changed:
            _audit("user.update", username, {"active": False})
    click.echo(f"Deactivated {username}" if changed else f"{username} was already inactive")


@users.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help="Read the password from standard input (required).",
)
@with_appcontext
def set_password(username: str, password_stdin: bool) -> None:
    """Set a user's password (read from standard input); their sessions are revoked."""
    password_hash = hash_password(_read_password())
    with write_transaction():
        user = _user(username)
        people.set_password_hash(user, password_hash, utcnow())
        _audit("user.password_set", username)
    click.echo(f"Password of {username} changed")


@users.command("unlock")
@click.argument("username")
@with_appcontext
def unlock(username: str) -> None:
    """Clear a username's failed-login counter so it may log in again at once."""
    from ..store.logins import clear_failures

    with write_transaction():
        cleared = clear_failures(username)
        _audit("user.unlock", username, {"cleared": cleared})
    click.echo(f"Cleared {cleared} failed login(s) of {username}")
