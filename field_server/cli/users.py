"""field-server users: create, list, assign, unassign, deactivate, set-password, unlock.

The operator acts as an admin, through the same operations as the users API
(services/users.py, services/sessions.py): the same schemas and role rules, and every change
writes an audit row with the actor `cli:<system user>`.
"""

from __future__ import annotations

import getpass
import sys
from typing import NoReturn

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from domain.roles import ROLES
from schemas.users import UserCreateSchema

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..services import sessions
from ..services import users as accounts  # `users` is the command group here
from ..services.context import Caller


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _operator() -> Caller:
    return Caller.operator(_actor())


def _refused(exc: ApiError, username: str) -> NoReturn:
    """Say in one line why an operation refused, as the command line always has."""
    if isinstance(exc, accounts.UnknownUnits):
        _fail(f"unknown unit(s): {', '.join(exc.refs)} (use SCHEME:CODE, e.g. gso-2020:12019)")
    if isinstance(exc, accounts.UsernameTaken):
        _fail(f"the username {username!r} is already taken")
    if exc.code == "not_found":
        _fail(f"no user named {username!r}")
    problems = [str(m) for messages in exc.errors.values() for m in messages]
    _fail(" ".join(problems) or exc.code)


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


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
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        _fail("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in messages.items()))
    try:
        created = accounts.create_user(
            _operator(),
            username=username,
            role=role,
            units=list(units),
            full_name=full_name,
            now=utcnow(),
            settings=current_settings(),
            password=_read_password() if password_stdin else None,
        )
    except ApiError as exc:
        _refused(exc, username)
    click.echo(f"Created {role} {username}" + (f" for {', '.join(units)}" if units else ""))
    if not password_stdin:
        click.echo(f"Password (shown once): {created.password}")


@users.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Only this role.")
@click.option("--unit", default=None, metavar="SCHEME:CODE", help="Only users in this unit.")
@with_appcontext
def list_(role: str | None, unit: str | None) -> None:
    """List users: username, role, active, units."""
    try:
        rows = accounts.all_users(_operator(), role=role, unit=unit, now=utcnow())
    except ApiError as exc:
        _refused(exc, "")
    for user in rows:
        state = "active" if user.active else "inactive"
        refs = ",".join(u.ref for u in user.units) or "-"
        click.echo(f"{user.username}\t{user.role}\t{state}\t{refs}")


@users.command("assign")
@click.argument("username")
@unit_option
@with_appcontext
def assign(username: str, units: tuple[str, ...]) -> None:
    """Give a user one more unit (or several)."""
    if not units:
        _fail("give at least one --unit")
    try:
        changed = accounts.assign_units(_operator(), username, list(units), now=utcnow())
    except ApiError as exc:
        _refused(exc, username)
    click.echo(f"Assigned {username} to {', '.join(changed)}" if changed else "Nothing changed")


@users.command("unassign")
@click.argument("username")
@unit_option
@with_appcontext
def unassign(username: str, units: tuple[str, ...]) -> None:
    """End a user's assignment to a unit (the grace period counts from now)."""
    if not units:
        _fail("give at least one --unit")
    try:
        changed = accounts.unassign_units(_operator(), username, list(units), now=utcnow())
    except ApiError as exc:
        _refused(exc, username)
    click.echo(f"Unassigned {username} from {', '.join(changed)}" if changed else "Nothing changed")


@users.command("deactivate")
@click.argument("username")
@with_appcontext
def deactivate(username: str) -> None:
    """Deactivate a user: their tokens stop working and their sessions are revoked."""
    try:
        updated = accounts.update_user(_operator(), username, active=False, now=utcnow())
    except ApiError as exc:
        _refused(exc, username)
    click.echo(f"Deactivated {username}" if updated.changes else f"{username} was already inactive")


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
    try:
        accounts.set_password(
            _operator(), username, _read_password(), now=utcnow(), settings=current_settings()
        )
    except ApiError as exc:
        _refused(exc, username)
    click.echo(f"Password of {username} changed")


@users.command("unlock")
@click.argument("username")
@with_appcontext
def unlock(username: str) -> None:
    """Clear a username's failed-login counter so it may log in again at once."""
    cleared = sessions.unlock(_operator(), username, now=utcnow())
    click.echo(f"Cleared {cleared} failed login(s) of {username}")
