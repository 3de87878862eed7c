"""The supervisors' and district officers' pages in a real browser (issue: web pages).

Each test signs in through the login form, as a person would, over a live server holding
the suite's world and a few synced visits.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from babel.numbers import format_decimal, format_percent

from tests.api.sync_helpers import WARD_A, Tablet
from tests.browser.conftest import WIDTHS, horizontal_overflow, screenshot, serious_violations

XSS_NOTE = '<script>window.__owned = 1</script>"><img src=x onerror="window.__owned = 2">'


@pytest.fixture
def synced(client: Any, world: Any) -> dict[str, Any]:
    """cv.vg.001 synced three households: one visit flagged far from its household, one
    whose notes try to inject markup, one plain."""
    tablet = Tablet(world, client, "cv.vg.001")
    homes = [tablet.household(address=f"Số {n}, ngõ 4") for n in range(3)]
    far = tablet.visit(homes[0]["id"], lat=21.5, lon=106.5)
    hostile = tablet.visit(homes[1]["id"], notes=XSS_NOTE)
    plain = tablet.visit(homes[2]["id"], outcome="partial", installed_during=1)
    answer = tablet.push([*homes, far, hostile, plain])
    assert all(r["status"] == "applied" for r in answer["results"])
    return {"far": far["id"], "hostile": hostile["id"], "plain": plain["id"]}


def api_stats(client: Any, world: Any, unit: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/stats?unit={unit}", headers=world.headers(client, "admin"))
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize(
    "username, landing",
    [
        ("sv.vangiang", r"/units/gso-2020:12019$"),
        ("dt.vangiang", r"/units/gso-2020:326$"),
        ("admin", r"/$"),
        ("cv.vg.001", r"/$"),
    ],
)
def test_each_role_logs_in_and_lands_on_its_home(pages, world, username, landing):
    page = pages.open()
    pages.login(page, username, world.passwords[username])
    assert re.search(landing, page.url), page.url
    assert page.get_by_role("button", name=re.compile("Đăng xuất")).is_visible()
    if username.startswith("cv."):
        assert page.get_by_role("link", name=re.compile("ứng dụng")).is_visible()


def test_a_wrong_password_is_refused_on_the_page(pages, world):
    page = pages.open()
    pages.login(page, "sv.vangiang", "not-the-password")
    assert page.get_by_role("alert").inner_text() == "Sai tên đăng nhập hoặc mật khẩu."
    assert page.url.endswith("/login")


def test_the_dashboard_shows_the_apis_figures(pages, world, client, synced):
    totals = api_stats(client, world, WARD_A)
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    shown = {
        name: page.locator(f"[data-figure={name}]").inner_text()
        for name in ("installed", "coverage", "coverage_of_counted", "rank")
    }
    t = totals["totals"]
    assert shown["installed"] == format_decimal(t["installed"], locale="vi")
    assert shown["coverage"] == format_percent(t["coverage"], format="#,##0.0%", locale="vi")
    assert shown["coverage_of_counted"] == format_percent(
        t["coverage_of_counted"], format="#,##0.0%", locale="vi"
    )
    assert shown["rank"] == f"{totals['rank']} / {totals['of']}"


def test_bulk_approve_the_flagged_visits(pages, world, client, synced):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/review?flag=gps_far_from_household")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    # Codes are shown in the page's language.
    cells = rows.first.locator("td").all_inner_texts()
    assert "Xa hộ gia đình" in cells and "Đã cài đặt" in cells and "Chờ duyệt" in cells
    rows.first.get_by_role("checkbox").check()
    page.get_by_label("Nhận xét (không bắt buộc)").fill("Đã gọi điện xác nhận")
    page.get_by_role("button", name="Duyệt các lượt đã chọn").click()
    page.wait_for_load_state()
    visit = client.get(
        f"/api/v1/visits/{synced['far']}", headers=world.headers(client, "sv.vangiang")
    ).get_json()
    assert visit["review_status"] == "approved"
    assert visit["review_comment"] == "Đã gọi điện xác nhận"


def test_markup_in_a_note_shows_as_text(pages, world, synced):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.goto(f"{pages.base}/review")
    row = page.locator(f"tr[data-visit='{synced['hostile']}']")
    assert XSS_NOTE in row.inner_text()
    assert page.evaluate("window.__owned === undefined")


def test_the_language_switch_is_remembered(pages, world):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name=re.compile("Log out")).is_visible()
    page.goto(f"{pages.base}/review")
    assert page.get_by_role("heading", name="Review queue").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"


# Who looks at which page: every page of the site, each as someone who may see it.
PAGES = [
    (None, "/login"),
    ("sv.vangiang", "/units/gso-2020:12019"),
    ("sv.vangiang", "/review"),
    ("dt.vangiang", "/units/gso-2020:326"),
    ("admin", "/"),
    ("cv.vg.001", "/"),
]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_screen_and_passes_axe(pages, world, synced, width):
    for username, path in PAGES:
        page = pages.open(width)
        if username is not None:
            pages.login(page, username, world.passwords[username])
        page.goto(f"{pages.base}{path}")
        page.wait_for_load_state()
        name = f"{username or 'guest'}{path}".replace("/", "-").replace(":", "-").strip("-")
        screenshot(page, f"{name}-{width}")
        assert horizontal_overflow(page) == 0, (path, width)
        assert serious_violations(page) == [], (path, width)
