"""The canvassers' app's IndexedDB store (field_server/web/app/js/store.js), in Chromium.

Real IndexedDB, in a fresh browser context per test (its own empty profile), on an origin
that no server listens on: tests/browser/app_js/serving.py answers the page and modules
from the repository. The closing-the-browser test uses a persistent profile in tmp_path,
closed and launched again, as a canvasser's tablet is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.app_js.serving import NOWHERE, open_page, serve
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, TABLET

WARD = "gso-2020:12019"
GROUP = "gso-2020:12019-01"

SAVE_HOUSEHOLD_AND_VISITS = """async ([user, n]) => {
  const { app, household, visit } = T;
  const h = household("gso-2020:12019", "gso-2020:12019-01", "Số 1, ngõ 2");
  const ids = [(await app.store.saveRecord(user, h)).mutation_id];
  for (let i = 0; i < n; i++) ids.push((await app.store.saveRecord(user, visit(h.id))).mutation_id);
  return {ids, household: h.id};
}"""


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    opened = browser.new_context(**TABLET)
    serve(opened, NOWHERE)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def errors() -> Iterator[list[str]]:
    seen: list[str] = []
    yield seen
    assert seen == []


def test_saving_numbers_consecutively_and_keeps_the_record(context: Any, errors: list[str]) -> None:
    page = open_page(context, NOWHERE, errors)
    saved = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.001", 5])
    assert saved["ids"] == [1, 2, 3, 4, 5, 6]
    state = page.evaluate(
        """async ([h, group]) => ({
          waiting: await T.app.store.waitingCount("cv.vg.001"),
          group: (await T.app.store.households("cv.vg.001", group)).map((r) => r.id),
          visits: (await T.app.store.visits("cv.vg.001", h)).length,
          hlcs: (await T.app.store.waiting("cv.vg.001")).map((m) => m.hlc),
        })""",
        [saved["household"], GROUP],
    )
    assert state["waiting"] == 6
    assert state["group"] == [saved["household"]]
    assert state["visits"] == 5
    assert len(set(state["hlcs"])) == 6  # every save a new clock reading


def test_the_outbox_survives_a_reload(context: Any, errors: list[str]) -> None:
    page = open_page(context, NOWHERE, errors)
    first = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.001", 3])
    device = page.evaluate("async () => (await T.app.store.device()).device_id")
    page.reload()
    page.wait_for_function("window.harnessReady === true")
    assert page.evaluate("T.start()") == device  # the identity is never made again
    again = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.001", 1])
    assert first["ids"] == [1, 2, 3, 4]
    assert again["ids"] == [5, 6]
    assert page.evaluate('T.app.store.waitingCount("cv.vg.001")') == 6


def test_the_outbox_survives_closing_the_browser(browser: Any, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    errors: list[str] = []

    def launch() -> Any:
        context = browser.browser_type.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            **TABLET,
        )
        serve(context, NOWHERE)
        return context

    context = launch()
    page = open_page(context, NOWHERE, errors)
    saved = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.001", 9])
    device = page.evaluate("async () => (await T.app.store.device()).device_id")
    context.close()  # the tablet's browser closed: only what IndexedDB committed is left

    context = launch()
    try:
        page = open_page(context, NOWHERE, errors)
        assert page.evaluate("async () => (await T.app.store.device()).device_id") == device
        waiting = page.evaluate('T.app.store.waiting("cv.vg.001")')
        assert [m["mutation_id"] for m in waiting] == saved["ids"]
        assert [m["type"] for m in waiting] == ["household.upsert"] + ["visit.create"] * 9
        more = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.001", 0])
        assert more["ids"] == [11]
    finally:
        context.close()
    assert errors == []


def test_a_reset_swaps_the_copy_and_keeps_the_outbox(context: Any, errors: list[str]) -> None:
    page = open_page(context, NOWHERE, errors)
    result = page.evaluate(
        """async ([w, g]) => {
          const { app, household, visit, newId } = T;
          const s = app.store, user = "cv.vg.001";
          const row = (id, group) => ({entity: "household", op: "upsert", id, version: 1,
            data: {id, version: 1, ward: w, group, address: "Số " + id}});
          const [old1, old2, new1] = [newId(), newId(), newId()];
          await s.applyPull(user, {changes: [row(old1, g), row(old2, g)],
            cursor: "c1", has_more: false});
          const mine = household(w, g, "Số 9");
          await s.saveRecord(user, mine);
          await s.saveRecord(user, visit(old1));
          const ids = async () => (await s.households(user)).map((h) => h.id).sort();
          const before = await ids();
          // reset: the first page of a full copy, then a second, last page
          await s.applyPull(user, {changes: [row(new1, g)], cursor: "c2",
            has_more: true, reset: true});
          const during = await ids();
          await s.applyPull(user, {changes: [row(old1, g)], cursor: "c3", has_more: false});
          return {before, during, after: await ids(), old1, old2, new1, mine: mine.id,
                  waiting: (await s.waiting(user)).map((m) => m.mutation_id),
                  cursor: (await s.syncState(user)).cursor};
        }""",
        [WARD, GROUP],
    )
    r = result
    assert r["before"] == sorted([r["old1"], r["old2"], r["mine"]])
    assert r["during"] == r["before"]  # the old copy stays usable while the new one is built
    # old2 is gone with the old copy; the household saved here and still waiting is kept
    assert r["after"] == sorted([r["old1"], r["new1"], r["mine"]])
    assert r["waiting"] == [1, 2]
    assert r["cursor"] == "c3"


def test_two_users_outboxes_stay_apart(context: Any, errors: list[str]) -> None:
    page = open_page(context, NOWHERE, errors)
    a = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.001", 2])
    b = page.evaluate(SAVE_HOUSEHOLD_AND_VISITS, ["cv.vg.002", 1])
    seen = page.evaluate(
        """async () => {
          const s = T.app.store;
          const mine = async (u) => (await s.waiting(u)).map((m) => m.mutation_id);
          return {a: await mine("cv.vg.001"), b: await mine("cv.vg.002"),
                  aHas: await s.hasWaiting("cv.vg.001"), cHas: await s.hasWaiting("cv.xq.001"),
                  aCopy: (await s.households("cv.vg.001")).length,
                  bCopy: (await s.households("cv.vg.002")).length,
                  byUser: await s.waitingByUser()};
        }"""
    )
    # one numbering for the device (the server numbers per device), two outboxes
    assert a["ids"] == [1, 2, 3]
    assert b["ids"] == [4, 5]
    assert seen["a"] == [1, 2, 3]
    assert seen["b"] == [4, 5]
    assert seen["aHas"] is True
    assert seen["cHas"] is False
    assert (seen["aCopy"], seen["bCopy"]) == (1, 1)
    assert seen["byUser"] == {"cv.vg.001": 3, "cv.vg.002": 2}
