"""Upgrading an empty database yields exactly the models, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import base_config


def diff_against_models(app):
    from field_server.extensions import db
    from field_server.migrations_support import compare_options

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=compare_options())
        return compare_metadata(context, db.metadata)


def test_upgrade_from_empty_matches_models_and_downgrade_round_trips(empty_database_url, tmp_path):
    from field_server import create_app
    from field_server.extensions import db

    app = create_app(base_config(tmp_path, empty_database_url))
    with app.app_context():
        try:
            upgrade()
            assert diff_against_models(app) == []
            downgrade(revision="base")
            with db.engine.connect() as conn:
                names = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
            assert names == set()
            upgrade()
            assert diff_against_models(app) == []
        finally:
            downgrade(revision="base")
            db.engine.dispose()
