"""The canvassers' app's sync engine (field_server/web/app/js/sync.js) against the real server.

The live server (tests/browser/conftest.py) runs the suite's app with its world; the test
page and the app's modules are routed onto the live server's own origin
(tests/browser/app_js/serving.py), so the app's fetches to /api/v1 are same-origin, as on a
tablet. What the server holds afterwards is read through the API with the Flask test client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.sync_helpers import GROUP_A1, WARD_A, Tablet
from tests.browser.app_js.serving import open_page, serve
from tests.browser.conftest import TABLET

USER = "cv.vg.001"  # the whole ward A


@pytest.fixture
def seeded(world: Any, client: Any) -> list[str]:
    """Three households of ward A (group -01), recorded by another canvasser's tablet."""
    other = Tablet(world, client, "cv.vg.002")
    households = [other.household(group=GROUP_A1, address=f"Số {n}, ngõ 7") for n in (1, 2, 3)]
    other.push(households)
    return [h["id"] for h in households]


@pytest.fixture
def console() -> list[str]:
    """The page's console errors: a test fails on any it does not expect."""
    return []


@pytest.fixture
def tablet(browser: Any, live_server: str, world: Any, console: list[str]) -> Iterator[Any]:
    """The app's page on the live server's origin, logged in as USER and synced once."""
    context = browser.new_context(**TABLET)
    serve(context, live_server)
    errors = console
    page = open_page(context, live_server, errors)
    page.evaluate("([u, p]) => T.app.sync.login(u, p, 'Tab 7')", [USER, world.passwords[USER]])
    page.evaluate("T.app.sync.syncNow()")
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def server_visits(world: Any, client: Any) -> list[dict[str, Any]]:
    headers = world.headers(client, "sv.vangiang")
    answer = client.get(f"/api/v1/visits?ward={WARD_A}&limit=1000", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["has_more"] is False
    return body["items"]


RECORD_40 = """async ([user, households, ward, group]) => {
  const { app, household, visit } = T;
  const ids = [];
  for (let i = 0; i < 30; i++) {
    const v = visit(households[i % households.length]);
    await app.store.saveRecord(user, v);
    ids.push(v.id);
  }
  for (let i = 0; i < 10; i++) {
    const h = household(ward, group, `Số ${100 + i}, ngõ 9`);
    await app.store.saveRecord(user, h);
    const v = visit(h.id);
    await app.store.saveRecord(user, v);
    ids.push(v.id);
  }
  return ids;
}"""


def record_40(page: Any, households: list[str]) -> list[str]:
    return page.evaluate(RECORD_40, [USER, households, WARD_A, GROUP_A1])


def test_login_and_pull_give_the_wards_units_and_households(tablet: Any, seeded: list[str]) -> None:
    # seeded after the first sync: the next sync brings them
    tablet.evaluate("T.app.sync.syncNow()")
    copy = tablet.evaluate(
        """async ([user, group]) => ({
          units: (await T.app.store.units(user)).map((u) => u.id),
          households: (await T.app.store.households(user)).map((h) => h.id).sort(),
          group: (await T.app.store.households(user, group)).length,
          state: await T.app.store.syncState(user),
        })""",
        [USER, GROUP_A1],
    )
    assert f"unit/{WARD_A}" in copy["units"]
    assert any(u.startswith("assignment/") for u in copy["units"])
    assert copy["households"] == sorted(seeded)
    assert copy["group"] == 3
    assert copy["state"]["cursor"]
    assert copy["state"]["last_sync_at"]


def test_forty_visits_reach_the_server_exactly_once(
    tablet: Any, seeded: list[str], world: Any, client: Any
) -> None:
    tablet.evaluate("T.app.sync.syncNow()")
    ids = record_40(tablet, seeded)
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 50
    tablet.evaluate("T.app.sync.syncNow()")
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 0
    on_server = [v["id"] for v in server_visits(world, client)]
    assert sorted(on_server) == sorted(ids)
    # the pull brought the server's versions back into the copy
    versions = tablet.evaluate(
        f"async () => (await T.app.store.visits({USER!r})).map((v) => [v.version, v.local])"
    )
    assert versions == [[1, False]] * 40


def test_lost_push_answers_double_nothing(
    tablet: Any,
    seeded: list[str],
    world: Any,
    client: Any,
    live_server: str,
    console: list[str],
) -> None:
    tablet.evaluate("T.app.sync.syncNow()")
    ids = record_40(tablet, seeded)
    dropped: list[int] = []

    def drop_answer(route: Any) -> None:
        if len(dropped) < 3:
            route.fetch()  # the server commits the batch...
            dropped.append(1)
            route.abort()  # ...and its answer never reaches the tablet
        else:
            route.continue_()

    tablet.context.route(f"{live_server}/api/v1/sync/push", drop_answer)
    tablet.evaluate("T.app.sync.batchSize = 7")  # several batches, the drops among them
    tablet.evaluate("T.app.sync.syncNow()")
    assert len(dropped) == 3
    # the browser reports each cut answer; nothing else may be in the console
    assert console == ["Failed to load resource: net::ERR_FAILED"] * 3
    console.clear()
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 0
    on_server = [v["id"] for v in server_visits(world, client)]
    assert sorted(on_server) == sorted(ids)  # nothing doubled, nothing missing
    assert tablet.evaluate(f"T.app.store.rejected({USER!r})") == []


def test_a_merged_household_is_rewritten_in_the_local_copy(
    tablet: Any, seeded: list[str], world: Any, client: Any
) -> None:
    tablet.evaluate("T.app.sync.syncNow()")
    merged, survivor = seeded[0], seeded[1]
    answer = client.post(
        f"/api/v1/households/{merged}/merge",
        json={"into": survivor},
        headers=world.headers(client, "sv.vangiang"),
    )
    assert answer.status_code == 200, answer.get_json()
    # offline, the tablet still shows the merged household and records a visit there
    visit_id = tablet.evaluate(
        """async ([user, h]) => {
          const v = T.visit(h);
          await T.app.store.saveRecord(user, v);
          return v.id;
        }""",
        [USER, merged],
    )
    result = tablet.evaluate(
        """async ([user, merged, survivor, visit]) => {
          const s = T.app.store, sync = T.app.sync;
          const pushed = await sync.push();  // the answer alone, before any pull
          return {pushed,
                  merged: await s.record(user, "households", merged),
                  atSurvivor: (await s.visits(user, survivor)).map((v) => v.id),
                  visit: (await s.record(user, "visits", visit)).data.household_id};
        }""",
        [USER, merged, survivor, visit_id],
    )
    assert result["pushed"]["acknowledged"] == 1
    assert result["merged"] is None
    assert visit_id in result["atSurvivor"]
    assert result["visit"] == survivor
    tablet.evaluate("T.app.sync.syncNow()")
    by_id = {v["id"]: v for v in server_visits(world, client)}
    assert by_id[visit_id]["household_id"] == survivor
    # a later visit saved at the merged household goes to the survivor from the start
    later = tablet.evaluate(
        "async ([user, h]) => (await T.app.store.saveRecord(user, T.visit(h))).data.household_id",
        [USER, merged],
    )
    assert later == survivor


def test_a_rejected_mutation_lands_in_the_rejected_list(tablet: Any, seeded: list[str]) -> None:
    tablet.evaluate("T.app.sync.syncNow()")
    bad = tablet.evaluate(
        """async ([user, h]) => {
          // more installs than smartphones: the screens would refuse it, the server does
          const v = T.visit(h, {installed_during: 5});
          await T.app.store.saveRecord(user, v);
          await T.app.store.saveRecord(user, T.visit(h));
          return v.id;
        }""",
        [USER, seeded[0]],
    )
    tablet.evaluate("T.app.sync.syncNow()")
    state = tablet.evaluate(
        """async ([user, id]) => ({
          waiting: await T.app.store.waitingCount(user),
          rejected: await T.app.store.rejected(user),
          inCopy: await T.app.store.record(user, "visits", id),
        })""",
        [USER, bad],
    )
    assert state["waiting"] == 0
    assert [r["mutation"]["id"] for r in state["rejected"]] == [bad]
    result = state["rejected"][0]["result"]
    assert result["code"] == "validation_failed"
    assert "installed_during" in result["errors"]
    assert state["inCopy"] is None
