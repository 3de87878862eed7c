"""The Flask application factory: settings, extensions and blueprints, nothing else."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from flask import Flask

from .config import load_settings
from .json_provider import OrjsonProvider
from .migrations_support import MIGRATIONS_DIR


class FieldServer(Flask):
    json_provider_class = OrjsonProvider


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides FIELD_* settings (names without the prefix).

    Raises config.ConfigError when a setting is missing or invalid.
    """
    settings = load_settings(overrides=config)
    app = FieldServer(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
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
        Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)

    from .extensions import db, migrate
    from .store.engine import configure_engine

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    with app.app_context():
        configure_engine(db.engine, settings["SQLITE_BUSY_TIMEOUT_MS"])

    from .errors import register_error_handlers

    register_error_handlers(app)

    from .api import bp as api_bp
    from .api.health import bp as health_bp
    from .auth.views import bp as auth_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(api_bp)

    from .cli import register_commands

    register_commands(app)
    return app
