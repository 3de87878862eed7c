"""`field-server stats verify [--unit]` and `stats rebuild`: recount the figures from the
visits (and the units' adult populations from the tree) and report (or repair) any
difference with what the server keeps, through services/stats.py."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

import click
from flask.cli import with_appcontext

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..services import stats as stats_service
from ..services.context import Caller

MAX_SHOWN = 20
PROGRESS_EVERY = 100_000  # visits between two progress lines


def _caller() -> Caller:
    try:
        return Caller.operator(f"cli:{getpass.getuser()}")
    except (KeyError, OSError):
        return Caller.operator("cli")


def _progress() -> Callable[[int, int], None]:
    """A progress line on stderr every PROGRESS_EVERY visits read (a recount of a province
    takes minutes)."""
    shown = [0]

    def report(households: int, visits: int) -> None:
        if visits - shown[0] >= PROGRESS_EVERY:
            shown[0] = visits
            click.echo(f"  {households:,} households, {visits:,} visits read", err=True)

    return report


@click.group("stats")
def stats() -> None:
    """Check or repair the coverage figures against a full recount from the visits."""


@stats.command("verify")
@click.option("--unit", "unit_ref", metavar="SCHEME:CODE", help="Only this unit and below.")
@with_appcontext
def verify(unit_ref: str | None) -> None:
    """Recount the figures from the visits and report every difference (exit 1 if any)."""
    click.echo("Recounting the figures from the visits...", err=True)
    try:
        result = stats_service.verify_figures(
            _caller(), unit_ref, settings=current_settings(), progress=_progress()
        )
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        click.echo(f"Error: no unit {unit_ref}.", err=True)
        sys.exit(2)
    for found in result.differences[:MAX_SHOWN]:
        where = f"{result.names.get(found.unit_id, found.unit_id)} {found.day or '(undated)'}"
        click.echo(f"{where}: {found.figure} is {found.stored}, the visits give {found.expected}")
    if len(result.differences) > MAX_SHOWN:
        click.echo(f"... and {len(result.differences) - MAX_SHOWN} more differences")
    for household_id in result.households[:MAX_SHOWN]:
        click.echo(f"household {household_id}: its counters differ from its visits")
    for wrong in result.populations[:MAX_SHOWN]:
        click.echo(
            f"{result.names.get(wrong.unit_id, wrong.unit_id)}: adult population is "
            f"{_population(wrong.stored)}, its units give {_population(wrong.expected)}"
        )
    if not result.agrees:
        populations = (
            f", {len(result.populations)} unit population(s)" if result.populations else ""
        )
        click.echo(
            f"{len(result.differences)} figure(s){populations} and {len(result.households)} "
            "household(s) differ; `field-server stats rebuild` repairs them.",
            err=True,
        )
        sys.exit(1)
    click.echo("The figures equal a full recount from the visits.")


@stats.command("rebuild")
@with_appcontext
def rebuild() -> None:
    """Recount every figure from the visits and replace the stored counters."""
    click.echo("Recounting the figures from the visits...", err=True)
    result = stats_service.rebuild_figures(
        _caller(), now=utcnow(), settings=current_settings(), progress=_progress()
    )
    click.echo(
        f"Rebuilt the figures: {result.counters} counter(s), "
        f"{result.populations} unit population(s) and "
        f"{result.households} household(s) repaired."
    )


def _population(value: int | None) -> str:
    return "unknown" if value is None else str(value)
