"""The `field-server` command line (docs/cli.md): thin click shells over the services.

Commands are attached both to the `field-server` group and to the app's own `flask` CLI,
so `flask --app field_server units import ...` works too. The group itself never loads the
app: `field-server --help` and `field-server init-secrets` work before any configuration
exists, and a command that needs the app stops with the configuration error, exit 2.

Database problems are answered here, once for every command, in one line on stderr that
says what to do, with exit 3 (docs/cli.md):

- when a command loads the app (after its options were parsed, so `--help` needs no
  database), the database must exist and stand at the newest migration (`db` commands,
  which create and migrate it, are exempt). A missing SQLite file is reported without
  opening it, so no empty `field.db` is created just to find the schema missing;
- an SQLAlchemy or driver error that escapes any command (a PostgreSQL database that does
  not exist, a server that refuses connections, a file that cannot be opened) is turned
  into the same kind of line instead of a traceback;
- an SQLite file that the command itself created and left without a single table is
  removed again.
"""

from __future__ import annotations

import contextlib
import copy
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo
from flask_migrate.cli import db as migrate_db_group

from ..config import ConfigError, default_instance_path, write_secrets_file
from ..services.health import (
    DatabaseProblem,
    check_database,
    describe_database_error,
    forget_empty_sqlite_file,
    sqlite_file,
)

# Top-level commands that must work on a database without the newest schema: `db` makes it.
NO_SCHEMA_CHECK = frozenset({"db", "init-secrets"})
# ctx.meta keys: the database URL a command uses; its SQLite file and whether that existed
# before the command started.
DATABASE_URL_KEY = "field_server.database_url"
SQLITE_FILE_KEY = "field_server.sqlite_file"
DATABASE_EXIT_CODE = 3


class DatabaseUnusable(click.ClickException):
    """Printed as `Error: database: ...` (one line), exit 3."""

    exit_code = DATABASE_EXIT_CODE

    def format_message(self) -> str:
        return f"database: {self.message}"


def _top_command(ctx: click.Context) -> str | None:
    """The name of the `field-server` subcommand being run (`units` for `units list`)."""
    while ctx.parent is not None and ctx.parent.parent is not None:
        ctx = ctx.parent
    return ctx.info_name if ctx.parent is not None else None


def _create_app_for_cli() -> Flask:
    from .. import create_app

    try:
        app = create_app()
    except ConfigError as exc:
        click.echo(f"Error: configuration: {exc}", err=True)
        sys.exit(2)
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    # The engine's URL, not the setting: a relative SQLite path is the instance folder's.
    url = engine.url.render_as_string(hide_password=False)
    ctx = click.get_current_context(silent=True)
    path = sqlite_file(url)
    if ctx is not None:
        ctx.meta[DATABASE_URL_KEY] = url
        if path is not None:
            ctx.meta[SQLITE_FILE_KEY] = (path, path.exists())
    if ctx is None or _top_command(ctx) not in NO_SCHEMA_CHECK:
        try:
            check_database(url, engine)
        finally:
            # The command opens its own connections; none from the check is kept.
            engine.dispose()
    return app


def _database_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import DBAPIError

    errors: list[type[BaseException]] = [DBAPIError, sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover - installed with the package
        pass
    return tuple(errors)


class FieldServerGroup(click.Group):
    """The `field-server` group: every command runs inside ``invoke`` below, which turns
    database problems into one line and cleans up an SQLite file left empty."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DatabaseProblem as exc:
            raise DatabaseUnusable(str(exc)) from None
        except _database_errors() as exc:
            url = ctx.meta.get(DATABASE_URL_KEY, "")
            raise DatabaseUnusable(describe_database_error(exc, url)) from None
        finally:
            created: tuple[Path, bool] | None = ctx.meta.get(SQLITE_FILE_KEY)
            if created is not None and not created[1]:
                with contextlib.suppress(OSError):  # never hide the command's own outcome
                    forget_empty_sqlite_file(created[0])


@click.group(
    cls=FieldServerGroup,
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


DIRECTORY_HELP = (
    "Migration script directory (default: the migrations shipped inside the field_server "
    "package; only for developing migrations)"
)


def _package_directory_default(command: click.Command) -> click.Command:
    """A copy of a Flask-Migrate command whose `--directory` help tells the truth: the app
    registers the package's own migrations folder, which is used when it is not given (not
    a `migrations` folder in the working directory, as Flask-Migrate's help says)."""
    command = copy.copy(command)
    params = []
    for param in command.params:
        if isinstance(param, click.Option) and param.name == "directory":
            param = copy.copy(param)
            param.help = DIRECTORY_HELP
        params.append(param)
    command.params = params
    if isinstance(command, click.Group):
        command.commands = {
            name: _package_directory_default(sub) for name, sub in command.commands.items()
        }
    return command


db_group = _package_directory_default(migrate_db_group)


def _command_groups() -> list[click.Command]:
    from . import backup, demo, export, purge, serve, stats, units, users

    return [
        db_group,
        units.units,
        users.users,
        demo.demo,
        serve.serve,
        stats.stats,
        export.export,
        purge.purge,
        backup.backup,
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
