"""`field-server units import FILE.csv` and `units list`: load and show the geography.

A thin shell: the file is read and validated by ``domain.geography`` and written by the
units import operation (services/units.py) in one transaction, audited under the actor
``cli``. On a bad file every error is printed as ``FILE:LINE: column COLUMN: message`` on
stderr, the exit code is 1 and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from domain.geography import (
    LEVELS,
    MAX_ERRORS,
    ImportRejected,
    ParsedFile,
    decode_csv_bytes,
    parse_units_csv,
)

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..services import units as operations
from ..services.context import Caller
from ..services.units import ImportConflict, ImportCounts, StorageUnavailable

# The import's audit actor, as it has always been (not cli:<system user>).
ACTOR = "cli"


@click.group("units")
def units() -> None:
    """Load and list the units (provinces, districts, wards, residential groups)."""


def read_units_file(path: Path) -> ParsedFile:
    """Read and parse a units CSV file; raises ImportRejected (pure checks) or OSError."""
    return parse_units_csv(decode_csv_bytes(path.read_bytes()))


def report_rejection(filename: str, exc: ImportRejected) -> None:
    """Print each error as FILE:LINE: column COLUMN: message (stderr)."""
    for error in exc.errors:
        click.echo(error.format(filename), err=True)
    more = f" (only the first {MAX_ERRORS} are shown)" if exc.truncated else ""
    click.echo(
        f"Error: {filename}: {len(exc.errors)} problem(s){more}; nothing was imported.",
        err=True,
    )


def format_counts(counts: ImportCounts) -> str:
    return f"{counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged"


@units.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the file and print what would change, without writing anything.",
)
@with_appcontext
def import_command(file: Path, dry_run: bool) -> None:
    """Load or update units from FILE (CSV, UTF-8, header
    scheme,code,name,level,parent_code,adult_population,target_rate).

    Idempotent: importing the same file again changes nothing. Exit 1 on a bad file, with
    one line per problem naming the line and column; the database is then left as it was.
    """
    filename = str(file)
    try:
        parsed = read_units_file(file)
        counts = operations.import_units(
            Caller.operator(ACTOR),
            parsed,
            ward_target_rate=current_settings().target_rate,
            now=utcnow(),
            dry_run=dry_run,
        )
    except OSError as exc:
        click.echo(f"Error: cannot read {filename}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except ImportRejected as exc:
        report_rejection(filename, exc)
        sys.exit(1)
    except ImportConflict:
        click.echo(
            f"Error: {filename}: another import changed the same units at the same time; "
            "nothing was imported, run it again.",
            err=True,
        )
        sys.exit(1)
    except StorageUnavailable as exc:
        click.echo(
            f"Error: the database is unavailable ({exc.reason}); nothing was imported.", err=True
        )
        sys.exit(1)
    except ApiError as exc:
        # The write was retried after deadlocks until it gave up (storage_unavailable).
        click.echo(f"Error: the database is busy ({exc.code}); nothing was imported.", err=True)
        sys.exit(1)
    prefix = "Dry run, nothing written: would be " if dry_run else ""
    click.echo(f"{filename}: {prefix}{format_counts(counts)}")


@units.command("list")
@click.option("--scheme", default=None, help="Only units of this scheme (e.g. gso-2020).")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Only units of a level.")
@with_appcontext
def list_command(scheme: str | None, level: str | None) -> None:
    """Print the units as a tree: scheme:code, level, name, adult population, target rate
    (tab-separated; '-' for an unknown figure)."""
    rows = operations.unit_tree(scheme)
    for unit in rows:
        if level and unit.level != level:
            continue
        figures = [
            "-" if unit.adult_population is None else str(unit.adult_population),
            "-" if unit.target_rate is None else f"{unit.target_rate:g}",
        ]
        click.echo("\t".join(["  " * unit.depth + unit.ref, unit.level, unit.name, *figures]))
    if not rows:
        click.echo("No units." if not scheme else f"No units in scheme {scheme}.", err=True)
