"""On PostgreSQL, pushes to different wards never wait for each other: not on the change
sequence (store/changes.py: a write's position is its transaction id, taken without a lock),
nor on the figures' rows of the district or province they share (store/figures.py: a writer
that finds them taken appends its deltas instead); and pulls interleaved with writers that
commit out of order never skip a row.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from field_server.auth.passwords import hash_password
from field_server.extensions import db
from field_server.store import changes as change_sequence
from field_server.store.people import create_user
from field_server.store.units import create_unit
from tests.api.sync_helpers import Tablet
from tests.conftest import World, world_hash

WRITERS = 8

# Lock requests in this database not yet granted: on what, and whom they wait for. Only
# locks held until a transaction ends make one writer wait for another's commit (rows, a
# transaction id, a table, an advisory lock); extending a table's file ('extend', 'page')
# is a lock of a moment, taken by any two inserts into one table, and not counted.
WAITING = text(
    "SELECT a.pid, l.locktype, l.relation::regclass::text AS relation, "
    "pg_blocking_pids(a.pid) AS blockers "
    "FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid "
    "WHERE NOT l.granted AND a.datname = current_database() "
    "AND l.locktype NOT IN ('extend', 'page')"
)


# SQLite serialises writers by design (BEGIN IMMEDIATE): there is nothing to measure there.
pytestmark = pytest.mark.backends("postgresql")


def writers_in_wards(app: Any, *, provinces: int, districts: int) -> tuple[World, list[str]]:
    """WRITERS wards spread over ``districts`` districts, themselves spread over
    ``provinces`` provinces, and a canvasser cv.w<i> in ward i; returns the world and the
    wards' refs."""
    passwords = {f"cv.w{i}": f"pw-cv.w{i}-secret" for i in range(WRITERS)}
    now = datetime.now(UTC)
    refs = []
    with app.app_context():
        tops = [
            create_unit(
                scheme="gso-2020", code=f"9{p}", name=f"Tỉnh {p}", level="province", parent=None
            )
            for p in range(provinces)
        ]
        middles = [
            create_unit(
                scheme="gso-2020",
                code=f"9{d}0",
                name=f"Huyện {d}",
                level="district",
                parent=tops[d % provinces],
            )
            for d in range(districts)
        ]
        for i in range(WRITERS):
            district = middles[i % districts]
            ward = create_unit(
                scheme="gso-2020",
                code=f"9{i}001",
                name=f"Phường {i}",
                level="ward",
                parent=district,
                adult_population=5000,
                target_rate=0.6,
            )
            refs.append(f"gso-2020:9{i}001")
            create_user(
                username=f"cv.w{i}",
                role="canvasser",
                password_hash=world_hash(app, passwords[f"cv.w{i}"], hash_password),
                full_name=f"Người đi vận động {i}",
                units=[ward],
                now=now,
            )
        db.session.commit()
    return World(app=app, passwords=passwords), refs


@pytest.mark.parametrize(
    ("provinces", "districts"),
    [(WRITERS, WRITERS), (1, WRITERS), (1, 1)],
    ids=["8 provinces", "8 districts of one province", "8 wards of one district"],
)
def test_writers_in_eight_wards_never_wait_for_each_other(app, backend, provinces, districts):
    """All 8 pushes reach their commit at the same time, each holding every lock it takes
    (a push that waited for another's lock could not get there before that one commits),
    and no lock request of theirs is seen waiting meanwhile; the figures then hold what a
    recount finds (the deltas the writers appended are counted, once)."""
    world, wards = writers_in_wards(app, provinces=provinces, districts=districts)
    tablets = [Tablet(world, app.test_client(), f"cv.w{i}") for i in range(WRITERS)]
    batches = []
    for i, tablet in enumerate(tablets):
        households = [tablet.household(ward=wards[i], address=f"Số {n}, ngõ {i}")
                      for n in range(20)]  # fmt: skip
        visits = [tablet.visit(h["id"]) for h in households]
        batches.append(households + visits)

    writing: set[int] = set()  # threads whose push took its position
    at_commit = threading.Barrier(WRITERS, timeout=30)
    arrived = threading.Semaphore(0)

    def took_position() -> None:
        writing.add(threading.get_ident())

    def hold_at_commit(session: Session) -> None:
        if threading.get_ident() in writing:
            writing.discard(threading.get_ident())
            arrived.release()
            at_commit.wait()

    answers: list[dict] = []
    failures: list[BaseException] = []

    def push(index: int) -> None:
        try:
            answers.append(tablets[index].push(batches[index]))
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    waits: list[Any] = []
    change_sequence.before_stamp.append(took_position)
    event.listen(Session, "before_commit", hold_at_commit)
    threads = [threading.Thread(target=push, args=(i,)) for i in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        with app.app_context():
            # Watch for waiting lock requests until every push has reached its commit (or
            # the barrier gave up: some push could not get there).
            reached = 0
            while reached < WRITERS and not at_commit.broken:
                waits += db.session.execute(WAITING).all()
                db.session.rollback()
                if arrived.acquire(timeout=0.005):
                    reached += 1
        for thread in threads:
            thread.join(60)
    finally:
        event.remove(Session, "before_commit", hold_at_commit)
        change_sequence.before_stamp.remove(took_position)
        at_commit.abort() if reached < WRITERS else None

    assert waits == []
    assert not at_commit.broken
    assert failures == []
    assert len(answers) == WRITERS
    assert all(r["status"] == "applied" for a in answers for r in a["results"])
    with app.app_context():
        appended = db.session.execute(text("SELECT count(*) FROM figure_deltas")).scalar_one()
        parts = db.session.execute(
            text("SELECT count(*) FROM country_day_figures WHERE part <> 0")
        ).scalar_one()
    # Eight writers at their commit at once, one district's or province's fold lock: the
    # seven others appended to it. And one country's, whichever provinces they are in.
    assert (appended > 0) == (provinces == 1)
    assert parts > 0
    verified = app.test_cli_runner().invoke(args=["stats", "verify"])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pulls_between_out_of_order_commits_never_skip_a_row(world, app, backend, seed):
    """Writers begin in one order and commit in another, with a writer that is never held
    in between, and a tablet pulls after every commit: it is served every household exactly
    once, and never one that is not committed yet."""
    rng = random.Random(seed)
    reader = Tablet(world, app.test_client(), "cv.vg.001")
    _, cursor, _ = reader.pull_all()
    writers = [Tablet(world, app.test_client(), "cv.vg.001") for _ in range(5)]
    households = [w.household(address=f"Số {i}, ngõ Muộn") for i, w in enumerate(writers)]
    quick = Tablet(world, app.test_client(), "cv.vg.001")

    held: dict[int, threading.Event] = {}
    release: dict[int, threading.Event] = {}
    thread_of: dict[int, int] = {}
    lock = threading.Lock()

    def hold(index_of_thread: dict[int, int] = thread_of) -> None:
        with lock:
            index = index_of_thread.get(threading.get_ident())
        if index is not None and not held[index].is_set():
            held[index].set()
            assert release[index].wait(30)

    def push(index: int) -> None:
        with lock:
            thread_of[threading.get_ident()] = index
        writers[index].push([households[index]])

    committed: set[str] = set()
    served: list[str] = []

    def pull() -> None:
        nonlocal cursor
        seen, cursor, _ = reader.pull_all(cursor)
        ids = [c["id"] for c in seen if c["entity"] == "household"]
        assert set(ids) <= committed
        served.extend(ids)

    change_sequence.before_stamp.append(hold)
    threads: dict[int, threading.Thread] = {}
    try:
        # Begin in a random order, each one held before it writes its rows.
        for index in rng.sample(range(len(writers)), len(writers)):
            held[index], release[index] = threading.Event(), threading.Event()
            threads[index] = threading.Thread(target=push, args=(index,))
            threads[index].start()
            assert held[index].wait(30)
        # Commit in another random order, one more writer going straight through halfway.
        order = rng.sample(range(len(writers)), len(writers))
        for step, index in enumerate(order):
            if step == len(order) // 2:
                extra = quick.household(address="Số 99, ngõ Nhanh")
                quick.push([extra])
                committed.add(extra["id"])
                pull()
            release[index].set()
            threads[index].join(30)
            assert not threads[index].is_alive()
            committed.add(households[index]["id"])
            pull()
    finally:
        for event_ in release.values():
            event_.set()
        change_sequence.before_stamp.remove(hold)

    assert sorted(served) == sorted(committed)
    assert len(served) == len(set(served))


def test_writers_of_one_province_never_deadlock_nor_retry(app, backend, caplog):
    """Writers of one province add twice per push to the figures (their counts, then the
    conflicts they opened), rounds after rounds: with the province's and districts' rows
    taken by whoever holds their fold lock and appended to by the others, no push
    deadlocks and none is retried; the figures then hold what a recount finds."""
    world, wards = writers_in_wards(app, provinces=1, districts=WRITERS)
    tablets = [Tablet(world, app.test_client(), f"cv.w{i}") for i in range(WRITERS)]
    rounds = 4
    batches: list[list[list[dict[str, Any]]]] = []
    for i, tablet in enumerate(tablets):
        ward = wards[i]
        per_round = []
        for r in range(rounds):
            # The same house written twice: a possible duplicate, so an open conflict.
            pair = [
                tablet.household(ward=ward, address=f"Số {r}, ngõ {i}"),
                tablet.household(ward=ward, address=f"so {r} ngo {i}"),
            ]
            per_round.append(pair + [tablet.visit(h["id"]) for h in pair])
        batches.append(per_round)
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS, timeout=30)

    def push(index: int) -> None:
        try:
            start.wait()
            for batch in batches[index]:
                answers.append(tablets[index].push(batch))
        except BaseException as exc:  # reported below
            failures.append(exc)

    caplog.set_level("WARNING", logger="field_server.services")
    threads = [threading.Thread(target=push, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(answers) == WRITERS * rounds
    statuses = {r["status"] for a in answers for r in a["results"]}
    assert statuses <= {"applied", "conflict"}, statuses
    assert [m for m in caplog.messages if "retried" in m] == []
    with app.app_context():
        conflicts = db.session.execute(
            text("SELECT count(*) FROM conflicts WHERE status = 'open'")
        ).scalar_one()
    assert conflicts == WRITERS * rounds
    verified = app.test_cli_runner().invoke(args=["stats", "verify"])
    assert verified.exit_code == 0, verified.output
