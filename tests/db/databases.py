"""What the db tests build by hand: a PostgreSQL database of their own, migrated, with its
app; and the rows an old revision's tables held, for the migration tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from domain.stats import DAY_FIGURES
from tests.conftest import (
    base_config,
    create_postgres_database,
    dispose_app,
    drop_postgres_database,
)


@contextmanager
def migrated_postgres_app(prefix: str, tmp_path: Path, options: str = "") -> Iterator[Any]:
    """An app on a new PostgreSQL database (``options``: CREATE DATABASE's), upgraded to
    the newest revision, in its app context; the database is dropped after."""
    from flask_migrate import upgrade

    from field_server import create_app

    name, url = create_postgres_database(prefix, options)
    try:
        app = create_app(base_config(tmp_path, url))
        try:
            with app.app_context():
                upgrade()
                yield app
        finally:
            dispose_app(app)
    finally:
        drop_postgres_database(name)


def insert_unit(
    conn: Any,
    unit_id: int,
    path: str,
    *,
    parent_id: int | None = None,
    scheme: str = "gso-2020",
    level: str = "ward",
) -> None:
    """A unit as an old revision's table holds it (its code and name: ``c`` and its id)."""
    conn.execute(
        text(
            "INSERT INTO units (id, scheme, code, name, level, parent_id, path, version, "
            "created_at, updated_at, change_seq) VALUES (:id, :scheme, :code, :code, :level, "
            ":parent, :path, 1, '2020-08-15 00:00:00', '2020-08-15 00:00:00', 0)"
        ),
        {"id": unit_id, "scheme": scheme, "code": f"c{unit_id}", "level": level,
         "parent": parent_id, "path": path},
    )  # fmt: skip


def insert_day_row(
    conn: Any, unit_id: int, day: str, table: str = "unit_day_figures", **figures: int
) -> None:
    """A dated counter row (or, with ``table="figure_deltas"``, a dated delta) holding
    these figures, every other one 0."""
    names = [*figures, *(n for n in DAY_FIGURES if n not in figures)]
    values = [*(f":{n}" for n in figures), *("0" for n in DAY_FIGURES if n not in figures)]
    undated = ", households, open_conflicts" if table == "figure_deltas" else ""
    # (the names formatted in are the figures' own and the two tables': constants)
    conn.execute(
        text(
            f"INSERT INTO {table} (unit_id, day{undated}, {', '.join(names)}) "
            f"VALUES (:unit, :day{', 0, 0' if undated else ''}, {', '.join(values)})"
        ),
        {"unit": unit_id, "day": day, **figures},
    )
