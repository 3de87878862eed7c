"""Two tablets pushing visits to one household at the same moment: the household's counters
and the figures count both visits, on SQLite and on PostgreSQL.

The first push is held open after it planned (it derived the household's counters from the
visits it saw) and before it commits; the second push starts meanwhile. On PostgreSQL the
second must wait for the first (the household is locked before its visits are read), or it
would derive the counters without the first visit and the last writer would win.
"""

from __future__ import annotations

import threading

from sqlalchemy import text

from field_server.extensions import db
from field_server.models import Household
from field_server.store import changes as change_sequence
from field_server.store import figures
from tests.api.sync_helpers import GROUP_A1, Tablet, counts


def waiting_for_a_lock(app) -> bool:
    with app.app_context():
        waiting = db.session.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
        found = waiting.scalar_one() > 0
        db.session.rollback()
        return found


def test_concurrent_visits_to_one_household_both_count(world, app, backend):
    ward_tablet = Tablet(world, app.test_client(), "cv.vg.001")
    group_tablet = Tablet(world, app.test_client(), "cv.vg.002")
    household = group_tablet.household(group=GROUP_A1)
    group_tablet.push([household])

    held, release = threading.Event(), threading.Event()
    first_thread: list[int] = []

    def hold_first() -> None:
        if threading.get_ident() == first_thread[0] and not held.is_set():
            held.set()
            assert release.wait(30)

    first = ward_tablet.visit(
        household["id"], **counts(adults=5, smartphones=4, before=0, during=3)
    )
    second = group_tablet.visit(
        household["id"], **counts(adults=5, smartphones=4, before=1, during=3)
    )
    answers: dict[str, dict] = {}

    def push_first() -> None:
        first_thread.append(threading.get_ident())
        answers["first"] = ward_tablet.push([first])

    def push_second() -> None:
        answers["second"] = group_tablet.push([second])

    change_sequence.before_stamp.append(hold_first)
    try:
        one = threading.Thread(target=push_first)
        one.start()
        assert held.wait(30)
        two = threading.Thread(target=push_second)
        two.start()
        if backend == "postgresql":
            for _ in range(3000):  # the second push must be queued behind the first
                if waiting_for_a_lock(app):
                    break
                two.join(0.01)
            queued = two.is_alive()
        release.set()
        one.join(30)
        two.join(30)
    finally:
        release.set()
        change_sequence.before_stamp.remove(hold_first)

    if backend == "postgresql":
        assert queued
    assert answers["first"]["results"][0]["status"] == "applied"
    assert answers["second"]["results"][0]["status"] == "applied"
    with app.app_context():
        stored = db.session.get(Household, household["id"])
        # installs never go back: the largest of 0+3 and 1+3, whichever commits last
        assert stored.installed == 4
        assert stored.adults == 5
        result = figures.recount(timezone="Asia/Ho_Chi_Minh")
        assert result.household_counter_errors == []
        assert result.contributions == figures.stored()
