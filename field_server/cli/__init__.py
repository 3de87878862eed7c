"""The `field-server` command line (API §8): thin click shells over store/ and domain/.

Commands are attached both to the `field-server` group and to the app's own `flask` CLI,
so `flask --app field_server units import ...` works too. The group itself never loads the
app: `field-server --help` and `field-server init-secrets` work before any configuration
exists, and a command that needs the app stops with the configuration error, exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import ScriptInfo
from flask_migrate.cli import db as db_group

from ..config import ConfigError, default_instance_path, write_secrets_file


def _create_app_for_cli() -> Flask:
    from .. import create_app

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: configuration: {exc}", err=True)
        sys.exit(2)


@click.group(
    help="Field campaign server: database, units, users, demo data and the web server.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def cli() -> None:
    pass


@cli.command("init-secrets")
@click.option(
    "--instance-path",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FIELD_INSTANCE_PATH",
    default=None,
    help="Instance folder (default: FIELD_INSTANCE_PATH or ./instance beside the package).",
)
def init_secrets(instance_path: Path | None) -> None:
    """Create INSTANCE/secret-keys.json (mode 0600) with random keys, unless it exists."""
    folder = (instance_path or default_instance_path()).resolve()
    if write_secrets_file(folder):
        click.echo(f"Wrote new secret keys to {folder / 'secret-keys.json'}")
    else:
        click.echo(f"Keeping the existing {folder / 'secret-keys.json'}")


def _command_groups() -> list[click.Command]:
    from . import demo, export, serve, stats, units, users

    return [
        db_group,
        units.units,
        users.users,
        demo.demo,
        serve.serve,
        stats.stats,
        export.export,
    ]


for _command in _command_groups():
    cli.add_command(_command)


def register_commands(app: Flask) -> None:
    """Make the same commands available as `flask --app field_server COMMAND`."""
    for command in _command_groups():
        if command.name != "db":  # Flask-Migrate registers its own `db` on the flask CLI
            app.cli.add_command(command)
    app.cli.add_command(init_secrets)


def main() -> None:
    cli.main(obj=ScriptInfo(create_app=_create_app_for_cli, set_debug_flag=False))
