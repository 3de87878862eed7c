"""The pull cursor follows commit order: a transaction that started first but commits last
is never skipped, on SQLite and PostgreSQL (docs/sync-protocol.md#pull)."""

from __future__ import annotations

import threading

from field_server.store import changes as change_sequence
from tests.api.sync_helpers import Tablet


def test_a_late_commit_is_not_skipped(world, app, backend):
    early = Tablet(world, app.test_client(), "cv.vg.001")
    late_writer = Tablet(world, app.test_client(), "cv.vg.001")
    reader = Tablet(world, app.test_client(), "cv.vg.001")
    _, cursor, _ = reader.pull_all()

    held, release = threading.Event(), threading.Event()

    def hold_first_stamp() -> None:
        if threading.get_ident() == late_thread_id[0] and not held.is_set():
            held.set()
            assert release.wait(30)

    late_thread_id: list[int] = []
    late_household = late_writer.household(address="Số 1 ngõ Muộn")
    results: dict[str, dict] = {}

    def push_late() -> None:
        late_thread_id.append(threading.get_ident())
        results["late"] = late_writer.push([late_household])

    change_sequence.before_stamp.append(hold_first_stamp)
    try:
        thread = threading.Thread(target=push_late)
        thread.start()
        assert held.wait(30)  # the late transaction has written, not yet committed
        early_household = early.household(address="Số 2 ngõ Sớm")
        if backend == "postgresql":
            # Another transaction starts after it and commits before it.
            early.push([early_household])
            seen, cursor, _ = reader.pull_all(cursor)
            assert [c["id"] for c in seen if c["entity"] == "household"] == [early_household["id"]]
        else:
            # SQLite serialises writers: the reader still sees nothing of the held one.
            seen, _, _ = reader.pull_all(cursor)
            assert [c for c in seen if c["entity"] == "household"] == []
        release.set()
        thread.join(30)
        if backend != "postgresql":
            early.push([early_household])
            seen, cursor, _ = reader.pull_all(cursor)
            assert {c["id"] for c in seen if c["entity"] == "household"} == {
                late_household["id"],
                early_household["id"],
            }
            return
        seen, _, _ = reader.pull_all(cursor)
        assert [c["id"] for c in seen if c["entity"] == "household"] == [late_household["id"]]
        assert results["late"]["results"][0]["status"] == "applied"
    finally:
        release.set()
        change_sequence.before_stamp.remove(hold_first_stamp)
