"""`field-server purge --older-than DAYS [--dry-run]`: remove the personal data of records
whose last activity is older than DAYS (services/purge.py; docs/cli.md, docs/operations.md
"Personal data"). Figures are left as they were."""

from __future__ import annotations

import getpass

import click
from flask.cli import with_appcontext

from ..clock import utcnow
from ..services import purge as purge_service
from ..services.context import Caller

PROGRESS_EVERY = 50_000  # households looked at between two progress lines

LABELS = {
    "households": "households",
    "visits": "visits",
    "revisions": "revisions",
    "conflicts": "conflicts",
    "rejections": "rejected payloads",
    "audit_rows": "audit rows",
}


def _caller() -> Caller:
    try:
        return Caller.operator(f"cli:{getpass.getuser()}")
    except (KeyError, OSError):
        return Caller.operator("cli")


def _progress() -> purge_service.Progress:
    """A line on stderr every PROGRESS_EVERY households looked at (a province's purge
    walks millions)."""
    shown = [0]

    def report(looked: int, purged: int) -> None:
        if looked - shown[0] >= PROGRESS_EVERY:
            shown[0] = looked
            click.echo(f"  {looked:,} households looked at, {purged:,} purged", err=True)

    return report


@click.command("purge")
@click.option(
    "--older-than",
    "days",
    required=True,
    metavar="DAYS",
    type=click.IntRange(1, purge_service.MAX_DAYS),
    help="Purge records whose last activity is more than DAYS days old (1 to 36500).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be purged; change nothing.")
@with_appcontext
def purge(days: int, dry_run: bool) -> None:
    """Remove names, phones, addresses, positions and free texts of households (and their
    visits) inactive for more than DAYS days, keeping every figure."""
    click.echo(f"Looking for records inactive for more than {days} days...", err=True)
    result = purge_service.purge_personal_data(
        _caller(), older_than_days=days, now=utcnow(), dry_run=dry_run, progress=_progress()
    )
    counts = ", ".join(f"{result.counts[key]:,} {label}" for key, label in LABELS.items())
    since = result.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    if dry_run:
        click.echo(f"Dry run: would purge personal data inactive since {since}: {counts}.")
    else:
        click.echo(f"Purged personal data inactive since {since}: {counts}.")
