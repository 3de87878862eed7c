"""The canvassers' app's router and its first screens (docs/app.md#screens): my groups, a
group's households (walking order, marks, search), a new household (duplicate warning,
field checks, GPS, saved offline and synced once) and a household's edit screen (only the
changed fields saved, on the version the tablet holds; checked as typed).

The app runs whole, as on a tablet: /app/ from the live server, a canvasser logging in on the
login screen, the households made on the server first by another canvasser's tablet (the API,
through the Flask test client) and pulled by the app. What reaches the server is read back
through the API.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.sync_helpers import GROUP_A1, WARD_A, Tablet, counts
from tests.browser.conftest import horizontal_overflow, screenshot, serious_violations

USER = "cv.vg.001"  # the whole ward A, whose one group is GROUP_A1

# address -> (head of household, visit outcome or None, its extra fields)
SEEDS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "Số 1, ngõ 7": ("Trần Thị Bích", None, {}),
    "Số 2, ngõ 7": ("Lê Văn Đức", None, {}),
    "Số 3, ngõ 7": ("Nguyễn Văn A", "come_back", {"come_back_at": "2020-08-16T17:00:00+07:00"}),
    "Số 4, ngõ 7": ("Nguyễn Văn A", "not_home", {"visited_at": "2020-08-15T10:00:00+07:00"}),
    "Số 5, ngõ 7": ("Nguyễn Văn A", "installed", counts(subjects=2, priority=0)),
    "Số 6, ngõ 7": ("Nguyễn Văn A", "installed", {}),
    "Số 9, ngõ 7": ("Nguyễn Văn A", "come_back", {"come_back_at": "2020-08-16T08:00:00+07:00"}),
}
# The walking order: priority, revisits (earliest first), not yet visited, visited.
ORDER = ["Số 5", "Số 4", "Số 9", "Số 3", "Số 1", "Số 2", "Số 6"]


@pytest.fixture
def seeded(world: Any, client: Any) -> dict[str, str]:
    """SEEDS in group -01, recorded by cv.vg.002's tablet: address -> household id."""
    other = Tablet(world, client, "cv.vg.002")
    ids: dict[str, str] = {}
    mutations = []
    for address, (head, outcome, extra) in SEEDS.items():
        household = other.household(group=GROUP_A1, address=address, head_name=head)
        ids[address] = household["id"]
        mutations.append(household)
        if outcome:
            visit = other.visit(household["id"], outcome=outcome, **extra)
            mutations.append(visit)
    answer = other.push(mutations)
    assert {r["status"] for r in answer["results"]} == {"applied"}, answer
    return ids


def open_app(pages: Any, world: Any, width: int = 360) -> Any:
    """The app at /app/, logged in as USER on the login screen, its first sync done."""
    page = pages.open(width)
    page.goto(f"{pages.base}/app/")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(world.passwords[USER])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("body[data-shown=groups]")
    page.wait_for_selector("#last-sync:not([data-last-sync=''])")
    return page


def group_link(page: Any) -> Any:
    return page.locator(f"a.group[data-group='{GROUP_A1}']")


def open_group(page: Any) -> Any:
    group_link(page).click()
    page.wait_for_selector("body[data-shown=households]")
    return page


def shown_addresses(page: Any) -> list[str]:
    return page.locator("a.household .address").all_inner_texts()


def wait_found(page: Any, n: int) -> None:
    """Wait until the list says it found n households (it is drawn with them)."""
    page.wait_for_selector(f"#household-count[data-found='{n}']")


def check_screen(page: Any, name: str) -> None:
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    screenshot(page, f"app-{name}-360")


def server_households(world: Any, client: Any) -> list[dict[str, Any]]:
    headers = world.headers(client, "sv.vangiang")
    answer = client.get(f"/api/v1/households?ward={WARD_A}&limit=500", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


# --- groups ----------------------------------------------------------------------------------


def test_groups_lists_my_groups_with_their_figures(pages, world, seeded):
    page = open_app(pages, world)
    # the first sync brought the ward's group and its households: the screen redraws
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    link = group_link(page)
    assert page.get_by_role("heading", name="Thị trấn Văn Giang").is_visible()
    assert "Tổ dân phố 1" in link.inner_text()
    assert link.get_attribute("data-visited") == "2"  # Số 5 and Số 6
    assert link.get_attribute("data-revisits") == "3"  # Số 3, Số 4, Số 9
    assert "7 hộ" in link.inner_text() and "3 cần quay lại" in link.inner_text()
    assert page.locator("#back-bar").is_hidden()  # home: nowhere to go back to
    check_screen(page, "groups")

    open_group(page)
    assert page.locator("#back-bar").is_visible()
    page.locator("#back").click()
    page.wait_for_selector("body[data-shown=groups]")


def test_an_unknown_screen_goes_home(pages, world, seeded):
    page = open_app(pages, world)
    page.evaluate("location.hash = '#/no-such-screen/1'")
    page.wait_for_function("() => location.hash === '#/groups'")
    page.wait_for_selector("body[data-shown=groups]")


# --- households ------------------------------------------------------------------------------


def test_households_come_in_walking_order_with_their_marks(pages, world, seeded):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    open_group(page)
    assert page.get_by_role("heading", name="Tổ dân phố 1").is_visible()
    assert shown_addresses(page) == [f"{n}, ngõ 7" for n in ORDER]
    states = page.locator("a.household").evaluate_all("links => links.map(a => a.dataset.state)")
    assert states == ["priority", "revisit", "revisit", "revisit", "new", "new", "visited"]

    def row(address: str) -> Any:
        return page.locator(f"a.household[data-household='{seeded[address]}']")

    assert "Đã đến" in row("Số 6, ngõ 7").inner_text()
    assert "Ưu tiên" in row("Số 5, ngõ 7").inner_text()
    assert "Vắng nhà" in row("Số 4, ngõ 7").inner_text()
    come_back = row("Số 3, ngõ 7").locator(".mark-revisit")
    assert come_back.get_attribute("data-at") == "2020-08-16T10:00:00Z"  # 17:00 in Hà Nội
    assert "Hẹn quay lại" in come_back.inner_text()
    assert "Lê Văn Đức" in row("Số 2, ngõ 7").inner_text()
    check_screen(page, "households")

    row("Số 1, ngõ 7").click()
    page.wait_for_function(f"() => location.hash === '#/visit-new/{seeded['Số 1, ngõ 7']}'")


def test_search_narrows_as_the_canvasser_types_accents_and_case_aside(pages, world, seeded):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    open_group(page)
    search = page.get_by_label("Tìm theo địa chỉ hoặc chủ hộ")
    count = page.locator("#household-count")

    search.press_sequentially("tr")  # Trần, and "trấn"? no: only heads and addresses
    wait_found(page, 1)
    assert shown_addresses(page) == ["Số 1, ngõ 7"]
    search.fill("")
    wait_found(page, 7)

    for typed in ("Đức", "duc", "DUC", "lê văn đức"):
        search.fill(typed)
        wait_found(page, 1)
        assert shown_addresses(page) == ["Số 2, ngõ 7"], typed

    # an address as written in the street: "so 9 ngo 7", "SN 9 ng. 7" are "Số 9, ngõ 7"
    for typed in ("so 9 ngo 7", "SN 9 Ng. 7", "số 9"):
        search.fill(typed)
        wait_found(page, 1)
        assert shown_addresses(page) == ["Số 9, ngõ 7"], typed

    search.fill("ngõ 8")
    wait_found(page, 0)
    assert page.locator("a.household").count() == 0
    assert page.get_by_text("Không có hộ nào khớp.").is_visible()
    assert "0 / 7 hộ" in count.inner_text()


# --- a new household -------------------------------------------------------------------------


def open_new_household(page: Any) -> Any:
    page.get_by_role("link", name="Hộ mới").click()
    page.wait_for_selector("body[data-shown=household-new]")
    return page


def test_a_new_household_at_a_known_address_warns_and_checks_its_fields(pages, world, seeded):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    open_new_household(open_group(page))
    assert "Tổ dân phố 1" in page.locator(".where").inner_text()

    # nothing typed: the server's own check, in Vietnamese, beside the address
    page.get_by_role("button", name="Lưu hộ mới").click()
    error = page.locator("[data-error-for=address]")
    assert error.inner_text() == "Phải là chuỗi ký tự không rỗng."  # the server's words
    assert page.get_by_label("Địa chỉ").get_attribute("aria-invalid") == "true"
    assert page.locator("#waiting").get_attribute("data-waiting") == "0"  # nothing saved

    page.get_by_label("Địa chỉ").fill("so 2 ngo 7")  # "Số 2, ngõ 7", written otherwise
    warning = page.locator("#duplicate-warning")
    warning.wait_for(state="visible")
    assert "Lê Văn Đức" in warning.inner_text()
    assert warning.locator("a").get_attribute("data-household") == seeded["Số 2, ngõ 7"]
    assert page.get_by_role("button", name="Vẫn lưu hộ mới").is_visible()

    page.get_by_label("Số điện thoại").fill("gọi cho tôi")
    page.get_by_role("button", name="Vẫn lưu hộ mới").click()
    assert page.locator("[data-error-for=phone]").inner_text() != ""
    assert page.locator("[data-error-for=address]").inner_text() == ""
    assert page.locator("#waiting").get_attribute("data-waiting") == "0"
    check_screen(page, "household-new")

    # going to the household already there
    warning.locator("a").click()
    page.wait_for_function(f"() => location.hash === '#/visit-new/{seeded['Số 2, ngõ 7']}'")


def test_a_household_saved_offline_shows_in_the_list_and_reaches_the_server_once(
    pages, world, client, seeded
):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    context = page.context
    context.grant_permissions(["geolocation"], origin=pages.base)
    context.set_geolocation({"latitude": 20.9512345, "longitude": 105.9409876, "accuracy": 8})
    open_new_household(open_group(page))

    page.get_by_role("button", name="Lấy vị trí").click()
    position = page.locator("#hh-position")
    page.wait_for_selector("#hh-position[data-lat]")
    assert position.get_attribute("data-lat") == "20.951235"
    assert position.get_attribute("data-lon") == "105.940988"
    assert "8 m" in position.inner_text()

    context.set_offline(True)
    page.get_by_label("Địa chỉ").fill("Số 77, ngõ 9")
    page.get_by_label("Họ tên chủ hộ").fill("Phạm Văn Tư")
    page.get_by_label("Số điện thoại").fill("0912 345 678")
    page.get_by_role("button", name="Lưu hộ mới").click()
    page.wait_for_function("() => location.hash.startsWith('#/visit-new/')")
    new_id = page.evaluate("decodeURIComponent(location.hash.split('/')[2])")
    assert page.locator("#notice").inner_text() == "Đã lưu"
    page.wait_for_selector("#waiting[data-waiting='1']")

    # back: the list, not the form; the new household in it, marked as not yet sent
    page.locator("#back").click()
    page.wait_for_selector("body[data-shown=households]")
    row = page.locator(f"a.household[data-household='{new_id}']")
    assert row.locator(".address").inner_text() == "Số 77, ngõ 9"
    assert "Phạm Văn Tư" in row.inner_text() and "chưa gửi" in row.inner_text()
    assert row.get_attribute("data-state") == "new"
    assert page.locator("#household-count").get_attribute("data-found") == "8"

    context.set_offline(False)  # the app syncs when the network comes back
    page.wait_for_selector("#waiting[data-waiting='0']", timeout=60_000)
    # the browser reports the sync tried while offline; nothing else may be in the console
    tried = [e for e in pages.console_errors if e.endswith("net::ERR_INTERNET_DISCONNECTED")]
    assert tried and len(tried) == len(pages.console_errors), pages.console_errors
    pages.console_errors.clear()
    on_server = [h for h in server_households(world, client) if h["address"] == "Số 77, ngõ 9"]
    assert len(on_server) == 1
    household = on_server[0]
    assert household["id"] == new_id and household["group"] == GROUP_A1
    assert household["head_name"] == "Phạm Văn Tư" and household["phone"] == "0912 345 678"
    assert (household["lat"], household["lon"]) == (20.951235, 105.940988)
    # the pull took the server's copy in: the mark goes
    page.wait_for_function(
        f"() => !document.querySelector(\"a.household[data-household='{new_id}']\")"
        ".textContent.includes('chưa gửi')"
    )


# --- a household's edit screen ---------------------------------------------------------------


def waiting_mutations(page: Any) -> list[dict[str, Any]]:
    """The canvasser's outbox as the tablet holds it, read in the page through store.js."""
    return list(
        page.evaluate(
            """async (user) => {
                const { open } = await import(new URL("js/store.js", document.baseURI).href);
                const store = await open();
                try {
                    return await store.waiting(user);
                } finally {
                    store.close();
                }
            }""",
            USER,
        )
    )


def forgive_offline(pages: Any) -> None:
    """The browser reports each request the app tried with no network; nothing else may be in
    the console."""
    tried = [e for e in pages.console_errors if e.endswith("net::ERR_INTERNET_DISCONNECTED")]
    assert len(tried) == len(pages.console_errors), pages.console_errors
    pages.console_errors.clear()


def open_edit(page: Any, household: str) -> Any:
    """From the group's list: the household's page, then its "Sửa thông tin hộ" link."""
    page.locator(f"a.household[data-household='{household}']").click()
    page.wait_for_selector("body[data-shown=visit-new]")
    page.get_by_role("link", name="Sửa thông tin hộ").click()
    page.wait_for_selector("body[data-shown=household-edit]")
    page.wait_for_function(f"() => location.hash === '#/household-edit/{household}'")
    return page


def test_a_household_edited_offline_saves_only_its_changes_on_the_version_it_holds(
    pages, world, client, seeded
):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    context = page.context
    context.grant_permissions(["geolocation"], origin=pages.base)
    context.set_geolocation({"latitude": 20.9512345, "longitude": 105.9409876, "accuracy": 8})
    household = seeded["Số 2, ngõ 7"]
    open_group(page)
    page.locator(f"a.household[data-household='{household}']").click()
    page.wait_for_selector("body[data-shown=visit-new]")
    link = page.get_by_role("link", name="Sửa thông tin hộ")
    box = link.bounding_box()
    assert box is not None and box["height"] >= 48  # a thumb's target, at the door
    assert horizontal_overflow(page) == 0 and serious_violations(page) == []
    link.click()
    page.wait_for_selector("body[data-shown=household-edit]")

    # The form holds the household as the tablet knows it.
    assert page.get_by_role("heading", name="Sửa thông tin hộ").is_visible()
    assert page.get_by_label("Địa chỉ").input_value() == "Số 2, ngõ 7"
    assert page.get_by_label("Họ tên chủ hộ").input_value() == "Lê Văn Đức"
    assert page.get_by_label("Số điện thoại").input_value() == ""
    assert page.get_by_label("Thuộc tổ").input_value() == GROUP_A1
    assert page.locator("#hh-position").inner_text() == "20.950000, 105.940000"

    context.set_offline(True)
    page.get_by_label("Họ tên chủ hộ").fill("Lê Văn Đức (con)")
    page.get_by_label("Số điện thoại").fill("0912 345 678")
    page.get_by_role("button", name="Lấy vị trí").click()
    page.wait_for_selector("#hh-position[data-lat]")
    page.get_by_role("button", name="Lưu sửa đổi").click()
    page.wait_for_selector("body[data-shown=visit-new]")
    assert page.evaluate("location.hash") == f"#/visit-new/{household}"  # back to the household
    assert page.locator("#notice").inner_text() == "Đã lưu"
    assert "Lê Văn Đức (con)" in page.locator(".household-head").inner_text()
    page.wait_for_selector("#waiting[data-waiting='1']")

    # One household.upsert: the changed fields only, on the version pulled (1).
    (mutation,) = waiting_mutations(page)
    assert (mutation["type"], mutation["id"], mutation["base_version"]) == (
        "household.upsert",
        household,
        1,
    )
    assert mutation["data"] == {
        "head_name": "Lê Văn Đức (con)",
        "phone": "0912 345 678",
        "lat": 20.951235,
        "lon": 105.940988,
    }

    # Back: the list (the form is not in the way), the household marked as not yet sent.
    page.locator("#back").click()
    page.wait_for_selector("body[data-shown=households]")
    row = page.locator(f"a.household[data-household='{household}']")
    assert "Lê Văn Đức (con)" in row.inner_text() and "chưa gửi" in row.inner_text()

    context.set_offline(False)  # the app syncs when the network comes back
    page.wait_for_selector("#waiting[data-waiting='0']", timeout=60_000)
    forgive_offline(pages)
    (on_server,) = [h for h in server_households(world, client) if h["id"] == household]
    assert on_server["address"] == "Số 2, ngõ 7" and on_server["group"] == GROUP_A1
    assert on_server["head_name"] == "Lê Văn Đức (con)" and on_server["phone"] == "0912 345 678"
    assert (on_server["lat"], on_server["lon"]) == (20.951235, 105.940988)


def test_the_edit_form_checks_as_typed_and_saves_nothing_invalid_or_unchanged(pages, world, seeded):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='7']")
    household = seeded["Số 1, ngõ 7"]
    open_edit(open_group(page), household)
    page.context.set_offline(True)  # what is saved stays in the outbox, to be read there
    save = page.get_by_role("button", name="Lưu sửa đổi")
    summary = page.locator("form[data-form=household-edit] p[role=alert]")

    # The server's checks, in its Vietnamese words, as the canvasser types (no tap on save).
    address = page.get_by_label("Địa chỉ")
    address.fill("   ")
    assert page.locator("[data-error-for=address]").inner_text() == (
        "Phải là chuỗi ký tự không rỗng."
    )
    assert address.get_attribute("aria-invalid") == "true"
    page.get_by_label("Số điện thoại").fill("gọi cho tôi")
    assert page.locator("[data-error-for=phone]").inner_text() == (
        "Chỉ gồm chữ số, dấu cách và + - . ( ), tối đa 32 ký tự, hoặc để trống."
    )
    assert summary.inner_text() == ""  # the line under the form waits for a save

    # Saving while invalid saves nothing: the line says so and the first field takes the focus.
    save.click()
    assert summary.inner_text() == "Hãy sửa các ô được đánh dấu."
    assert page.evaluate("document.activeElement.id") == "hh-address"
    assert page.evaluate("document.body.dataset.shown") == "household-edit"
    assert waiting_mutations(page) == []
    assert page.locator("#waiting").get_attribute("data-waiting") == "0"
    check_screen(page, "household-edit")

    # Put right as typed.
    address.fill("Số 1, ngõ 7")
    page.get_by_label("Số điện thoại").fill("")
    assert page.locator("[data-error-for=address]").inner_text() == ""
    assert page.locator("[data-error-for=phone]").inner_text() == ""
    assert summary.inner_text() == ""

    # Typed back as stored: nothing changed, nothing saved, the form stays.
    save.click()
    assert summary.inner_text() == "Chưa có gì thay đổi."
    assert page.evaluate("document.body.dataset.shown") == "household-edit"
    assert waiting_mutations(page) == []

    # The household leaves its group: only that is saved.
    page.get_by_label("Thuộc tổ").select_option(label="Chưa thuộc tổ nào")
    save.click()
    page.wait_for_selector("body[data-shown=visit-new]")
    (mutation,) = waiting_mutations(page)
    assert (mutation["type"], mutation["id"], mutation["base_version"]) == (
        "household.upsert",
        household,
        1,
    )
    assert mutation["data"] == {"group": None}
    # Still offline, the save's sync may try again at any moment: closed, the page tries
    # nothing more, and what it reported so far is forgiven (offline loads only).
    page.close()
    forgive_offline(pages)


# --- 5,000 households ------------------------------------------------------------------------

MANY = 5000


def address(n: int) -> str:
    return f"Số {n}, ngõ {n % 50}"


@pytest.fixture
def many(world: Any, client: Any) -> None:
    other = Tablet(world, client, "cv.vg.002")
    for start in range(0, MANY, 500):
        batch = [
            other.household(group=GROUP_A1, address=address(n), head_name=f"Chủ hộ {n}")
            for n in range(start + 1, start + 501)
        ]
        other.push(batch)


def test_five_thousand_households_are_listed_capped_and_searched(pages, world, many):
    page = open_app(pages, world)
    page.wait_for_selector(f"a.group[data-group='{GROUP_A1}'][data-households='{MANY}']")
    open_group(page)
    count = page.locator("#household-count")
    assert count.get_attribute("data-found") == str(MANY)
    assert page.locator("a.household").count() == 200  # a capped list...
    assert "còn 4.800 hộ nữa" in page.locator(".list-more").inner_text()  # ...and the rest

    search = page.get_by_label("Tìm theo địa chỉ hoặc chủ hộ")
    search.press_sequentially("số 432")
    # every household whose number holds 432: 432, 1432, 2432, 3432, 4320-4329, 4432
    wait_found(page, 15)
    assert shown_addresses(page)[:5] == [address(n) for n in (432, 1432, 2432, 3432, 4320)]
    search.press("1")  # one keystroke more: the list is drawn again
    wait_found(page, 1)
    assert shown_addresses(page) == ["Số 4321, ngõ 21"]
    assert page.locator(".list-more").inner_text() == ""
    check_screen(page, "households-5000")
