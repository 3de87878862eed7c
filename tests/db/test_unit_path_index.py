"""On PostgreSQL a unit's subtree is found through the path index whatever the database's
collation (migration 6e2b9f41c7d8). Every caller's scope, review queue, export and figure of
a subtree asks for ``path LIKE '/1/2/%'``; under any collation but C a plain btree index
cannot serve that, and each of those queries read every unit of the country instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from domain.roles import Scope
from tests.db.databases import migrated_postgres_app

pytestmark = pytest.mark.backends("postgresql")

# A database as a server initialised with an English locale makes it (the ICU provider
# ships with PostgreSQL's Debian packages; the C.UTF-8 LC_CTYPE keeps it independent of
# the machine's installed locales).
ENGLISH = "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0"


def test_a_subtree_is_read_through_the_path_index_under_an_english_collation(
    backend: str, tmp_path: Path
) -> None:
    from field_server.extensions import db
    from field_server.models import Unit
    from field_server.store.units import scope_condition

    with migrated_postgres_app("field_english", tmp_path, ENGLISH):
        db.session.execute(
            text(
                "INSERT INTO units (scheme, code, name, level, path, version, created_at, "
                "updated_at) SELECT 'gso-2020', 'u' || i, 'Xã ' || i, 'ward', "
                "'/' || (i / 100) || '/' || i || '/', 1, now(), now() "
                "FROM generate_series(1, 5000) AS i"
            )
        )
        db.session.commit()
        db.session.execute(text("ANALYZE units"))
        # Without an index that serves the prefix, the plan is a scan of every unit
        # however costly the planner is told scans are.
        db.session.execute(text("SET enable_seqscan = off"))
        statement = select(Unit.id).where(scope_condition(Scope(False, ((1, "/7/"),))))
        compiled = statement.compile(
            dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
        found = db.session.execute(statement).scalars().all()
        db.session.rollback()
    assert "ix_units_path" in plan, plan
    assert len(found) == 100  # '/7/700/' to '/7/799/'
