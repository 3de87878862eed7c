"""`field-server backup FILE [--force]`: a consistent copy of the SQLite database, taken
while the server runs (services/backup.py; docs/cli.md, docs/operations.md "Backup and
restore"). PostgreSQL is refused with the pg_dump command to use instead."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..services import backup as backup_service

REFUSED_EXIT_CODE = 1


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@with_appcontext
def backup(file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE (mode 0600), consistently, while writes go on."""
    # The engine's URL, not the setting: a relative SQLite path is the instance folder's.
    engine = current_app.extensions["sqlalchemy"].engine
    url = engine.url.render_as_string(hide_password=False)
    try:
        result = backup_service.backup_database(url, file, force=force)
    except backup_service.BackupRefused as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(REFUSED_EXIT_CODE)
    click.echo(f"Copied {result.source} to {result.path} ({result.size:,} bytes).")
