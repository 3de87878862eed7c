"""On PostgreSQL, the figures' rows of a district or a province are added to in place only
by the transaction holding that unit's fold lock; a writer that finds it taken appends its
deltas without waiting, reads count them at once, and the next writer folds them in
(store/figures.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import select, text

from domain.stats import figure
from field_server.extensions import db
from field_server.models import Unit
from field_server.store import figures
from tests.api.sync_helpers import Tablet
from tests.db.test_writers_no_wait import writers_in_wards

# SQLite adds in place: its writers are serialised (BEGIN IMMEDIATE).
pytestmark = pytest.mark.backends("postgresql")

END = date(2020, 8, 31)


def deltas(app) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM figure_deltas")).scalar_one()


def read_back(app, unit_ids: list[int]) -> tuple:
    """Everything the pages and /stats read from the counters, for these units."""
    with app.app_context():
        summed = figures.sums(unit_ids, None, END)
        return (
            summed,
            figures.installed_as_of(unit_ids, END),
            figures.daily_rows(unit_ids, END),
        )


def added(before: tuple, after: tuple, unit_ids: list[int]) -> dict[int, tuple[int, ...]]:
    """Per unit, what was added between two reads: visits (a flow figure), households
    visited (a state figure) and households (an undated one)."""

    def figures_of(read: tuple, i: int) -> tuple[int, ...]:
        got = read[0][i]
        return tuple(figure(got, name) for name in ("visits", "households_visited", "households"))

    return {
        i: tuple(a - b for a, b in zip(figures_of(after, i), figures_of(before, i), strict=True))
        for i in unit_ids
    }


def three_writers(app) -> Callable[[int, int], dict]:
    """Three tablets in three wards of one district: ``push(i, n)`` pushes n households
    with a visit each from the i-th."""
    world, wards = writers_in_wards(app, provinces=1, districts=1)
    tablets = [Tablet(world, app.test_client(), f"cv.w{i}") for i in range(3)]

    def push_households(i: int, n: int) -> dict:
        tablet = tablets[i]
        households = [tablet.household(ward=wards[i], address=f"Số {k}, ngõ {i}") for k in range(n)]
        return tablet.push(households + [tablet.visit(h["id"]) for h in households])

    return push_households


@contextmanager
def held(app, statement: str, locks: list[dict]) -> Iterator[None]:
    """Another transaction holding these advisory locks until the block ends."""
    with app.app_context():
        holder = db.engine.connect()
    holding = holder.begin()
    try:
        for lock in locks:
            holder.execute(text(statement), lock)
        yield
    finally:
        holding.rollback()
        holder.close()


def pushed_meanwhile(push_households: Callable[[int, int], dict], i: int, n: int) -> None:
    """Push from another thread, which must not wait for the locks held."""
    answers: list[dict] = []
    writer = threading.Thread(target=lambda: answers.append(push_households(i, n)))
    writer.start()
    writer.join(60)
    assert answers, "the push waited for a fold lock"
    assert all(r["status"] == "applied" for r in answers[0]["results"])


def test_a_writer_that_finds_the_fold_lock_taken_appends_and_the_next_one_folds(app, backend):
    push_households = three_writers(app)
    push_households(0, 3)
    assert deltas(app) == 0  # nobody else was writing: added in place
    with app.app_context():
        shared = list(
            db.session.execute(
                select(Unit.id).where(Unit.level.in_(["district", "province"])).order_by(Unit.id)
            ).scalars()
        )
    before = read_back(app, shared)

    # Another transaction holds the district's and the province's fold locks.
    locks = [{"kind": figures._FOLD_LOCKS, "id": unit_id} for unit_id in shared]
    with held(app, "SELECT pg_advisory_xact_lock(:kind, :id)", locks):
        pushed_meanwhile(push_households, 1, 4)
        assert deltas(app) > 0
        with_deltas = read_back(app, shared)
        assert added(before, with_deltas, shared) == {i: (4, 4, 4) for i in shared}
        with app.app_context():  # the national view adds the province's deltas in too
            scheme = db.session.execute(select(Unit.scheme).limit(1)).scalar_one()
            provinces, summed, country = figures.country_sums(scheme, None, END)
            for province in provinces:
                assert summed[province.id] == with_deltas[0][province.id]
            assert figure(country, "visits") == sum(
                figure(with_deltas[0][p.id], "visits") for p in provinces
            )
        verified = app.test_cli_runner().invoke(args=["stats", "verify"])
        assert verified.exit_code == 0, verified.output

    push_households(2, 2)  # holds the locks now: folds what was appended
    assert deltas(app) == 0
    after = read_back(app, shared)
    assert added(before, after, shared) == {i: (6, 6, 6) for i in shared}
    assert after[1] != before[1] and after[2] != before[2]
    verified = app.test_cli_runner().invoke(args=["stats", "verify"])
    assert verified.exit_code == 0, verified.output


def country_parts(app) -> int:
    with app.app_context():
        return db.session.execute(
            text("SELECT count(*) FROM country_day_figures WHERE part <> 0")
        ).scalar_one()


def test_a_writer_that_finds_the_country_taken_appends_a_part_and_the_next_one_folds(app, backend):
    """Every writer of the country adds to today's country row: one that finds another
    folding it appends a part of its own without waiting; the next writer folds it."""
    push_households = three_writers(app)
    push_households(0, 3)
    with app.app_context():
        scheme = db.session.execute(select(Unit.scheme).limit(1)).scalar_one()

    def country_visits() -> int:
        with app.app_context():
            return sum(row[1] for row in figures.country_daily_rows(scheme, END))

    assert country_parts(app) == 0 and country_visits() == 3
    lock = {"kind": figures._COUNTRY_FOLD_LOCKS, "scheme": scheme}
    with held(app, "SELECT pg_advisory_xact_lock(:kind, hashtext(:scheme))", [lock]):
        pushed_meanwhile(push_households, 1, 4)
        assert country_parts(app) > 0
        assert country_visits() == 7  # the part is read at once
        verified = app.test_cli_runner().invoke(args=["stats", "verify"])
        assert verified.exit_code == 0, verified.output

    push_households(2, 2)  # holds the lock now: folds the part
    assert country_parts(app) == 0 and country_visits() == 9
    verified = app.test_cli_runner().invoke(args=["stats", "verify"])
    assert verified.exit_code == 0, verified.output
