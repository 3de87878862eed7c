"""The visit page in a real browser (docs/web.md): opened from the review queue, its
evidence, a correction saved through the same operation as PATCH /api/v1/visits/{id}, the
rules' refusals beside their fields, a version conflict said plainly, and the review of this
one visit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.sync_helpers import Tablet
from tests.browser.conftest import WIDTHS, horizontal_overflow, screenshot, serious_violations
from tests.browser.test_conflicts import raw_codes

COUNTS = (
    "adults",
    "smartphones",
    "installed_before",
    "installed_during",
    "priority_subjects",
    "priority_installed",
)


@pytest.fixture
def visit_ids(client: Any, world: Any) -> dict[str, str]:
    """cv.vg.001 visited one household twice (the second far from its position) and
    another once."""
    tablet = Tablet(world, client, "cv.vg.001")
    home, other = tablet.household(address="Số 7, ngõ 2"), tablet.household(address="Số 9")
    first = tablet.visit(home["id"], outcome="not_home", **dict.fromkeys(COUNTS))
    second = tablet.visit(
        home["id"], visited_at="2020-08-16T10:00:00+07:00", lat=20.96, lon=105.95, notes="Ổn"
    )
    alone = tablet.visit(other["id"])
    answer = tablet.push([home, other, first, second, alone])
    assert all(r["status"] == "applied" for r in answer["results"])
    return {"first": first["id"], "second": second["id"], "alone": alone["id"]}


def api_visit(client: Any, world: Any, visit_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/visits/{visit_id}", headers=world.headers(client, "admin"))
    assert response.status_code == 200
    return response.get_json()


def signed_in(pages: Any, world: Any, username: str = "sv.vangiang", width: int = 1280) -> Any:
    page = pages.open(width)
    pages.login(page, username, world.passwords[username])
    return page


def test_a_visit_opened_from_the_queue_is_corrected_in_the_browser(pages, world, client, visit_ids):
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/review")
    page.locator(f'tr[data-visit="{visit_ids["second"]}"] a').click()
    assert page.url.endswith(f"/visits/{visit_ids['second']}")
    assert page.locator('[data-count="installed_during"]').inner_text() == "2"
    assert "Xa hộ gia đình" in page.locator('[data-field="flags"]').inner_text()
    assert page.locator('[data-field="distance"]').inner_text().startswith("1.")  # > 1 km
    # The household's other visit is listed, with a link to it.
    assert page.locator(f'tr[data-visit="{visit_ids["first"]}"] a').is_visible()

    page.get_by_label("Cài trong lượt đến").fill("1")
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == (
        "Đã lưu bản sửa: lượt đến nhà nay ở phiên bản 2."
    )
    assert page.locator('[data-count="installed_during"]').inner_text() == "1"

    shown = api_visit(client, world, visit_ids["second"])
    assert shown["installed_during"] == 1
    assert shown["version"] == 2
    assert shown["notes"] == "Ổn"  # untouched fields are not sent
    last = shown["history"][-1]
    assert last["changed"] == ["installed_during"]
    assert last["previous"] == {"installed_during": 2}
    assert (last["author"], last["author_role"]) == ("sv.vangiang", "supervisor")
    assert page.locator('tr[data-version="2"]').is_visible()


def test_a_correction_the_rules_refuse_is_shown_beside_its_field(pages, world, client, visit_ids):
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/visits/{visit_ids['alone']}")
    field = page.get_by_label("Cài trong lượt đến")
    field.fill("5")  # installed_before 1 + 5 > 3 smartphones
    page.get_by_label("Người trưởng thành").fill("many")
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state()
    # The page's own check first: a count must be a whole number.
    adults = page.get_by_label("Người trưởng thành")
    assert adults.get_attribute("aria-invalid") == "true"
    assert page.locator("#ce-adults").inner_text() == "Một số nguyên, từ 0 trở lên."
    assert field.input_value() == "5"  # the entries are kept

    adults.fill("4")
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state()
    # Then the operation's rule, in Vietnamese, beside the field it names.
    assert field.get_attribute("aria-invalid") == "true"
    assert page.locator("#ce-installed_during").inner_text().strip() != ""
    assert page.get_by_role("alert").is_visible()
    assert api_visit(client, world, visit_ids["alone"])["version"] == 1


def test_a_visit_changed_meanwhile_is_a_version_conflict(pages, world, client, visit_ids):
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/visits/{visit_ids['alone']}")
    response = client.patch(
        f"/api/v1/visits/{visit_ids['alone']}",
        json={"base_version": 1, "data": {"adults": 5}},
        headers=world.headers(client, "admin"),
    )
    assert response.status_code == 200
    page.get_by_label("Cài trong lượt đến").fill("0")
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").inner_text()
    assert "phiên bản 1" in alert and "Có người đã sửa" in alert
    assert page.locator('[data-count="adults"]').inner_text() == "5"  # the values now
    assert page.get_by_label("Cài trong lượt đến").input_value() == "0"  # the entry kept
    shown = api_visit(client, world, visit_ids["alone"])
    assert (shown["version"], shown["installed_during"]) == (2, 2)

    # Saving again, deliberately, applies the entry over the current version.
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state()
    shown = api_visit(client, world, visit_ids["alone"])
    assert (shown["version"], shown["adults"], shown["installed_during"]) == (3, 5, 0)


def test_one_visit_is_approved_from_its_page(pages, world, client, visit_ids):
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/visits/{visit_ids['alone']}")
    page.get_by_label("Nhận xét (không bắt buộc)").fill("Đã gọi điện xác nhận")
    page.get_by_role("button", name="Duyệt", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Đã duyệt lượt đến nhà."
    shown = api_visit(client, world, visit_ids["alone"])
    assert (shown["review_status"], shown["review_comment"], shown["reviewed_by"]) == (
        "approved",
        "Đã gọi điện xác nhận",
        "sv.vangiang",
    )


def test_a_district_officer_reads_the_visit_without_forms(pages, world, visit_ids):
    page = signed_in(pages, world, "dt.vangiang")
    page.goto(f"{pages.base}/visits/{visit_ids['second']}")
    assert page.locator('[data-field="version"]').inner_text() == "1"
    assert page.get_by_role("button", name="Lưu bản sửa").count() == 0
    assert page.get_by_role("button", name="Duyệt", exact=True).count() == 0


def test_the_visit_page_shows_words_not_the_apis_codes(pages, world, client, visit_ids):
    # A supervisor's correction: version 2 changed the outcome and the come-back time.
    sv = world.headers(client, "sv.vangiang")
    response = client.patch(
        f"/api/v1/visits/{visit_ids['first']}",
        json={
            "base_version": 1,
            "data": {"outcome": "come_back", "come_back_at": "2020-08-17T18:00:00+07:00"},
        },
        headers=sv,
    )
    assert response.status_code == 200, response.get_json()
    for username in ("sv.vangiang", "dt.vangiang"):
        page = signed_in(pages, world, username)
        for name in ("first", "second", "alone"):
            page.goto(f"{pages.base}/visits/{visit_ids[name]}")
            assert raw_codes(page) == [], (username, name)
            assert "gso-2020:" not in page.locator("main").inner_text()  # units by name
    page.goto(f"{pages.base}/visits/{visit_ids['first']}")
    changed = page.locator('tr[data-version="2"] [data-changed="outcome"]').inner_text()
    assert changed == "Kết quả (trước đó: Không có nhà)"
    changed = page.locator('tr[data-version="2"] [data-changed="come_back_at"]').inner_text()
    assert "trước đó: –" in changed


def test_other_wards_and_canvassers_do_not_see_the_visit(app, world, visit_ids):
    from tests.browser.test_forms import sign_in

    for username, status in (("sv.xuanquan", 404), ("cv.vg.001", 403)):
        other = app.test_client()
        sign_in(other, world, username)
        assert other.get(f"/visits/{visit_ids['second']}").status_code == status
        assert other.get(f"/visits/{visit_ids['second']}?done=corrected").status_code == status


@pytest.mark.parametrize("width", WIDTHS)
def test_the_visit_page_fits_and_passes_axe(pages, world, client, visit_ids, width):
    page = signed_in(pages, world, width=width)
    page.goto(f"{pages.base}/visits/{visit_ids['second']}")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    screenshot(page, f"visit-{width}")
    # With a refusal and a conflict shown too.
    page.get_by_label("Cài trong lượt đến").fill("9")
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state()
    assert re.search(r"\S", page.locator("#ce-installed_during").inner_text())
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    screenshot(page, f"visit-refused-{width}")
