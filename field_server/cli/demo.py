"""`field-server demo [--if-empty] [--no-hint]`: a real district to try the server with.

Loads Văn Giang district (Hưng Yên province) under scheme ``gso-2020`` from the CSV shipped
in ``field_server/demo_data/`` and creates one demo user per role, through the operations of
`units import` and `users create` (services/demo.py), then writes their generated passwords
to ``INSTANCE/demo-credentials.txt`` (mode 0600). Province, district and ward codes and
names are the real 2020 GSO ones; residential groups (codes ``<ward>-NN``) and every adult
population are made-up demo values, not census counts.

The run is a list of steps (``STEPS``) sharing a ``DemoContext``: after the units and users,
simulated tablets sync a day of canvassing and the supervisor reviews it, both through the
real API (demo_tablets.py, demo_supervisor.py). This module only parses, calls and prints.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from domain.geography import ImportRejected, decode_csv_bytes, parse_units_csv

from ..auth.scope import current_settings
from ..clock import utcnow
from ..services import demo as demo_service
from ..services.context import Caller
from ..services.demo import DemoRefused, DemoUser

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
UNITS_FILE = DEMO_DATA / "vangiang-gso-2020.csv"
CREDENTIALS_FILE = "demo-credentials.txt"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "admin", "Quản trị viên (demo)", ()),
    DemoUser("dt.vangiang", "district", "Cán bộ huyện Văn Giang (demo)", ("gso-2020:326",)),
    DemoUser("sv.vangiang", "supervisor", "Giám sát TT Văn Giang (demo)", ("gso-2020:12019",)),
    DemoUser(
        "sv.xuanquan",
        "supervisor",
        "Giám sát Xuân Quan - Cửu Cao (demo)",
        ("gso-2020:12022", "gso-2020:12025"),
    ),
    DemoUser("cv.vg.001", "canvasser", "Người vận động 1 (demo)", ("gso-2020:12019",)),
    DemoUser("cv.vg.002", "canvasser", "Người vận động 2 (demo)", ("gso-2020:12019-01",)),
    DemoUser("cv.vg.003", "canvasser", "Người vận động 3 (demo)", ("gso-2020:12019-02",)),
    DemoUser("cv.xq.001", "canvasser", "Người vận động 4 (demo)", ("gso-2020:12022",)),
    DemoUser("cv.cc.001", "canvasser", "Người vận động 5 (demo)", ("gso-2020:12025-01",)),
)


@dataclass
class DemoContext:
    """What the steps share: the app, the time of the run, the users and their generated
    passwords; ``echo`` says what was loaded, ``note`` shows progress (standard error)."""

    app: Flask
    now: datetime
    echo: Callable[[str], None]
    passwords: dict[str, str] = field(default_factory=dict)
    users: Sequence[DemoUser] = DEMO_USERS
    note: Callable[[str], None] = print


def operator() -> Caller:
    try:
        return Caller.operator(f"cli:{getpass.getuser()}")
    except (KeyError, OSError):
        return Caller.operator("cli")


def load_units_and_users(ctx: DemoContext) -> None:
    """The units, then the users, through the operations of `units import` and
    `users create` (services/demo.py); refused when the database is not empty."""
    parsed = parse_units_csv(decode_csv_bytes(UNITS_FILE.read_bytes()))
    loaded = demo_service.load_demo(
        operator(), parsed, DEMO_USERS, now=ctx.now, settings=current_settings()
    )
    ctx.passwords.update(loaded.passwords)
    ctx.echo(f"Units: {loaded.units_created} loaded from {UNITS_FILE.name} (scheme gso-2020)")
    for user in DEMO_USERS:
        where = ", ".join(user.units) or "everything"
        ctx.echo(f"User: {user.username} ({user.role}; {where})")


def write_credentials(ctx: DemoContext) -> None:
    """INSTANCE/demo-credentials.txt, mode 0600 from creation (never world-readable)."""
    path = Path(ctx.app.instance_path) / CREDENTIALS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# field-server demo users (demo data only). "
        "Columns: username<TAB>role<TAB>password<TAB>units",
    ]
    for user in ctx.users:
        units = ",".join(user.units) or "-"
        lines.append(f"{user.username}\t{user.role}\t{ctx.passwords[user.username]}\t{units}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT: force it
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    ctx.echo(f"Passwords: {path} (mode 0600)")


def canvass(ctx: DemoContext) -> None:
    """A day of canvassing: the demo tablets record visits and sync through the API."""
    from .demo_tablets import simulate_tablets

    simulate_tablets(ctx.app, ctx.passwords, ctx.echo)


def supervise(ctx: DemoContext) -> None:
    """The supervisor's end of the day: reviews, a correction, duplicates (through the API)."""
    from .demo_supervisor import supervise as supervise_ward

    supervise_ward(ctx.app, ctx.passwords, ctx.echo)


# Run in order. The tablet simulation (visits pushed through /api/v1/sync) comes after the
# units and users, and the supervisor's work after the tablets'.
STEPS: tuple[Callable[[DemoContext], None], ...] = (
    load_units_and_users,
    write_credentials,
    canvass,
    supervise,
)


def run_demo(app: Flask, echo: Callable[[str], None]) -> DemoContext:
    ctx = DemoContext(app=app, now=utcnow(), echo=echo)
    for step in STEPS:
        step(ctx)
    return ctx


SCALES = ("district", "province", "country")


@click.command("demo")
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default="district",
    show_default=True,
    help="district: Văn Giang, a day of canvassing through the API; province: one province "
    "(--province), country: all 10,767 wards, with generated campaigns pushed through "
    "the sync service.",
)
@click.option(
    "--visits",
    type=click.IntRange(min=0),
    default=None,
    help="Visits to generate at province or country scale (default 100,000 for a "
    "province, 1,000,000 for the country).",
)
@click.option(
    "--province",
    "province_code",
    metavar="CODE",
    default=None,
    help="The province's GSO code at province scale (default 33, Hưng Yên).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing (exit 0) when the database already holds units or users.",
)
@click.option(
    "--no-hint",
    is_flag=True,
    help="Leave out the closing hint to start the server (for scripts that start it next).",
)
@with_appcontext
def demo(
    scale: str, visits: int | None, province_code: str | None, if_empty: bool, no_hint: bool
) -> None:
    """Load a demo district (Văn Giang, Hưng Yên: real GSO 2020 codes, demo populations),
    one user per role, and write their passwords to INSTANCE/demo-credentials.txt; or, with
    --scale, a province or the whole country with a generated campaign."""
    if scale == "district" and (visits is not None or province_code is not None):
        raise click.UsageError("--visits and --province go with --scale province or country")
    if scale == "country" and province_code is not None:
        raise click.UsageError("--province goes with --scale province")
    if province_code is not None:
        from .demo_campaign import province_codes

        if province_code not in province_codes():
            raise click.BadParameter(
                f"{province_code!r} is not a province code of the GSO 2020 list (01 to 96)",
                param_hint="--province",
            )
    units, users = demo_service.database_contents()
    if units or users:
        held = f"the database already holds {units} unit(s) and {users} user(s)"
        if if_empty:
            click.echo(f"Demo not loaded: {held}.")
            return
        click.echo(
            f"Error: {held}; the demo needs a fresh database (point FIELD_DATABASE_URL at an "
            "empty one, or use --if-empty to skip).",
            err=True,
        )
        sys.exit(1)
    # The app itself, not the proxy (the demo runs past this context); Flask types
    # current_app as the app, so the proxy's method is unknown to the type checker.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    units_file = UNITS_FILE
    try:
        if scale == "district":
            click.echo("Loading the demo district Văn Giang (Hưng Yên)...")
            run_demo(app, click.echo)
        else:
            from .demo_campaign import GSO_UNITS_FILE
            from .demo_scale import run_scale

            units_file = GSO_UNITS_FILE
            ctx = DemoContext(
                app=app, now=utcnow(), echo=click.echo, note=lambda s: click.echo(s, err=True)
            )
            run_scale(ctx, scale=scale, province=province_code, visits=visits)
    except DemoRefused as exc:  # another process filled the database meanwhile
        if if_empty:
            click.echo(f"Demo not loaded: {exc}.")
            return
        click.echo(f"Error: {exc}; the demo needs a fresh database.", err=True)
        sys.exit(1)
    except ImportRejected as exc:  # a broken installation: the shipped CSV is bad
        for error in exc.errors:
            click.echo(error.format(str(units_file)), err=True)
        sys.exit(1)
    if no_hint:
        click.echo("Demo loaded.")
    else:
        click.echo("Demo loaded. Start the server with: field-server serve")
