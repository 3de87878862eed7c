"""Issue 12's acceptance scenarios for the canvassers' app, driven through its real screens.

The app runs whole at /app/ on the live server (tests/browser/conftest.py), in Chromium, as on
a tablet: a canvasser logs in on the login screen, taps groups, households, "Hộ mới", the
visit form and a household's edit screen, and the header's "Chờ gửi" count and sync button
do the rest. Records made by other tablets and every supervisor's action go through the API
with the Flask test client, and what reaches the server is read back the same way.

1. A day offline: 40 visits (10 at new households) in two lists of ward A (group -01 and the
   ward's households of no group), typed offline after the app reopened from its service
   worker; the browser closed and reopened on the same profile, still offline, the outbox
   intact; the network back, every visit on the server exactly once and the ward's figures
   equal to what the test typed.
2. Two tablets, two canvassers, one house: each records it as a new household offline; both
   sync; the possible duplicate reaches the supervisor, who merges the pair; a household both
   tablets hold is changed by both, offline, on its edit screen ("Sửa thông tin hộ"); both
   sync, and the supervisor settles the conflict; after their next sync both tablets show one
   household and the settled value. A visit the supervisor rejects shows on #/rejected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.api.sync_helpers import GROUP_A1, WARD_A, Tablet
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    TABLET,
    horizontal_overflow,
    screenshot,
    serious_violations,
)

CANVASSER = "cv.vg.001"  # the whole ward A: its group -01 and its households of no group
OTHER = "cv.vg.002"  # group -01 of ward A only
SUPERVISOR = "sv.vangiang"
WIDTH = 360
# Chromium reports each request it could not send with no network; nothing else may show.
OFFLINE_ERRORS = ("net::ERR_INTERNET_DISCONNECTED",)
SYNC_TIMEOUT = 60_000  # ms: a bound on waiting for a sync, never a measure of it


# --- the tablet ------------------------------------------------------------------------------


@dataclass
class Screen:
    """One tablet's page on /app/ and the console errors it logged."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def watch(self) -> Screen:
        page = self.page
        page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return self

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not e.endswith(OFFLINE_ERRORS)]


def open_app(page: Any, base: str) -> Any:
    """/app/ opened in ``page``; the answer to that navigation."""
    answer = page.goto(f"{base}/app/")
    page.wait_for_selector("body[data-ready=true]")
    return answer


def log_in(page: Any, world: Any, user: str) -> None:
    """The login screen, then the home screen once the first sync (the pull) has ended."""
    page.get_by_label("Tên đăng nhập").fill(user)
    page.get_by_label("Mật khẩu").fill(world.passwords[user])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("body[data-shown=groups]")
    page.wait_for_selector("#last-sync:not([data-last-sync=''])")
    page.wait_for_selector("#waiting[data-waiting='0']")


def go(page: Any, hash_: str, screen: str) -> None:
    page.evaluate("(h) => { location.hash = h; }", hash_)
    page.wait_for_selector(f"body[data-shown='{screen}']")


def sync_by_button(page: Any) -> None:
    """Tap "Đồng bộ" and wait for that sync to end with nothing left waiting.

    The last sync's time is read once no sync runs (the button is enabled again): read while
    one ran (a retry after an offline save, say), the end of that one would pass for the end
    of the sync tapped, whose pull is still to come."""
    page.wait_for_selector("#sync-now:enabled")
    before = page.get_attribute("#last-sync", "data-last-sync")
    page.get_by_role("button", name="Đồng bộ").click()
    page.wait_for_function(
        """(before) => document.getElementById('last-sync').dataset.lastSync !== before
            && !document.getElementById('sync-now').disabled""",
        arg=before,
        timeout=SYNC_TIMEOUT,
    )
    page.wait_for_selector("#waiting[data-waiting='0']")


def open_list(page: Any, ref: str) -> None:
    """The list of group ``ref`` (a ward's: its households of no group), unless it is shown:
    from the home screen, a tap on it."""
    shown = page.evaluate("[document.body.dataset.shown, decodeURIComponent(location.hash)]")
    if shown == ["households", f"#/households/{ref}"]:
        return
    if shown[0] != "groups":
        go(page, "#/groups", "groups")
    page.locator(f"a.group[data-group='{ref}']").click()
    page.wait_for_selector("body[data-shown=households]")


def record_visit(page: Any, outcome: str, taps: dict[str, int], back_to: str) -> None:
    """On the visit screen: the outcome's button, the steppers' + taps, save."""
    page.check(f"[data-outcome='{outcome}'] input")
    for name, times in taps.items():
        for _ in range(times):
            page.click(f"[data-step='{name}+']")
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    page.wait_for_selector(f"body[data-shown='{back_to}']")


def new_household(page: Any, address: str, head: str) -> str:
    """From a list: "Hộ mới", the form, save; the app goes on to the visit screen. Its id."""
    page.locator("a.new-household").click()
    page.wait_for_selector("body[data-shown=household-new]")
    page.get_by_label("Địa chỉ").fill(address)
    page.get_by_label("Họ tên chủ hộ").fill(head)
    page.get_by_role("button", name="Lưu hộ mới").click()
    page.wait_for_selector("body[data-shown=visit-new]")
    return str(page.evaluate("decodeURIComponent(location.hash.split('/')[2])"))


def edit_head(page: Any, household: str, head: str) -> None:
    """From a list: the household, "Sửa thông tin hộ", a new head of household, save; the app
    goes back to the household's page."""
    page.locator(f"a.household[data-household='{household}']").click()
    page.wait_for_selector("body[data-shown=visit-new]")
    page.get_by_role("link", name="Sửa thông tin hộ").click()
    page.wait_for_selector("body[data-shown=household-edit]")
    page.get_by_label("Họ tên chủ hộ").fill(head)
    page.get_by_role("button", name="Lưu sửa đổi").click()
    page.wait_for_selector("body[data-shown=visit-new]")
    assert page.locator("#notice").inner_text() == "Đã lưu"


# --- the server, through the API ------------------------------------------------------------


@dataclass
class Supervisor:
    """The ward's supervisor on the API, logged in once (a login hashes a password)."""

    client: Any
    headers: dict[str, str]

    def get(self, url: str) -> Any:
        answer = self.client.get(url, headers=self.headers)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def post(self, url: str, body: dict[str, Any]) -> Any:
        answer = self.client.post(url, json=body, headers=self.headers)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def visits(self) -> list[dict[str, Any]]:
        body = self.get(f"/api/v1/visits?ward={WARD_A}&limit=1000")
        assert body["has_more"] is False
        return list(body["items"])

    def households(self) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v1/households?ward={WARD_A}&limit=500")["items"])

    def open_conflicts(self) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v1/conflicts?ward={WARD_A}&status=open")["items"])


@pytest.fixture
def sv(world: Any, client: Any) -> Supervisor:
    return Supervisor(client, world.headers(client, SUPERVISOR))


# --- 1. a day offline ------------------------------------------------------------------------

# The two lists of ward A the canvasser works in, its group -01 and its households of no group,
# with the streets of the households known before the day and of those found during it.
LISTS = {GROUP_A1: ("ngõ 1", "ngõ 3"), WARD_A: ("ngõ 2", "ngõ 4")}
KNOWN = 15  # households of each list on the server before the day starts
NEW = 5  # households of each list the canvasser finds and adds


def outcome_of(i: int) -> tuple[str, dict[str, int]]:
    """The i-th visit's outcome and its stepper taps: mostly an outcome with no counts."""
    if i % 4 == 0:
        taps = {"adults": 2, "smartphones": 2, "installed_during": 1}
        if i % 8 == 0:
            taps["installed_before"] = 1
        return "installed", taps
    if i % 10 == 3:
        return "refused", {"adults": 1, "smartphones": 1}
    if i % 10 == 7:
        return "vacant", {}
    return "not_home", {}


@pytest.fixture
def known(world: Any, client: Any) -> dict[str, list[str]]:
    """KNOWN households in each list, recorded by another tablet: list ref -> their ids."""
    other = Tablet(world, client, CANVASSER)  # the canvasser's other tablet
    made: dict[str, list[str]] = {}
    mutations = []
    for ref, (street, _) in LISTS.items():
        group = ref if ref != WARD_A else None
        households = [
            other.household(group=group, address=f"Số {n}, {street}", head_name=f"Chủ hộ {n}")
            for n in range(1, KNOWN + 1)
        ]
        made[ref] = [h["id"] for h in households]
        mutations += households
    answer = other.push(mutations)
    assert {r["status"] for r in answer["results"]} == {"applied"}, answer
    return made


def launch(browser: Any, profile: Path, *, offline: bool) -> Any:
    """Chromium on a profile kept on disk: closed and launched again, it is the same tablet."""
    return browser.browser_type.launch_persistent_context(
        user_data_dir=str(profile),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_FLAGS,
        offline=offline,
        viewport={"width": WIDTH, "height": 800},
        **TABLET,
    )


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    return tmp_path / "tablet-profile"


def test_a_day_offline_reaches_the_server_exactly_once_and_the_figures_add_up(
    browser: Any,
    live_server: str,
    world: Any,
    client: Any,
    known: dict[str, list[str]],
    profile: Path,
    sv: Supervisor,
) -> None:
    # Online: log in and pull; the service worker takes the page (the shell is cached).
    context = launch(browser, profile, offline=False)
    try:
        tablet = Screen(context.pages[0] if context.pages else context.new_page()).watch()
        page = tablet.page
        open_app(page, live_server)
        log_in(page, world, CANVASSER)
        for ref in LISTS:
            page.wait_for_selector(f"a.group[data-group='{ref}'][data-households='{KNOWN}']")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")

        # The network goes; the app opens again from its service worker, still logged in.
        context.set_offline(True)
        answer = page.reload()
        assert answer is not None and answer.from_service_worker
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector("body[data-shown=groups]")
        assert page.locator("#network").is_visible()
        assert page.get_attribute("#user-name", "data-user") == CANVASSER

        # 40 visits typed through the screens: in each list, its known households, then new
        # ones found on the way. typed: household id -> (outcome, taps); new: id -> address.
        typed: dict[str, tuple[str, dict[str, int]]] = {}
        new: dict[str, tuple[str, str | None]] = {}
        listed: dict[str, str] = {}  # household id -> the list it is in
        i = 0
        for ref, (_, street) in LISTS.items():
            # after a save, the app goes back to the group's list (no group: the home screen)
            back_to = "households" if ref == GROUP_A1 else "groups"
            for household in known[ref]:
                open_list(page, ref)
                page.locator(f"a.household[data-household='{household}']").click()
                page.wait_for_selector("body[data-shown=visit-new]")
                typed[household], listed[household] = outcome_of(i), ref
                record_visit(page, *typed[household], back_to=back_to)
                i += 1
            for n in range(1, NEW + 1):
                open_list(page, ref)
                address = f"Số {n}, {street}"
                household = new_household(page, address, f"Người mới {n}")
                new[household] = (address, ref if ref != WARD_A else None)
                typed[household], listed[household] = outcome_of(i), ref
                record_visit(page, *typed[household], back_to=back_to)
                i += 1
        assert len(typed) == 40 and len(new) == 10
        page.wait_for_selector("#waiting[data-waiting='50']")  # 10 households, 40 visits
        assert sv.visits() == []
        screenshot(page, "app-acceptance-offline-360")
    finally:
        context.close()  # the browser closes: the tablet is put away

    # The same profile, launched again, still offline: the app and its outbox are there.
    context = launch(browser, profile, offline=True)
    try:
        again = Screen(context.pages[0] if context.pages else context.new_page()).watch()
        page = again.page
        answer = open_app(page, live_server)
        assert answer is not None and answer.from_service_worker
        page.wait_for_selector("body[data-shown=groups]")
        assert page.get_attribute("#user-name", "data-user") == CANVASSER
        assert page.get_attribute("#waiting", "data-waiting") == "50"
        assert page.locator("#waiting").inner_text() == "50"
        for ref in LISTS:  # the lists hold the day's households and visits too
            done = [typed[h][0] for h, there in listed.items() if there == ref]
            revisits = sum(outcome == "not_home" for outcome in done)
            page.wait_for_selector(
                f"a.group[data-group='{ref}'][data-households='{KNOWN + NEW}']"
                f"[data-visited='{len(done) - revisits}'][data-revisits='{revisits}']"
            )

        # The network comes back: the app syncs by itself.
        context.set_offline(False)
        page.wait_for_selector("#waiting[data-waiting='0']", timeout=SYNC_TIMEOUT)
        assert again.unexpected() == [] and tablet.unexpected() == []
    finally:
        context.close()

    # Every visit on the server exactly once, each as it was typed.
    visits = sv.visits()
    assert len(visits) == 40
    by_household = Counter(v["household_id"] for v in visits)
    assert set(by_household) == set(typed) and set(by_household.values()) == {1}
    for visit in visits:
        outcome, taps = typed[visit["household_id"]]
        assert visit["outcome"] == outcome
        assert visit["canvasser"] == CANVASSER
        for name in ("adults", "smartphones", "installed_before", "installed_during"):
            want = taps.get(name, 0) if taps else None  # no counts with none typed
            assert visit[name] == want, (visit, taps)
    households = {h["id"]: h for h in sv.households()}
    for household, (address, group) in new.items():
        assert households[household]["address"] == address
        assert households[household]["group"] == group
    assert len(households) == 2 * (KNOWN + NEW)

    # The ward's figures, as counted from what was typed.
    totals = sv.get(f"/api/v1/stats?unit={WARD_A}")["totals"]
    with_counts = [taps for _, taps in typed.values() if taps]
    outcomes = Counter(outcome for outcome, _ in typed.values())
    figures = {
        "households": 2 * (KNOWN + NEW),
        "households_visited": 40,
        "visits": 40,
        "adults_counted": sum(t.get("adults", 0) for t in with_counts),
        "smartphones": sum(t.get("smartphones", 0) for t in with_counts),
        "installed": sum(
            t.get("installed_before", 0) + t.get("installed_during", 0) for t in with_counts
        ),
        "installed_during_campaign": sum(t.get("installed_during", 0) for t in with_counts),
        "priority_subjects": 0,
        "priority_installed": 0,
        "open_conflicts": 0,
    }
    assert {k: totals[k] for k in figures} == figures
    assert {k: n for k, n in totals["by_outcome"].items() if n} == dict(outcomes)
    assert totals["review"]["pending"] == 40


# --- 2. two tablets, one house ---------------------------------------------------------------

THE_HOUSE = "Số 15, ngõ 3"  # recorded as new on both tablets
SHARED = "Số 8, ngõ 5"  # on both tablets already; both change its head of household
SETTLED = "Nguyễn Văn Bảy"  # the supervisor's value


@pytest.fixture
def shared(world: Any, client: Any) -> str:
    """A household of group -01 that both canvassers' tablets pull: its id."""
    seeder = Tablet(world, client, OTHER)
    household = seeder.household(group=GROUP_A1, address=SHARED, head_name="Nguyễn Văn Ba")
    answer = seeder.push([household])
    assert answer["results"][0]["status"] == "applied", answer
    return str(household["id"])


@pytest.fixture
def tablets(browser: Any, live_server: str, world: Any, shared: str) -> Iterator[list[Screen]]:
    """Two tablets at 360 px, each its own profile: cv.vg.001's and cv.vg.002's, logged in
    and synced (the shared household pulled)."""
    contexts = [
        browser.new_context(viewport={"width": WIDTH, "height": 800}, **TABLET) for _ in range(2)
    ]
    screens = [Screen(c.new_page()).watch() for c in contexts]
    try:
        for screen, user in zip(screens, (CANVASSER, OTHER), strict=True):
            open_app(screen.page, live_server)
            log_in(screen.page, world, user)
            screen.page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='1']")
        yield screens
    finally:
        for context in contexts:
            context.close()
    for screen in screens:
        assert screen.unexpected() == []


def rows(page: Any) -> dict[str, str]:
    """The households list as shown: household id -> the row's text."""
    return dict(
        page.locator("a.household").evaluate_all(
            "links => links.map(a => [a.dataset.household, a.textContent])"
        )
    )


def test_two_tablets_one_house_the_supervisor_settles_and_both_tablets_follow(
    tablets: list[Screen], shared: str, sv: Supervisor
) -> None:
    first, second = (screen.page for screen in tablets)

    # Both offline, both canvassers find the same house and record it as new, with a visit.
    made: dict[str, str] = {}  # user -> the household id their tablet made
    for page, user, address, head, outcome, taps in (
        (first, CANVASSER, THE_HOUSE, "Trần Thị Hoa", "not_home", {}),
        (
            second,
            OTHER,
            "so 15 ngo 3",
            "Tran Thi Hoa",
            "installed",
            {"adults": 1, "smartphones": 1, "installed_during": 1},
        ),
    ):
        page.context.set_offline(True)
        open_list(page, GROUP_A1)
        made[user] = new_household(page, address, head)
        record_visit(page, outcome, taps, back_to="households")
        page.wait_for_selector("#waiting[data-waiting='2']")

    # Both sync, one after the other: the second one's house is a possible duplicate.
    for page in (first, second):
        page.context.set_offline(False)
        page.wait_for_selector("#waiting[data-waiting='0']", timeout=SYNC_TIMEOUT)
    conflicts = sv.open_conflicts()
    assert [(c["kind"], c["entity_id"]) for c in conflicts] == [("possible_duplicate", made[OTHER])]

    # The supervisor merges the pair: the conflict is settled.
    sv.post(f"/api/v1/households/{made[OTHER]}/merge", {"into": made[CANVASSER]})
    assert sv.open_conflicts() == []

    # The household both tablets hold is changed on both, offline, on its edit screen, from
    # the same version: each canvasser puts another head of household. Both sync, one after
    # the other: the later change is applied and a conflict recorded for the supervisor.
    for page, head in ((first, "Nguyễn Văn Bá"), (second, "Nguyễn Văn Ba (con)")):
        page.context.set_offline(True)
        open_list(page, GROUP_A1)
        edit_head(page, shared, head)
        page.wait_for_selector("#waiting[data-waiting='1']")
    for page in (first, second):
        page.context.set_offline(False)
        page.wait_for_selector("#waiting[data-waiting='0']", timeout=SYNC_TIMEOUT)
    (conflict,) = sv.open_conflicts()
    assert (conflict["kind"], conflict["entity_id"]) == ("field_conflict", shared)
    assert set(conflict["fields"]) == {"head_name"}
    sv.post(
        f"/api/v1/conflicts/{conflict['id']}/resolve",
        {"resolution": "set", "values": {"head_name": SETTLED}},
    )

    # And the supervisor rejects the first canvasser's visit at the house.
    visits = {v["canvasser"]: v for v in sv.visits()}
    assert {v["household_id"] for v in visits.values()} == {made[CANVASSER]}  # moved there
    sv.post(
        f"/api/v1/visits/{visits[CANVASSER]['id']}/review",
        {"action": "reject", "comment": "Ảnh không khớp địa chỉ"},
    )

    # After their next sync, both tablets show one house, with both visits, and the
    # supervisor's value for the shared household.
    for page in (first, second):
        sync_by_button(page)
        go(page, "#/groups", "groups")
        open_list(page, GROUP_A1)  # drawn afresh from the tablet's copy
        shown = rows(page)
        assert set(shown) == {made[CANVASSER], shared}
        assert SETTLED in shown[shared]
        assert "Trần Thị Hoa" in shown[made[CANVASSER]]
        page.locator(f"a.household[data-household='{made[CANVASSER]}']").click()
        page.wait_for_selector("body[data-shown=visit-new]")
        listed = page.locator("[data-visit]").evaluate_all(
            "links => links.map(a => a.dataset.visit)"
        )
        assert sorted(listed) == sorted(v["id"] for v in visits.values())
    assert horizontal_overflow(second) == 0
    screenshot(second, "app-acceptance-merged-360")

    # The rejected visit shows on the first tablet's list of records refused.
    go(first, "#/rejected", "rejected")
    card = first.locator(f"[data-review-rejected='{visits[CANVASSER]['id']}']")
    assert "Ảnh không khớp địa chỉ" in card.inner_text()
    assert card.inner_text().startswith(THE_HOUSE)
    assert serious_violations(first) == [] and horizontal_overflow(first) == 0
    go(second, "#/rejected", "rejected")
    assert second.locator("[data-review-rejected]").count() == 0
