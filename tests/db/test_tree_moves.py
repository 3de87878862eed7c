"""On PostgreSQL, a `units import` that moves a ward and the pushes into it never cross: the
move waits for every write that read the old paths to commit, and a write that starts during
the move waits for it (store/figures.py, the tree's lock). Either way the figures follow the
tree the write committed under, which `stats verify` checks. (SQLite runs one writer at a
time: nothing to cross there.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from field_server.extensions import db
from tests.api.sync_helpers import WARD_B, Tablet
from tests.db.waiting import WAIT, wait_until

pytestmark = pytest.mark.backends("postgresql")

ADVISORY_WAITS = text(
    "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid "
    "WHERE NOT l.granted AND l.locktype = 'advisory' AND a.datname = current_database()"
)


def advisory_wait_seen(app: Any) -> bool:
    with app.app_context():
        waiting = db.session.execute(ADVISORY_WAITS).scalar_one()
        db.session.rollback()
    return waiting > 0


class Holder:
    """Holds the threads that ``enter`` at their next commit, until ``release``."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.arrived = threading.Event()
        self.released = threading.Event()

    def enter(self) -> None:
        self.threads.add(threading.get_ident())

    def __call__(self, session: Session) -> None:
        if threading.get_ident() in self.threads:
            self.threads.discard(threading.get_ident())
            self.arrived.set()
            assert self.released.wait(WAIT)

    def release(self) -> None:
        self.released.set()


@contextmanager
def held_at_commit() -> Iterator[Holder]:
    holder = Holder()
    event.listen(Session, "before_commit", holder)
    try:
        yield holder
    finally:
        holder.release()
        event.remove(Session, "before_commit", holder)


def move_ward_b(app: Any, tmp_path: Path, district: str) -> Any:
    path = tmp_path / f"to-{district}.csv"
    path.write_text(
        "scheme,code,name,level,parent_code,adult_population,target_rate\n"
        f"gso-2020,12022,Xã Xuân Quan,ward,{district},7000,0.6\n"
    )
    return app.test_cli_runner().invoke(args=["units", "import", str(path)])


def run(target: Callable[[], Any], holder: Holder | None, out: list[Any]) -> threading.Thread:
    def body() -> None:
        if holder is not None:
            holder.enter()
        try:
            out.append(target())
        except BaseException as exc:  # reported by the test
            out.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    return thread


def visits_of(app: Any, world: Any, code: str) -> int:
    client = app.test_client()
    response = client.get(
        f"/api/v1/stats?unit=gso-2020:{code}&to=2020-08-31", headers=world.headers(client, "admin")
    )
    return response.get_json()["totals"]["visits"]


def pushed(tablet: Tablet) -> Callable[[], dict]:
    household = tablet.household(ward=WARD_B, address="Số 5, ngõ Dời")
    batch = [household, tablet.visit(household["id"])]
    return lambda: tablet.push(batch)


def test_a_move_waits_for_a_push_that_read_the_old_paths(app, world, backend, tmp_path):
    push = pushed(Tablet(world, app.test_client(), "cv.xq.001"))
    answers: list[Any] = []
    moves: list[Any] = []
    with held_at_commit() as holder:
        pushing = run(push, holder, answers)
        assert holder.arrived.wait(WAIT)  # counted along Văn Giang (326), not committed
        moving = run(lambda: move_ward_b(app, tmp_path, "323"), None, moves)
        wait_until(lambda: advisory_wait_seen(app), "the move waiting for the push")
        holder.release()
        pushing.join(WAIT)
        moving.join(WAIT)
    assert [r["status"] for r in answers[0]["results"]] == ["applied", "applied"]
    assert moves[0].exit_code == 0, moves[0].output
    assert (visits_of(app, world, "326"), visits_of(app, world, "323")) == (0, 1)
    verified = app.test_cli_runner().invoke(args=["stats", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_push_during_a_move_waits_for_it(app, world, backend, tmp_path):
    push = pushed(Tablet(world, app.test_client(), "cv.xq.001"))
    answers: list[Any] = []
    moves: list[Any] = []
    with held_at_commit() as holder:
        moving = run(lambda: move_ward_b(app, tmp_path, "323"), holder, moves)
        assert holder.arrived.wait(WAIT)  # moved, not committed
        pushing = run(push, None, answers)
        wait_until(lambda: advisory_wait_seen(app), "the push waiting for the move")
        holder.release()
        moving.join(WAIT)
        pushing.join(WAIT)
    assert moves[0].exit_code == 0, moves[0].output
    assert [r["status"] for r in answers[0]["results"]] == ["applied", "applied"]
    assert (visits_of(app, world, "326"), visits_of(app, world, "323")) == (0, 1)
    verified = app.test_cli_runner().invoke(args=["stats", "verify"])
    assert verified.exit_code == 0, verified.output
