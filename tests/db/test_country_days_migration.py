"""Upgrading a database that already holds figures fills the countries' day rows from their
top units' dated rows (and, on PostgreSQL, their deltas not folded yet), on SQLite and
PostgreSQL; rows of units below the top are not counted twice."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import base_config
from tests.db.databases import insert_day_row, insert_unit

BEFORE = "a1d9e4c7b350"  # the revision before country_day_figures
# unit id, scheme, parent, path
UNITS = [
    (1, "gso-2020", None, "/1/"),
    (2, "gso-2020", 1, "/1/2/"),
    (3, "gso-2020", None, "/3/"),
    (4, "nso-2025", None, "/4/"),
]
# unit id, day, visits, installed_during, installed
DAY_ROWS = [
    (1, "2020-08-14", 3, 1, 1),
    (2, "2020-08-14", 3, 1, 1),  # a district's rows: already in its province's
    (1, "2020-08-15", 5, 2, 2),
    (3, "2020-08-15", 7, 0, 4),
    (4, "2020-08-15", 2, 2, 2),
]


def test_the_upgrade_fills_the_country_rows(backend, fresh_database_url, tmp_path):
    from field_server import create_app
    from field_server.extensions import db

    app = create_app(base_config(tmp_path, fresh_database_url))
    with app.app_context():
        try:
            upgrade(revision=BEFORE)
            with db.engine.begin() as conn:
                for unit_id, scheme, parent, path in UNITS:
                    insert_unit(
                        conn, unit_id, path, parent_id=parent, scheme=scheme, level="province"
                    )
                for unit_id, day, visits, during, installed in DAY_ROWS:
                    insert_day_row(
                        conn, unit_id, day, visits=visits, installed_during=during,
                        installed=installed,
                    )  # fmt: skip
                if backend == "postgresql":  # a province's delta not folded yet
                    insert_day_row(
                        conn, 3, "2020-08-15", "figure_deltas", visits=1, installed_during=1,
                        installed=1,
                    )  # fmt: skip
            upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT scheme, day, part, visits, installed_during, installed "
                        "FROM country_day_figures ORDER BY scheme, day"
                    )
                ).all()
            pending = 1 if backend == "postgresql" else 0
            assert [tuple(r) for r in rows] == [
                ("gso-2020", "2020-08-14", 0, 3, 1, 1),
                ("gso-2020", "2020-08-15", 0, 12 + pending, 2 + pending, 6 + pending),
                ("nso-2025", "2020-08-15", 0, 2, 2, 2),
            ]
            downgrade(revision=BEFORE)
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM unit_day_figures")).scalar() == 5
        finally:
            downgrade(revision="base")
            db.engine.dispose()
