"""`field-server stats verify [--unit]` and `stats rebuild`: recount the figures from the
visits and report (or repair) any difference with the counters the server keeps."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..models import Unit
from ..store import figures
from ..store.engine import write_transaction
from ..store.units import get_unit_by_ref

MAX_SHOWN = 20
PROGRESS_EVERY = 100_000  # visits between two progress lines


def _timezone() -> str:
    return str(current_app.config["TIMEZONE"])


def _progress() -> Callable[[int, int], None]:
    """A progress line on stderr every PROGRESS_EVERY visits read (a recount of a province
    takes minutes)."""
    shown = [0]

    def report(households: int, visits: int) -> None:
        if visits - shown[0] >= PROGRESS_EVERY:
            shown[0] = visits
            click.echo(f"  {households:,} households, {visits:,} visits read", err=True)

    return report


def _unit_names(ids: set[int]) -> dict[int, str]:
    rows = db.session.query(Unit.id, Unit.scheme, Unit.code).filter(Unit.id.in_(ids)).all()
    return {row.id: f"{row.scheme}:{row.code}" for row in rows}


def differences(
    expected: figures.Contributions, stored: figures.Contributions
) -> list[tuple[int, str | None, str, int, int]]:
    """(unit id, day or None, figure, stored, expected) for every counter that differs."""
    out = []
    for key in sorted(set(expected) | set(stored), key=lambda k: (k[0], k[1] or "")):
        want, have = expected.get(key, {}), stored.get(key, {})
        for name in sorted(set(want) | set(have)):
            if want.get(name, 0) != have.get(name, 0):
                out.append((key[0], key[1], name, have.get(name, 0), want.get(name, 0)))
    return out


@click.group("stats")
def stats() -> None:
    """Check or repair the coverage figures against a full recount from the visits."""


@stats.command("verify")
@click.option("--unit", "unit_ref", metavar="SCHEME:CODE", help="Only this unit and below.")
@with_appcontext
def verify(unit_ref: str | None) -> None:
    """Recount the figures from the visits and report every difference (exit 1 if any)."""
    root = None
    if unit_ref:
        root = get_unit_by_ref(unit_ref)
        if root is None:
            click.echo(f"Error: no unit {unit_ref}.", err=True)
            sys.exit(2)
    click.echo("Recounting the figures from the visits...", err=True)
    result = figures.recount(root, progress=_progress(), timezone=_timezone())
    found = differences(result.contributions, figures.stored(root))
    names = _unit_names({unit_id for unit_id, *_ in found})
    for unit_id, day, name, have, want in found[:MAX_SHOWN]:
        where = f"{names.get(unit_id, unit_id)} {day or '(undated)'}"
        click.echo(f"{where}: {name} is {have}, the visits give {want}")
    if len(found) > MAX_SHOWN:
        click.echo(f"... and {len(found) - MAX_SHOWN} more differences")
    wrong = result.household_counter_errors
    for household_id in wrong[:MAX_SHOWN]:
        click.echo(f"household {household_id}: its counters differ from its visits")
    if found or wrong:
        click.echo(
            f"{len(found)} figure(s) and {len(wrong)} household(s) differ; "
            "`field-server stats rebuild` repairs them.",
            err=True,
        )
        sys.exit(1)
    click.echo("The figures equal a full recount from the visits.")


@stats.command("rebuild")
@with_appcontext
def rebuild() -> None:
    """Recount every figure from the visits and replace the stored counters."""
    click.echo("Recounting the figures from the visits...", err=True)
    with write_transaction():
        before = figures.stored()
        result = figures.rebuild(progress=_progress(), timezone=_timezone())
    changed = differences(result.contributions, before)
    click.echo(
        f"Rebuilt the figures: {len(changed)} counter(s) and "
        f"{len(result.household_counter_errors)} household(s) repaired."
    )
