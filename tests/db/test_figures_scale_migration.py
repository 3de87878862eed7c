"""Upgrading a database that already holds a unit tree fills every unit's effective adult
population (docs/figures.md, "How they are kept"), on SQLite and PostgreSQL."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import base_config

BEFORE = "5b8e2d7c41a9"  # the revision before units.effective_population
# id, code, level, parent id, path, adult population
UNITS = [
    (1, "33", "province", None, "/1/", None),
    (2, "326", "district", 1, "/1/2/", None),
    (3, "12019", "ward", 2, "/1/2/3/", 9000),
    (4, "12022", "ward", 2, "/1/2/4/", None),
    (5, "12022-01", "group", 4, "/1/2/4/5/", 250),
    (6, "12022-02", "group", 4, "/1/2/4/6/", None),
    (7, "323", "district", 1, "/1/7/", 800),  # its own, though its ward says otherwise
    (8, "11953", "ward", 7, "/1/7/8/", 8000),
    (9, "02", "province", None, "/9/", None),  # nobody below knows
    (10, "024", "district", 9, "/9/10/", None),
]
EXPECTED = {1: 9000 + 250 + 800, 2: 9250, 3: 9000, 4: 250, 5: 250, 6: None, 7: 800, 8: 8000,
            9: None, 10: None}  # fmt: skip


def test_the_upgrade_fills_every_units_population(fresh_database_url, tmp_path):
    from field_server import create_app
    from field_server.extensions import db

    app = create_app(base_config(tmp_path, fresh_database_url))
    with app.app_context():
        try:
            upgrade(revision=BEFORE)
            with db.engine.begin() as conn:
                for unit_id, code, level, parent, path, population in UNITS:
                    conn.execute(
                        text(
                            "INSERT INTO units (id, scheme, code, name, level, parent_id, path, "
                            "adult_population, version, created_at, updated_at, change_seq) "
                            "VALUES (:id, 'gso-2020', :code, :code, :level, :parent, :path, "
                            ":population, 1, '2020-08-15 00:00:00', '2020-08-15 00:00:00', 0)"
                        ),
                        {"id": unit_id, "code": code, "level": level, "parent": parent,
                         "path": path, "population": population},
                    )  # fmt: skip
            upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(text("SELECT id, effective_population FROM units")).all()
            assert dict(rows) == EXPECTED
            downgrade(revision=BEFORE)
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM units")).scalar() == len(UNITS)
        finally:
            downgrade(revision="base")
            db.engine.dispose()
