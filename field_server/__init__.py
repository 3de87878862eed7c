"""The Flask application factory: settings, extensions and blueprints, nothing else.

Settings include what the server creates on disk: the instance folder (mode 0700) and a new
SQLite database (0600, its -wal and -shm files with it), which hold the secrets and every
household's personal data (docs/operations.md, Security notes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import load_settings, make_private_folder
from .json_provider import OrjsonProvider
from .migrations_support import MIGRATIONS_DIR, SQLITE_SIDE_FILES, sqlite_file


class FieldServer(Flask):
    json_provider_class = OrjsonProvider


def _keep_new_sqlite_files_private(engine: Engine) -> None:
    """A SQLite database the server creates is made mode 0600 as it is opened, before
    anything is written to it; SQLite gives its -wal and -shm files the database file's
    mode, so they follow. A database that already holds data keeps the mode it has."""
    if engine.dialect.name != "sqlite" or engine in _PRIVATE_FILES:
        return
    database = sqlite_file(engine.url)
    if database is None:
        return
    _PRIVATE_FILES.add(engine)

    # insert=True: before the set-up that switches to WAL and so creates the -wal and -shm
    # files (store/engine.py).
    @event.listens_for(engine, "connect", insert=True)
    def _private(_dbapi_connection: Any, _record: Any) -> None:
        try:
            created = database.stat().st_size == 0  # sqlite3.connect() made it just now
        except FileNotFoundError:
            return
        if created:
            sides = (database.with_name(database.name + s) for s in SQLITE_SIDE_FILES)
            for path in (database, *sides):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(path, 0o600)


_PRIVATE_FILES: weakref.WeakSet[Engine] = weakref.WeakSet()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides FIELD_* settings (names without the prefix).

    Raises config.ConfigError when a setting is missing or invalid.
    """
    settings = load_settings(overrides=config)
    app = FieldServer(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        # hide_parameters: a database error's message never carries the statement's values
        # (password hashes, phone numbers), wherever it is logged.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
        MAX_CONTENT_LENGTH=settings["MAX_BODY_BYTES"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    # Vietnamese names stay readable in JSON, and envelopes keep their documented order
    # (json_provider.py; also what the standard encoder is told for its slow path).
    provider = cast(OrjsonProvider, app.json)  # json_provider_class above
    provider.ensure_ascii = False
    provider.sort_keys = False
    logging.getLogger("field_server").setLevel(settings["LOG_LEVEL"].upper())
    if settings["DATABASE_URL"].startswith("sqlite:///"):
        make_private_folder(Path(settings["INSTANCE_PATH"]))

    from .extensions import db, migrate
    from .store.engine import configure_engine

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    with app.app_context():
        _keep_new_sqlite_files_private(db.engine)
        configure_engine(db.engine, settings["SQLITE_BUSY_TIMEOUT_MS"])

    from .errors import register_error_handlers

    register_error_handlers(app)

    from .api import bp as api_bp
    from .api.health import bp as health_bp
    from .auth.views import bp as auth_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(api_bp)

    from .web import init_web

    init_web(app)

    from .cli import register_commands

    register_commands(app)
    return app
