"""The pull cursor follows commit order: a transaction that started first but commits last
is never skipped, on SQLite and PostgreSQL (docs/sync-protocol.md#pull).

On PostgreSQL the late transaction holds the pull's watermark back (store/changes.py): a
transaction that started after it and committed before it is not served either until it
ends, and then both are. SQLite serialises writers, so the second cannot even commit first.
"""

from __future__ import annotations

import threading

from field_server.store import changes as change_sequence
from tests.api.sync_helpers import Tablet


def household_ids(changes: list[dict]) -> list[str]:
    return [c["id"] for c in changes if c["entity"] == "household"]


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
        # The late transaction has locked its device and households (it has a transaction
        # id on PostgreSQL), planned, and not yet written its rows nor committed.
        assert held.wait(30)
        early_household = early.household(address="Số 2 ngõ Sớm")
        if backend == "postgresql":
            # Another transaction starts after it and commits before it: no wait between
            # them, and the reader is not served it yet, or its cursor would pass the
            # late one's rows.
            assert early.push([early_household])["results"][0]["status"] == "applied"
            seen, cursor, _ = reader.pull_all(cursor)
            assert household_ids(seen) == []
        else:
            # SQLite serialises writers: the reader still sees nothing of the held one.
            seen, cursor, _ = reader.pull_all(cursor)
            assert household_ids(seen) == []
        release.set()
        thread.join(30)
        assert not thread.is_alive()
        if backend != "postgresql":
            early.push([early_household])
        seen, cursor, _ = reader.pull_all(cursor)
        assert sorted(household_ids(seen)) == sorted([late_household["id"], early_household["id"]])
        assert results["late"]["results"][0]["status"] == "applied"
        # Nothing is served twice, and nothing is left.
        again, _, _ = reader.pull_all(cursor)
        assert household_ids(again) == []
    finally:
        release.set()
        change_sequence.before_stamp.remove(hold_first_stamp)
