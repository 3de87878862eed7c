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


def schema_revision() -> str | None:
    from field_server.extensions import db
    from field_server.migrations_support import schema_state

    with db.engine.connect() as conn:
        return schema_state(conn).revision


def test_the_head_revision_is_the_migration_nothing_follows():
    from field_server.migrations_support import MIGRATIONS_DIR, head_revision

    texts = [p.read_text() for p in (MIGRATIONS_DIR / "versions").glob("*.py")]
    head = head_revision()
    assert sum(f'revision = "{head}"' in t for t in texts) == 1
    assert not any(f'down_revision = "{head}"' in t for t in texts)


def test_upgrade_from_empty_matches_models_and_downgrade_round_trips(fresh_database_url, tmp_path):
    from field_server import create_app
    from field_server.extensions import db
    from field_server.migrations_support import head_revision

    app = create_app(base_config(tmp_path, fresh_database_url))
    with app.app_context():
        try:
            assert schema_revision() is None  # no alembic_version table: no schema at all
            upgrade()
            assert diff_against_models(app) == []
            assert schema_revision() == head_revision()
            downgrade(revision="base")
            with db.engine.connect() as conn:
                names = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
            assert names == set()
            assert schema_revision() is None  # the table stays, without a row
            upgrade()
            assert diff_against_models(app) == []
        finally:
            downgrade(revision="base")
            db.engine.dispose()


def test_upgrades_and_downgrades_keep_the_data(fresh_database_url, tmp_path):
    """A real database has rows pointing at each other: SQLite's table rebuilds in batch mode
    must neither trip over foreign keys nor lose anything."""
    from sqlalchemy import text

    from field_server import create_app
    from field_server.extensions import db

    app = create_app(base_config(tmp_path, fresh_database_url))
    with app.app_context():
        try:
            upgrade(revision="dff402d7ef2f")
            assert schema_revision() == "dff402d7ef2f"
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO units (id, scheme, code, name, level, path, version, "
                        "created_at, updated_at) VALUES (1, 'gso-2020', '12019', 'TT Văn Giang', "
                        "'ward', '/1/', 1, '2020-08-15 00:00:00', '2020-08-15 00:00:00')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO users (id, username, role, password_hash, active, "
                        "token_version, created_at, updated_at) VALUES (1, 'cv', 'canvasser', 'x', "
                        "true, 1, '2020-08-15 00:00:00', '2020-08-15 00:00:00')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO assignments (id, user_id, unit_id, starts_at, version) "
                        "VALUES (1, 1, 1, '2020-08-15 00:00:00', 1)"
                    )
                )
            upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT change_seq FROM units")).scalar() == 0
                assert conn.execute(text("SELECT count(*) FROM assignments")).scalar() == 1
            downgrade(revision="dff402d7ef2f")
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT name FROM units")).scalar() == "TT Văn Giang"
                assert conn.execute(text("SELECT unit_id FROM assignments")).scalar() == 1
        finally:
            downgrade(revision="base")
            db.engine.dispose()
