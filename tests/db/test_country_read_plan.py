"""On PostgreSQL the national view reads each province's undated figures by its key, one
probe per province, however many units have figures. Joined plainly, while a few thousand
units had figures the planner scanned and hashed all of their rows instead (past about ten
thousand it probes by key itself): store/figures.py, ``_TOP_WITH_UNDATED``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from domain.stats import TOTAL_FIGURES
from tests.db.databases import migrated_postgres_app

pytestmark = pytest.mark.backends("postgresql")

PROVINCES, WARDS = 63, 3_000


def plan(db, statement) -> str:
    compiled = statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    rows = db.session.execute(text(f"EXPLAIN {compiled}")).scalars()
    return "\n".join(rows)


def test_the_provinces_figures_are_read_by_key_among_many_units(
    backend: str, tmp_path: Path
) -> None:
    from field_server.extensions import db
    from field_server.store import figures

    with migrated_postgres_app("field_country_plan", tmp_path):
        # 63 provinces and 3,000 wards under them, every one with its undated row.
        db.session.execute(
            text(
                "INSERT INTO units (id, scheme, code, name, level, parent_id, path, version, "
                "created_at, updated_at) SELECT i, 'gso-2020', 'u' || i, 'Đơn vị ' || i, "
                "CASE WHEN i <= :provinces THEN 'province' ELSE 'ward' END, "
                "CASE WHEN i <= :provinces THEN NULL ELSE 1 + i % :provinces END, "
                "'/' || i || '/', 1, now(), now() "
                "FROM generate_series(1, :provinces + :wards) AS i"
            ),
            {"provinces": PROVINCES, "wards": WARDS},
        )
        zeros = ", ".join("0" for _ in TOTAL_FIGURES)
        db.session.execute(
            text(
                f"INSERT INTO unit_figures (unit_id, last_day, {', '.join(TOTAL_FIGURES)}) "
                f"SELECT id, '2020-08-31', {zeros} FROM units"
            )
        )
        db.session.commit()
        db.session.execute(text("ANALYZE units"))
        db.session.execute(text("ANALYZE unit_figures"))

        read = plan(db, figures._TOP_WITH_UNDATED["postgresql"])
        assert "Seq Scan on unit_figures" not in read, read
        assert "Index Scan using pk_unit_figures" in read, read
        # What the plain join (SQLite's statement) is planned as here: the whole table.
        plain = plan(db, figures._TOP_WITH_UNDATED["sqlite"])
        assert "Seq Scan on unit_figures" in plain, plain

        rows = db.session.execute(figures._TOP_WITH_UNDATED["postgresql"]).all()
        assert [row.id for row in rows] == list(range(1, PROVINCES + 1))
        db.session.rollback()
