"""The canvassers' app's visit, progress, rejected and switch-user screens
(field_server/web/app/js/screens/), driven as a canvasser drives them, against the real server.

The screens run in a test frame (tests/browser/app_screens/) on the live server's own origin,
with the app's store.js and sync.js and a router that follows the screens' contract; the
canvasser cv.vg.001 (the whole ward A) logs in and pulls three households of group -01. What
reaches the server is read through the API with the Flask test client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.sync_helpers import GROUP_A1, WARD_A, Tablet
from tests.browser.app_screens.serving import open_frame, serve
from tests.browser.conftest import TABLET, horizontal_overflow, screenshot, serious_violations

USER = "cv.vg.001"
COUNTS = (
    "adults",
    "smartphones",
    "installed_before",
    "installed_during",
    "priority_subjects",
    "priority_installed",
)


@pytest.fixture
def seeded(world: Any, client: Any) -> list[str]:
    """Three households of ward A (group -01), recorded by another canvasser's tablet."""
    other = Tablet(world, client, "cv.vg.002")
    households = [other.household(group=GROUP_A1, address=f"Số {n}, ngõ 7") for n in (1, 2, 3)]
    other.push(households)
    return [h["id"] for h in households]


@pytest.fixture
def console() -> list[str]:
    return []


@pytest.fixture
def tablet(
    browser: Any, live_server: str, world: Any, seeded: list[str], console: list[str]
) -> Iterator[Any]:
    """The frame at 360 px, cv.vg.001 logged in and synced (the households pulled)."""
    context = browser.new_context(viewport={"width": 360, "height": 800}, **TABLET)
    serve(context, live_server)
    page = open_frame(context, live_server, console)
    page.evaluate("([u, p]) => T.login(u, p)", [USER, world.passwords[USER]])
    try:
        yield page
    finally:
        context.close()
    assert console == []


def go(page: Any, hash_: str, screen: str) -> None:
    page.evaluate("(h) => { location.hash = h; }", hash_)
    page.wait_for_selector(f"body[data-shown='{screen}']")


def waiting(page: Any) -> int:
    return int(page.evaluate(f"T.app.store.waitingCount({USER!r})"))


def wait_waiting(page: Any, n: int) -> None:
    """Until no sync runs and ``n`` records wait (checked in the page, bounded)."""
    page.evaluate(f"T.settled({USER!r}, {n})")


OFFLINE = "Failed to load resource: net::ERR_INTERNET_DISCONNECTED"


def forgive_offline(console: list[str]) -> None:
    """The browser reports each request it could not send offline; nothing else may be there."""
    console[:] = [line for line in console if line != OFFLINE]


def checked(page: Any, name: str) -> None:
    """axe-core finds nothing serious, and nothing is wider than the 360 px window."""
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    screenshot(page, f"app-{name}-360")


def server_visits(world: Any, client: Any) -> dict[str, dict[str, Any]]:
    headers = world.headers(client, "sv.vangiang")
    answer = client.get(f"/api/v1/visits?ward={WARD_A}&limit=1000", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return {v["id"]: v for v in answer.get_json()["items"]}


def step(page: Any, name: str, sign: str, times: int) -> None:
    for _ in range(times):
        page.click(f"[data-step='{name}{sign}']")


def record(page: Any, household: str, outcome: str, taps: dict[str, int] | None = None) -> None:
    """Record a visit on the visit screen: an outcome, counts by + taps, save."""
    go(page, f"#/visit-new/{household}", "visit-new")
    page.check(f"[data-outcome='{outcome}'] input")
    for name, times in (taps or {}).items():
        step(page, name, "+", times)
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    page.wait_for_selector("body[data-shown='stub:households']")


def new_visit_ids(page: Any) -> list[str]:
    return page.evaluate(
        f"async () => (await T.app.store.visits({USER!r})).map((v) => v.id)",
    )


INSTALLED = {"adults": 4, "smartphones": 3, "installed_before": 1, "installed_during": 2}


def test_a_visit_with_steppers_is_checked_as_typed_and_saved(
    tablet: Any, seeded: list[str], world: Any, client: Any
) -> None:
    page = tablet
    go(page, f"#/visit-new/{seeded[0]}", "visit-new")
    assert page.locator(".household-address").inner_text() == "Số 1, ngõ 7"
    assert page.get_by_text("Chưa có lượt đến nhà nào.").is_visible()
    checked(page, "visit-new")
    page.get_by_label("Đã cài", exact=True).check()
    for name, times in INSTALLED.items():
        step(page, name, "+", times)
    # More smartphones than adults: the rule's Vietnamese message, beside the field, at once.
    page.get_by_label("Điện thoại thông minh", exact=True).fill("5")
    error = page.locator("[data-error-for=smartphones]")
    assert error.inner_text() == "Số điện thoại thông minh nhiều hơn số người trưởng thành (4)."
    assert page.locator("[data-error-for=adults]").inner_text() == ""
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    assert (
        page.locator("[data-summary]").inner_text() == "Hãy sửa các lỗi được ghi bên cạnh từng ô."
    )
    assert page.evaluate("document.body.dataset.shown") == "visit-new"  # not saved, still here
    assert waiting(page) == 0 and new_visit_ids(page) == []
    checked(page, "visit-new-error")
    step(page, "smartphones", "-", 2)
    assert error.inner_text() == ""
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    # Saved: the frame's line says so, and the app is back at the group's households.
    page.wait_for_selector("body[data-shown='stub:households']")
    assert page.evaluate("document.body.dataset.args") == GROUP_A1
    assert page.locator("#status").inner_text() == "Đã lưu"
    wait_waiting(page, 0)  # the screen asked for a sync; it went
    (visit_id,) = new_visit_ids(page)
    on_server = server_visits(world, client)[visit_id]
    assert on_server["household_id"] == seeded[0]
    assert on_server["outcome"] == "installed"
    assert {k: on_server[k] for k in COUNTS} == {
        **INSTALLED,
        "priority_subjects": 0,
        "priority_installed": 0,
    }
    assert on_server["canvasser"] == USER
    # The household's earlier visits now list it.
    go(page, f"#/visit-new/{seeded[0]}", "visit-new")
    assert (
        page.locator(f"[data-visit='{visit_id}']")
        .inner_text()
        .endswith(f"Đã cài · người ghi: {USER}")
    )


def test_the_tablets_position_goes_with_the_visit(
    tablet: Any, seeded: list[str], world: Any, client: Any, live_server: str
) -> None:
    page = tablet
    page.context.grant_permissions(["geolocation"], origin=live_server)
    page.context.set_geolocation({"latitude": 20.9501, "longitude": 105.9402, "accuracy": 12})
    go(page, f"#/visit-new/{seeded[0]}", "visit-new")
    page.wait_for_selector("[data-position=yes]")
    assert page.locator("[data-position]").inner_text() == "đã có vị trí (sai số khoảng 12 m)"
    page.get_by_label("Vắng nhà", exact=True).check()
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    page.wait_for_selector("body[data-shown='stub:households']")
    wait_waiting(page, 0)
    (visit,) = server_visits(world, client).values()
    assert (visit["lat"], visit["lon"], visit["accuracy_m"]) == (20.9501, 105.9402, 12)


def test_offline_visits_wait_and_reach_the_server_once_when_online(
    tablet: Any, seeded: list[str], world: Any, client: Any, console: list[str]
) -> None:
    page = tablet
    page.context.set_offline(True)
    record(page, seeded[0], "installed", INSTALLED)
    record(page, seeded[1], "not_home")
    # "Come back" wants the time of the appointment before it saves.
    go(page, f"#/visit-new/{seeded[2]}", "visit-new")
    page.get_by_label("Hẹn quay lại", exact=True).check()
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    assert page.locator("[data-error-for=come_back_at]").inner_text() == "Bắt buộc phải có."
    page.get_by_label("Hẹn quay lại lúc").fill("2030-08-16T17:30")
    page.get_by_label("Ghi chú").fill("Chủ hộ đi làm, hẹn chiều")
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    page.wait_for_selector("body[data-shown='stub:households']")

    go(page, "#/progress", "progress")
    figure = page.locator("[data-figure=waiting]")
    assert figure.inner_text() == "3"
    assert page.locator("[data-figure=visits-today]").inner_text() == "3"
    assert page.locator("[data-figure=installs-today]").inner_text() == "2"
    # Only the household where apps were installed is done; nobody was home at the others.
    assert page.locator("[data-figure=households-left]").inner_text() == "2"
    checked(page, "progress")
    assert server_visits(world, client) == {}

    page.context.set_offline(False)  # the sync starts by itself when the network is back
    page.wait_for_function("document.querySelector('[data-figure=waiting]').textContent === '0'")
    ids = new_visit_ids(page)
    on_server = server_visits(world, client)
    assert sorted(on_server) == sorted(ids) and len(ids) == 3
    by_household = {v["household_id"]: v for v in on_server.values()}
    assert by_household[seeded[0]]["installed_during"] == 2
    assert by_household[seeded[1]]["outcome"] == "not_home"
    assert by_household[seeded[1]]["adults"] is None  # no counts with nobody home
    come_back = by_household[seeded[2]]
    assert come_back["outcome"] == "come_back"
    assert come_back["notes"] == "Chủ hộ đi làm, hẹn chiều"
    # The appointment is the moment typed on the tablet, in its own time zone.
    typed = page.evaluate("new Date('2030-08-16T17:30').toISOString().replace('.000Z', 'Z')")
    assert come_back["come_back_at"] == typed
    forgive_offline(console)


def test_own_visit_corrected_then_voided_reaches_the_server(
    tablet: Any, seeded: list[str], world: Any, client: Any
) -> None:
    page = tablet
    record(page, seeded[0], "installed", INSTALLED)
    wait_waiting(page, 0)
    (visit_id,) = new_visit_ids(page)
    page.evaluate("T.app.sync.syncNow()")  # the pull brings the server's version 1

    go(page, f"#/visit/{visit_id}", "visit")
    assert page.locator("[data-field=adults] dd").inner_text() == "4"
    checked(page, "visit")
    page.get_by_role("button", name="Lưu sửa đổi").click()
    assert page.locator("[data-summary=correct]").inner_text() == "Chưa có gì thay đổi."
    # A correction that breaks a rule is refused on the tablet, in Vietnamese.
    step(page, "priority_installed", "+", 1)
    assert page.locator("#correct-priority_installed-error").inner_text() == (
        "Lớn hơn priority_subjects (0)."
    )
    step(page, "priority_installed", "-", 1)
    step(page, "adults", "+", 1)
    page.get_by_label("Ghi chú").first.fill("Thêm một người về muộn")
    page.get_by_role("button", name="Lưu sửa đổi").click()
    page.wait_for_selector("body[data-shown='stub:households']")
    wait_waiting(page, 0)
    corrected = server_visits(world, client)[visit_id]
    assert corrected["adults"] == 5 and corrected["notes"] == "Thêm một người về muộn"
    assert corrected["version"] == 2 and corrected["smartphones"] == 3

    go(page, f"#/visit/{visit_id}", "visit")
    page.get_by_role("button", name="Hủy lượt đến nhà này").click()
    assert page.locator("#void-reason-error").inner_text() == "Bắt buộc phải có."
    page.get_by_label("Lý do hủy").fill("Ghi nhầm hộ")
    page.get_by_role("button", name="Hủy lượt đến nhà này").click()
    page.wait_for_selector("body[data-shown='stub:households']")
    wait_waiting(page, 0)
    assert server_visits(world, client)[visit_id]["voided"] is True


def test_another_canvassers_visit_is_read_only(
    tablet: Any, seeded: list[str], world: Any, client: Any
) -> None:
    other = Tablet(world, client, "cv.vg.002")
    theirs = other.visit(seeded[1])
    other.push([theirs])
    tablet.evaluate("T.app.sync.syncNow()")
    go(tablet, f"#/visit/{theirs['id']}", "visit")
    assert tablet.locator("[data-field=canvasser] dd").inner_text() == "cv.vg.002"
    assert tablet.locator("[data-read-only]").is_visible()
    assert tablet.locator("form").count() == 0
    checked(tablet, "visit-read-only")


def test_refused_records_and_rejected_visits_show_on_rejected(
    tablet: Any, seeded: list[str], world: Any, client: Any
) -> None:
    page = tablet
    record(page, seeded[0], "installed", INSTALLED)
    record(page, seeded[1], "refused", {"adults": 2, "smartphones": 1})
    wait_waiting(page, 0)
    visits = page.evaluate(
        f"async () => Object.fromEntries((await T.app.store.visits({USER!r}))"
        ".map((v) => [v.data.household_id, v.id]))"
    )
    approved, rejected = visits[seeded[0]], visits[seeded[1]]
    go(page, "#/rejected", "rejected")
    assert page.get_by_text("Không có bản ghi nào bị máy chủ từ chối.").is_visible()

    headers = world.headers(client, "sv.vangiang")
    for visit_id, action, comment in (
        (approved, "approve", None),
        (rejected, "reject", "Không gặp được chủ hộ"),
    ):
        answer = client.post(
            f"/api/v1/visits/{visit_id}/review",
            json={"action": action, "comment": comment},
            headers=headers,
        )
        assert answer.status_code == 200, answer.get_json()
    # Before the tablet hears of the approval, the canvasser corrects that visit: refused.
    go(page, f"#/visit/{approved}", "visit")
    step(page, "adults", "+", 1)
    page.get_by_role("button", name="Lưu sửa đổi").click()
    page.wait_for_selector("body[data-shown='stub:households']")
    wait_waiting(page, 0)

    go(page, "#/rejected", "rejected")
    card = page.locator(f"[data-refused='{approved}']")
    assert card.get_attribute("data-code") == "visit_locked"
    message = page.evaluate(f"async () => (await T.app.store.rejected({USER!r}))[0].result.message")
    assert message and "supervisor" not in message  # the server's words, in Vietnamese
    assert message in card.inner_text()
    assert card.inner_text().startswith("Sửa lượt đến nhà · Số 1, ngõ 7")
    reviewed = page.locator(f"[data-review-rejected='{rejected}']")
    assert "Không gặp được chủ hộ" in reviewed.inner_text()
    assert reviewed.inner_text().startswith("Số 2, ngõ 7")
    checked(page, "rejected")
    # The rejected visit's own screen: read-only, the supervisor's word on it.
    reviewed.get_by_role("link").click()
    page.wait_for_selector("body[data-shown='visit']")
    assert page.locator("[data-field=review_status] dd").inner_text() == "bị từ chối"
    assert page.locator("[data-read-only]").is_visible()


def test_switch_user_with_records_waiting_asks_to_sync_first(
    tablet: Any, seeded: list[str], world: Any, client: Any, console: list[str]
) -> None:
    page = tablet
    page.context.set_offline(True)
    record(page, seeded[0], "not_home")
    go(page, "#/switch-user", "switch-user")
    assert page.locator("[data-waiting-mine]").inner_text() == (
        "Bạn còn 1 bản ghi chưa gửi. Hãy đồng bộ trước khi giao máy cho người khác: "
        "bản ghi không bị xóa."
    )
    assert page.locator("[data-action=logout]").count() == 0  # no way round the sync
    checked(page, "switch-user")
    page.get_by_role("button", name="Đồng bộ rồi tiếp tục").click()
    page.wait_for_selector("[role=alert]:text('Vẫn còn 1 bản ghi chưa gửi được')")
    # Still logged in, nothing discarded.
    assert page.evaluate("T.app.store.currentUser()") == USER
    assert waiting(page) == 1

    page.context.set_offline(False)
    # The network back, the sync runs by itself, and the screen follows: nothing waits now.
    page.wait_for_selector("[data-action=logout]")
    assert page.locator("[data-waiting-mine]").inner_text() == "Bạn không còn bản ghi nào chờ gửi."
    with page.expect_navigation():  # the app opens afresh
        page.get_by_role("button", name="Đăng xuất và đổi người dùng").click()
    page.wait_for_function(
        "window.harnessReady === true && document.body.dataset.screen === 'login'"
    )
    left = page.evaluate(
        f"""async () => ({{user: await T.app.store.currentUser(),
                          session: await T.app.store.session({USER!r}),
                          waiting: await T.app.store.waitingByUser(),
                          visits: (await T.app.store.visits({USER!r})).length}})"""
    )
    assert left == {"user": None, "session": None, "waiting": {}, "visits": 1}
    assert len(server_visits(world, client)) == 1
    forgive_offline(console)


def test_a_hand_over_behind_another_users_records_never_locks_the_tablet(
    tablet: Any, seeded: list[str], world: Any, client: Any, console: list[str]
) -> None:
    """The tablet numbers every user's records in one sequence: when cv.vg.001's records
    still wait (their session ended before they synced) and cv.vg.002 records more, the
    server refuses cv.vg.002's sync (`other_user_waiting`) until cv.vg.001 has synced. The
    hand-over screen must then let cv.vg.002 go, or cv.vg.001 could never log back in."""
    page = tablet
    other = "cv.vg.002"
    page.context.set_offline(True)
    record(page, seeded[0], "not_home")
    page.evaluate("T.app.sync.logout()")  # as when a session ends, records kept
    page.context.set_offline(False)
    page.evaluate("([u, p]) => T.login(u, p)", [other, world.passwords[other]])
    page.evaluate("() => T.route()")
    page.context.set_offline(True)
    record(page, seeded[1], "refused", {"adults": 1})
    page.context.set_offline(False)
    go(page, "#/switch-user", "switch-user")
    assert page.locator(f"[data-waiting-user='{USER}']").inner_text() == f"{USER}: 1 bản ghi"
    with page.expect_navigation():  # the sync is refused, and the hand-over goes on
        page.get_by_role("button", name="Đồng bộ rồi tiếp tục").click()
    page.wait_for_function(
        "window.harnessReady === true && document.body.dataset.screen === 'login'"
    )
    assert page.evaluate("T.app.store.waitingByUser()") == {USER: 1, other: 1}
    assert server_visits(world, client) == {}
    # cv.vg.001 logs back in and sends theirs; then cv.vg.002's go through too.
    for user in (USER, other):
        page.evaluate("([u, p]) => T.login(u, p)", [user, world.passwords[user]])
        page.evaluate(f"T.settled({user!r}, 0)")
        page.evaluate("T.app.sync.logout()")
    assert sorted(v["canvasser"] for v in server_visits(world, client).values()) == [
        USER,
        other,
    ]
    # The browser reports each refused push (409 other_user_waiting) as a failed load.
    refused = "Failed to load resource: the server responded with a status of 409 (CONFLICT)"
    assert refused in console
    console[:] = [line for line in console if line != refused]
    forgive_offline(console)


def test_the_app_routes_to_the_screens(
    pages: Any, seeded: list[str], world: Any, client: Any
) -> None:
    """The same screens in the app itself (/app/, its frame and router)."""
    page = pages.open(360)
    page.goto(f"{pages.base}/app/")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(world.passwords[USER])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("#last-sync:not([data-last-sync=''])")  # logged in and synced
    go(page, f"#/visit-new/{seeded[0]}", "visit-new")
    page.get_by_label("Từ chối", exact=True).check()
    step(page, "adults", "+", 2)
    step(page, "smartphones", "+", 1)
    synced = page.get_attribute("#last-sync", "data-last-sync")
    page.get_by_role("button", name="Lưu lượt đến nhà").click()
    page.wait_for_selector("body[data-shown='households']")
    assert page.locator("#notice").inner_text() == "Đã lưu"
    # The sync the save started has ended (a later last sync), nothing left waiting.
    page.wait_for_function(
        "(before) => document.getElementById('last-sync').dataset.lastSync !== before", arg=synced
    )
    assert page.get_attribute("#waiting", "data-waiting") == "0"
    (visit,) = server_visits(world, client).values()
    assert visit["outcome"] == "refused" and (visit["adults"], visit["smartphones"]) == (2, 1)
    for screen in ("progress", "rejected", "switch-user", "visit"):
        go(page, f"#/{screen}/{visit['id']}" if screen == "visit" else f"#/{screen}", screen)
        assert serious_violations(page) == []
        assert horizontal_overflow(page) == 0
    # Nothing waits: the hand-over logs out and the app opens on its login.
    go(page, "#/switch-user", "switch-user")
    with page.expect_navigation():
        page.get_by_role("button", name="Đăng xuất và đổi người dùng").click()
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_by_role("button", name="Đăng nhập").is_visible()
    assert page.get_attribute("#user-name", "data-user") == ""
