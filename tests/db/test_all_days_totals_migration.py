"""Upgrading a database that already holds figures fills every unit's all-days totals and
last day from its dated rows (docs/figures.md, "How they are kept"), on SQLite and
PostgreSQL, and keeps its undated figures; downgrading keeps the dated rows."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import base_config
from tests.db.databases import insert_day_row, insert_unit

BEFORE = "c8e51a7d3f64"  # the revision before figure_deltas and the all-days totals
# unit id, day, visits, installed
DAY_ROWS = [(1, "2020-08-14", 3, 1), (1, "2020-08-20", 5, 2), (2, "2020-08-15", 7, 0)]


def test_the_upgrade_fills_the_all_days_totals(fresh_database_url, tmp_path):
    from field_server import create_app
    from field_server.extensions import db

    app = create_app(base_config(tmp_path, fresh_database_url))
    with app.app_context():
        try:
            upgrade(revision=BEFORE)
            with db.engine.begin() as conn:
                for unit_id, path in ((1, "/1/"), (2, "/1/2/"), (3, "/1/2/3/")):
                    insert_unit(conn, unit_id, path)
                for unit_id, day, visits, installed in DAY_ROWS:
                    insert_day_row(conn, unit_id, day, visits=visits, installed=installed)
                conn.execute(text("INSERT INTO unit_figures VALUES (1, 4, 1), (3, 2, 0)"))
            upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT unit_id, households, open_conflicts, visits, installed, "
                        "last_day FROM unit_figures ORDER BY unit_id"
                    )
                ).all()
            assert [tuple(r) for r in rows] == [
                (1, 4, 1, 8, 3, "2020-08-20"),
                (2, 0, 0, 7, 0, "2020-08-15"),
                (3, 2, 0, 0, 0, None),
            ]
            downgrade(revision=BEFORE)
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM unit_day_figures")).scalar() == 3
                assert conn.execute(text("SELECT count(*) FROM unit_figures")).scalar() == 3
        finally:
            downgrade(revision="base")
            db.engine.dispose()
