"""Devices and canvassers in a real browser (issue: web pages): revoke a tablet after a
confirmation, add a canvasser and read their password once, give them other units, reset
the password, deactivate them. Each action is done on the page and checked through the API.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.api.sync_helpers import Tablet
from tests.api.test_rejections import bad_counts
from tests.browser.conftest import WIDTHS, horizontal_overflow, screenshot, serious_violations
from tests.browser.test_conflicts import raw_codes

TABLET = str(uuid.uuid5(uuid.NAMESPACE_DNS, "cv.vg.001"))
NEW_TABLET = "7f1c0b5e-3d2a-4c8e-9b6f-0a1b2c3d4e5f"
NEW_SECRET = "s" * 40


def check_page(page: Any, name: str) -> None:
    assert horizontal_overflow(page) == 0, name
    assert serious_violations(page) == [], name
    screenshot(page, name)


def api_login(client: Any, username: str, password: str) -> Any:
    return client.post(
        "/api/v1/auth/login",
        json={
            "username": username,
            "password": password,
            "device_id": NEW_TABLET,
            "device_secret": NEW_SECRET,
        },
    )


def test_a_supervisor_revokes_a_tablet_after_confirming(pages, world, client):
    tablet = world.login(client, "cv.vg.001")  # the tablet signs in: a device of the ward
    headers = {"Authorization": f"Bearer {tablet['access_token']}"}
    assert client.get("/api/v1/units", headers=headers).status_code == 200

    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/devices")
    row = page.locator(f"tr[data-device='{TABLET}']")
    assert "cv.vg.001" in row.inner_text()
    assert "Đang hoạt động" in row.inner_text()
    row.get_by_role("link", name=re.compile("Thu hồi thiết bị của cv.vg.001")).click()

    # The confirmation page: nothing is revoked until the button is pressed.
    assert page.url.endswith(f"/devices/{TABLET}/revoke")
    assert page.get_by_role("heading", name="Thu hồi thiết bị").is_visible()
    assert client.get("/api/v1/units", headers=headers).status_code == 200
    page.get_by_role("button", name="Đồng ý, thu hồi thiết bị này").click()
    page.wait_for_load_state()

    assert re.search(r"/devices\?revoked=", page.url), page.url
    assert "Đã thu hồi" in page.locator(f"tr[data-device='{TABLET}']").inner_text()
    answer = client.get("/api/v1/units", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "device_revoked"
    # The confirmation page of a revoked device offers nothing more to press.
    page.goto(f"{pages.base}/devices/{TABLET}/revoke")
    assert page.get_by_role("button", name="Đồng ý, thu hồi thiết bị này").count() == 0


def test_a_district_officer_reads_the_devices_but_cannot_revoke(pages, world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    bad_counts(tablet)  # one visit refused: a pending rejection of the tablet
    listed = client.get("/api/v1/rejections", headers=world.headers(client, "dt.vangiang"))
    pending = [r for r in listed.get_json()["items"] if r["device_id"] == tablet.device_id]
    assert len(pending) == 1
    page = pages.open()
    pages.login(page, "dt.vangiang", world.passwords["dt.vangiang"])
    page.goto(f"{pages.base}/devices")
    row = page.locator(f"tr[data-device='{tablet.device_id}']")
    assert "cv.vg.001" in row.inner_text()
    assert row.locator("[data-pending]").inner_text() == "1"
    assert row.locator("td").nth(3).inner_text() == "2"  # the last mutation the tablet sent
    assert row.get_by_role("link", name=re.compile("Thu hồi")).count() == 0
    # (page.request: a page answering 403 would be a console error)
    revoke = f"{pages.base}/devices/{tablet.device_id}/revoke"
    assert page.request.get(revoke).status == 403


def test_a_device_outside_the_ward_is_not_found(pages, world, client):
    world.login(client, "cv.xq.001")
    other = str(uuid.uuid5(uuid.NAMESPACE_DNS, "cv.xq.001"))
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/devices")
    assert page.locator(f"tr[data-device='{other}']").count() == 0
    assert page.request.get(f"{pages.base}/devices/{other}/revoke").status == 404


def test_a_supervisor_adds_a_canvasser_whose_password_is_shown_once(pages, world, client):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/canvassers")
    page.get_by_label("Tên đăng nhập").fill("cv.vg.010")
    page.get_by_label("Họ và tên").fill("Nguyễn Thị <b>Lan</b>")
    page.get_by_label("Tổ dân phố 1").check()
    page.get_by_role("button", name="Thêm người đi vận động").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name="Đã thêm người đi vận động").is_visible()
    password = page.locator("[data-password]").inner_text()
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password), password
    answer = api_login(client, "cv.vg.010", password)
    assert answer.status_code == 200, answer.get_json()
    listed = client.get(
        "/api/v1/users?role=canvasser&unit=gso-2020:12019-01",
        headers=world.headers(client, "admin"),
    )
    created = {u["username"]: u for u in listed.get_json()["items"]}["cv.vg.010"]
    assert [u["code"] for u in created["units"]] == ["12019-01"]
    assert created["full_name"] == "Nguyễn Thị <b>Lan</b>"

    # Never shown again: not on the list, not on the canvasser's page.
    page.goto(f"{pages.base}/canvassers")
    assert password not in page.content()
    row = page.locator("tr[data-user='cv.vg.010']")
    assert "Nguyễn Thị <b>Lan</b>" in row.inner_text()  # markup shows as text
    assert "Tổ dân phố 1" in row.inner_text()
    row.get_by_role("link", name="cv.vg.010").click()
    assert password not in page.content()


def test_a_taken_username_is_shown_beside_its_field(pages, world):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/canvassers")
    page.get_by_label("Tên đăng nhập").fill("cv.vg.002")
    page.get_by_role("button", name="Thêm người đi vận động").click()
    page.wait_for_load_state()
    assert page.locator("#new-units-error").inner_text() == (
        "Chọn ít nhất một xã/phường hoặc tổ dân phố/thôn."
    )
    page.get_by_label("Tổ dân phố 1").check()
    page.get_by_role("button", name="Thêm người đi vận động").click()
    page.wait_for_load_state()
    assert page.locator("#new-username-error").inner_text() == "Tên đăng nhập này đã có người dùng."
    assert page.get_by_label("Tên đăng nhập").input_value() == "cv.vg.002"


def test_units_password_and_deactivation_of_a_canvasser(pages, world, client):
    admin = world.headers(client, "admin")
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/canvassers/cv.vg.002")

    # Assign to units: the whole ward instead of its group.
    page.get_by_label("Tổ dân phố 1").uncheck()
    page.get_by_label(re.compile("Thị trấn Văn Giang")).check()
    page.get_by_role("button", name="Lưu địa bàn").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Đã lưu."
    listed = client.get("/api/v1/users?unit=gso-2020:12019&role=canvasser", headers=admin)
    units = {u["username"]: u["units"] for u in listed.get_json()["items"]}
    assert [u["code"] for u in units["cv.vg.002"]] == ["12019"]

    # A new password, shown once: the old one stops working, the new one logs in.
    page.get_by_role("button", name="Đặt lại mật khẩu").click()
    page.wait_for_load_state()
    password = page.locator("[data-password]").inner_text()
    assert api_login(client, "cv.vg.002", world.passwords["cv.vg.002"]).status_code == 401
    assert api_login(client, "cv.vg.002", password).status_code == 200

    # Deactivated: the account can no longer log in.
    page.get_by_role("link", name="Xem cv.vg.002").click()
    page.get_by_role("button", name="Khóa tài khoản").click()
    page.wait_for_load_state()
    assert "Đã khóa" in page.locator(".people-facts").inner_text()
    assert api_login(client, "cv.vg.002", password).status_code == 401
    page.get_by_role("button", name="Mở lại tài khoản").click()
    page.wait_for_load_state()
    assert api_login(client, "cv.vg.002", password).status_code == 200


def test_a_district_officer_may_not_manage_canvassers(pages, world):
    page = pages.open()
    pages.login(page, "dt.vangiang", world.passwords["dt.vangiang"])
    assert page.request.get(f"{pages.base}/canvassers").status == 403


@pytest.mark.parametrize("width", WIDTHS)
def test_the_people_pages_fit_and_pass_axe(pages, world, client, width):
    world.login(client, "cv.vg.001")
    page = pages.open(width)
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    for path, name in [
        ("/devices", "devices"),
        (f"/devices/{TABLET}/revoke", "device-revoke"),
        ("/canvassers", "canvassers"),
        ("/canvassers/cv.vg.001", "canvasser"),
    ]:
        page.goto(f"{pages.base}{path}")
        check_page(page, f"{name}-{width}")
    page.get_by_role("button", name="Đặt lại mật khẩu").click()
    page.wait_for_load_state()
    check_page(page, f"canvasser-password-{width}")

    admin = pages.open(width)
    pages.login(admin, "admin", world.passwords["admin"])
    admin.goto(f"{pages.base}/canvassers")
    assert admin.locator("tr[data-user='cv.xq.001']").count() == 1
    check_page(admin, f"canvassers-admin-{width}")


def test_the_people_pages_show_words_not_the_apis_codes(pages, world, client):
    world.login(client, "cv.vg.001")
    other = world.login(client, "cv.vg.002", device_id=NEW_TABLET, device_name="Tab 2")
    revoked = other["device"]["device_id"]
    admin_headers = world.headers(client, "admin")
    assert (
        client.post(f"/api/v1/devices/{revoked}/revoke", headers=admin_headers).status_code == 200
    )
    for username in ("sv.vangiang", "dt.vangiang", "admin"):
        page = pages.open()
        pages.login(page, username, world.passwords[username])
        paths = ["/devices"]
        if username != "dt.vangiang":
            paths += [f"/devices/{TABLET}/revoke", f"/devices/{revoked}/revoke", "/canvassers"]
            paths += ["/canvassers/cv.vg.001", "/canvassers/cv.vg.002"]
        for path in paths:
            page.goto(f"{pages.base}{path}")
            assert page.locator("main h1").count() == 1, (username, path)
            assert raw_codes(page) == [], (username, path)
        page.goto(f"{pages.base}/devices")
        row = page.locator(f"tr[data-device='{revoked}']").inner_text()
        assert "Tab 2" in row and "Đã thu hồi" in row


def test_an_admin_adds_a_canvasser_by_typing_unit_codes(pages, world, client):
    page = pages.open()
    pages.login(page, "admin", world.passwords["admin"])
    page.goto(f"{pages.base}/canvassers")
    page.get_by_label("Tên đăng nhập").fill("cv.xq.020")
    page.get_by_label(re.compile("Mã xã/phường")).fill("gso-2020:12022-01 gso-2020:nowhere")
    page.get_by_role("button", name="Thêm người đi vận động").click()
    page.wait_for_load_state()
    assert (
        page.locator("#new-units-error").inner_text() == "Một trong các đơn vị này không tồn tại."
    )
    page.get_by_label(re.compile("Mã xã/phường")).fill("gso-2020:12022-01")
    page.get_by_role("button", name="Thêm người đi vận động").click()
    page.wait_for_load_state()
    password = page.locator("[data-password]").inner_text()
    assert api_login(client, "cv.xq.020", password).status_code == 200
