"""The store's help for quick lists (field_server/web/app/js/store.js), in Chromium.

Each household row carries its folded search text, written when the household enters the
copy (a pull, a save) and filled in for the rows of a database made by the app's first
version; `copy(user)` keeps the whole copy in memory while the copy's stamp is unchanged,
follows the page's own saves, and sees another tab's writes. Real IndexedDB, in a fresh
browser context per test, served as tests/browser/test_app_store.py does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.app_js.serving import NOWHERE, open_page, serve
from tests.browser.conftest import TABLET

WARD = "gso-2020:12019"
GROUP = "gso-2020:12019-01"
USER = "cv.vg.001"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(**TABLET)
    serve(context, NOWHERE)
    errors: list[str] = []
    try:
        yield open_page(context, NOWHERE, errors)
    finally:
        context.close()
    assert errors == []


def test_households_carry_their_search_text_from_a_pull_and_a_save(page: Any) -> None:
    seen = page.evaluate(
        """async ([user, w, g]) => {
          const { searchKey } = await import("/_t/app/js/store.js");
          const s = T.app.store;
          const id = T.newId();
          await s.applyPull(user, {changes: [{entity: "household", op: "upsert", id, version: 1,
            data: {id, version: 1, ward: w, group: g, address: "Số 12, Ngõ 5, Phố Chợ",
                   head_name: "Nguyễn Thị Lan"}}], cursor: "c1", has_more: false});
          const pulled = await s.record(user, "households", id);
          const mine = T.household(w, g, "số 3 ngõ Đình");
          await s.saveRecord(user, mine);
          const saved = await s.record(user, "households", mine.id);
          // the canvasser corrects the address: the search text follows
          await s.saveRecord(user, {type: "household.upsert", id: mine.id, base_version: 0,
            data: {...mine.data, address: "số 4 ngõ Đình", head_name: "Trần Văn Bình"}});
          const corrected = await s.record(user, "households", mine.id);
          return {pulled: pulled.search, pulledKey: searchKey(pulled.data),
                  saved: saved.search, savedKey: searchKey(saved.data),
                  corrected: corrected.search, correctedKey: searchKey(corrected.data)};
        }""",
        [USER, WARD, GROUP],
    )
    assert seen["pulled"] == seen["pulledKey"]
    assert "nguyen thi lan" in seen["pulled"]
    assert "so 12, ngo 5, pho cho" in seen["pulled"]
    assert seen["saved"] == seen["savedKey"]
    assert "nguyen van a" in seen["saved"]
    assert seen["corrected"] == seen["correctedKey"]
    assert "tran van binh" in seen["corrected"] and "so 4 ngo dinh" in seen["corrected"]
    assert "so 3" not in seen["corrected"]


# The database as the app's first version made it (store.js UPGRADES[0]), with one household.
VERSION_1 = """async ([name, user, w, g]) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const d = request.result;
      d.createObjectStore("meta", { keyPath: "key" });
      d.createObjectStore("outbox", { keyPath: "user" });
      const key = { keyPath: ["user", "gen", "id"] };
      d.createObjectStore("units", key);
      d.createObjectStore("households", key).createIndex("group", ["user", "gen", "data.group"]);
      d.createObjectStore("visits", key)
        .createIndex("household", ["user", "gen", "data.household_id"]);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  await new Promise((resolve, reject) => {
    const tx = db.transaction(["households"], "readwrite");
    tx.objectStore("households").put({user, gen: 0, id: "h-1", version: 1, local: false,
      data: {id: "h-1", version: 1, ward: w, group: g, address: "Ngõ Chùa, thôn Đồng Tỉnh",
             head_name: "Đỗ Minh Yến"}});
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}"""


def test_a_first_version_database_gets_the_search_texts_when_upgraded(page: Any) -> None:
    page.evaluate(VERSION_1, ["field-app-v1", USER, WARD, GROUP])
    seen = page.evaluate(
        """async ([name, user, g]) => {
          const { open, searchKey, DB_VERSION } = await import("/_t/app/js/store.js");
          const s = await open({name});
          const rows = await s.households(user, g);
          const version = s.db.version;
          s.close();
          return {rows: rows.map((r) => ({id: r.id, search: r.search, key: searchKey(r.data)})),
                  version, expected: DB_VERSION};
        }""",
        ["field-app-v1", USER, GROUP],
    )
    assert seen["version"] == seen["expected"] >= 2
    assert [r["id"] for r in seen["rows"]] == ["h-1"]  # the household is still there
    row = seen["rows"][0]
    assert row["search"] == row["key"]
    assert "do minh yen" in row["search"] and "ngo chua, thon dong tinh" in row["search"]


def test_the_copy_is_kept_until_it_changes_here_or_in_another_tab(page: Any) -> None:
    seen = page.evaluate(
        """async ([user, w, g]) => {
          const { open } = await import("/_t/app/js/store.js");
          const s = T.app.store;
          const row = (id) => ({entity: "household", op: "upsert", id, version: 1,
            data: {id, version: 1, ward: w, group: g, address: "Số " + id}});
          await s.applyPull(user, {changes: [row("a"), row("c")], cursor: "c1", has_more: false});
          const first = await s.copy(user);
          const again = await s.copy(user);
          // an empty pull page changes nothing shown
          await s.applyPull(user, {changes: [], cursor: "c2", has_more: false});
          const afterEmpty = await s.copy(user);
          // a save here: the kept copy follows it, as a fresh read would give it
          const visit = T.visit("a");
          await s.saveRecord(user, visit);
          const mine = T.household(w, g, "Số b");
          await s.saveRecord(user, mine);
          const followed = await s.copy(user);
          const other = await open(); // another tab, on the same database
          const fresh = await other.copy(user);
          // that tab's pull: this page's copy sees it
          await other.applyPull(user, {changes: [row("d")], cursor: "c3", has_more: false});
          const seenHere = await s.copy(user);
          other.close();
          const ids = (c) => ({households: c.households.map((r) => r.id),
                               visits: c.visits.map((r) => r.id), stamp: c.stamp});
          return {same: first === again && again === afterEmpty, changed: followed !== first,
                  followed: ids(followed), fresh: ids(fresh), seenHere: ids(seenHere),
                  visit: visit.id, mine: mine.id,
                  visitRow: followed.visits[0].data.household_id};
        }""",
        [USER, WARD, GROUP],
    )
    assert seen["same"] is True
    assert seen["changed"] is True
    assert seen["followed"] == seen["fresh"]  # households in key order, the new one included
    assert seen["mine"] in seen["followed"]["households"]
    assert seen["followed"]["visits"] == [seen["visit"]]
    assert seen["visitRow"] == "a"
    assert "d" not in seen["followed"]["households"]
    assert "d" in seen["seenHere"]["households"]
    assert seen["seenHere"]["stamp"] != seen["followed"]["stamp"]
