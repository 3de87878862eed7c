"""Conflicts, possible duplicates and rejected records in a real browser (docs/web.md).

Each situation is made the way the API tests make it (tests/api/test_conflicts.py,
test_duplicates.py, test_rejections.py): a tablet's pushes through the API. The supervisor
then settles it on the page, and the API says what happened.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from domain.records import (
    CONFLICT_KINDS,
    FLAGS,
    MUTATION_TYPES,
    OUTCOMES,
    REJECTION_CODES,
    REVIEW_STATES,
)
from tests.api.sync_helpers import WARD_A, Tablet
from tests.api.test_conflicts import duplicate_conflict, new_visit, visit_field_conflict
from tests.api.test_rejections import bad_counts
from tests.browser.conftest import WIDTHS, horizontal_overflow, screenshot, serious_violations


@pytest.fixture
def tablet(client: Any, world: Any) -> Tablet:
    return Tablet(world, client, "cv.vg.001")


@pytest.fixture
def sv(client: Any, world: Any) -> dict[str, str]:
    return world.headers(client, "sv.vangiang")


def signed_in(pages: Any, world: Any, username: str = "sv.vangiang", width: int = 1280) -> Any:
    page = pages.open(width)
    pages.login(page, username, world.passwords[username])
    return page


# What the API says in codes, which a page must put in words.
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
TOKEN = re.compile(r"[A-Za-z][A-Za-z_.]*[A-Za-z]")
CODES = {
    *OUTCOMES,
    *REVIEW_STATES,
    *FLAGS,
    *CONFLICT_KINDS,
    *REJECTION_CODES,
    *MUTATION_TYPES,
    *("canvasser", "supervisor", "district", "admin"),
    *("true", "false", "null", "None", "True", "False"),
}


def raw_codes(page: Any) -> list[str]:
    """The API codes (snake_case words, outcomes, states, roles, true/false/null) that the
    visible text of the page's main region shows as they are. The rules' own messages
    (``data-message``: the catalogues' translations, which name some fields by their
    API name) are left out."""
    text = page.locator("main").inner_text()
    for message in page.locator("main [data-message]").all_inner_texts():
        text = text.replace(message, "")
    found = set(SNAKE_CASE.findall(text)) | {w for w in TOKEN.findall(text) if w in CODES}
    return sorted(found)


def api(client: Any, headers: dict[str, str], path: str) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_resolve_a_conflict_choosing_the_tablets_value(pages, world, client, tablet, sv):
    # The supervisor set installed_during to 1; the tablet, from version 1, sent 0.
    _, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/conflicts")
    section = page.locator(f"[data-conflict='{conflict_id}']")
    row = section.get_by_role("row", name="Cài trong lượt đến")
    assert "1" in row.inner_text() and "0" in row.inner_text()
    section.get_by_label("Cài trong lượt đến, Máy tính bảng:").check()
    section.get_by_role("button", name="Giải quyết theo các giá trị đã chọn").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Đã giải quyết xung đột."
    assert page.locator(f"[data-conflict='{conflict_id}']").count() == 0

    listed = api(client, sv, f"/conflicts?ward={WARD_A}&status=resolved")
    [resolved] = [c for c in listed["items"] if c["id"] == conflict_id]
    assert resolved["resolved_by"] == "sv.vangiang"
    visit = api(client, sv, f"/visits/{visit_id}")
    assert visit["installed_during"] == 0


def test_a_district_officer_reads_conflicts_without_buttons(pages, world, client, tablet, sv):
    _, _, conflict_id = visit_field_conflict(client, tablet, sv)
    page = signed_in(pages, world, "dt.vangiang")
    page.goto(f"{pages.base}/conflicts")
    section = page.locator(f"[data-conflict='{conflict_id}']")
    assert section.count() == 1
    assert section.get_by_role("button").count() == 0
    assert section.get_by_role("radio").count() == 0
    token = page.locator("input[name=csrf_token]").first.input_value()
    response = page.request.post(
        f"{pages.base}/conflicts/{conflict_id}/dismiss", form={"csrf_token": token}
    )
    assert response.status == 403
    listed = api(client, sv, f"/conflicts?ward={WARD_A}&status=open")
    assert conflict_id in [c["id"] for c in listed["items"]]


def test_merge_a_duplicate_household(pages, world, client, tablet, sv):
    first, second, conflict_id = duplicate_conflict(tablet)
    visit = tablet.visit(second)
    assert tablet.push([visit])["results"][0]["status"] == "applied"
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/duplicates")
    pair = page.locator(f"section[data-pair*='{second}']")
    assert pair.locator(f"[data-household='{second}'] tbody tr").count() == 1
    ordered = pair.locator("[data-household]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.household)"
    )
    keep = ordered.index(first) + 1
    pair.get_by_role("button", name=f"Giữ hộ {keep}, gộp hộ kia vào").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Đã gộp hai hộ."

    merged = api(client, sv, f"/households/{second}")
    assert merged["merged_into"] == first
    survivor = api(client, sv, f"/households/{first}")
    assert [v["id"] for v in survivor["visits"]] == [visit["id"]]
    listed = api(client, sv, f"/conflicts?ward={WARD_A}&status=resolved")
    assert conflict_id in [c["id"] for c in listed["items"]]


def test_dismiss_a_possible_duplicate(pages, world, client, tablet, sv):
    _, second, conflict_id = duplicate_conflict(tablet, at="Số 9, ngõ 2, phố Chợ")
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/duplicates?ward={WARD_A}")
    pair = page.locator(f"section[data-pair*='{second}']")
    pair.get_by_role("button", name="Không phải trùng").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Đã bỏ qua xung đột."
    assert page.locator(f"section[data-pair*='{second}']").count() == 0
    listed = api(client, sv, f"/conflicts?ward={WARD_A}&status=dismissed")
    assert conflict_id in [c["id"] for c in listed["items"]]


def test_reapply_a_rejection_corrected_after_a_refusal(pages, world, client, tablet, sv):
    household_id, visit, _ = bad_counts(tablet)  # installs (1 + 5) exceed 3 smartphones
    rejection_id = f"{tablet.device_id}:2"
    page = signed_in(pages, world)
    page.goto(f"{pages.base}/rejections")
    card = page.locator(f"[data-rejection='{rejection_id}']")
    assert "Lý do:" in card.inner_text()
    field = card.get_by_label("Cài trong lượt đến")
    assert field.input_value() == "5"
    assert field.get_attribute("aria-invalid") == "true"

    # As sent, it is refused again: the reason and the field's error show on the page.
    card.get_by_role("button", name="Áp dụng lại như đã gửi").click()
    page.wait_for_load_state()
    card = page.locator(f"[data-rejection='{rejection_id}']")
    assert "Lại bị từ chối:" in card.get_by_role("alert").inner_text()
    assert card.get_by_label("Cài trong lượt đến").get_attribute("aria-invalid") == "true"

    card.get_by_label("Cài trong lượt đến").fill("2")
    card.get_by_role("button", name="Áp dụng lại với các giá trị này").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Đã áp dụng lại bản ghi."
    assert page.locator(f"[data-rejection='{rejection_id}']").count() == 0

    assert api(client, sv, "/rejections")["items"] == []
    applied = api(client, sv, f"/visits/{visit['id']}")
    assert applied["installed_during"] == 2 and applied["household_id"] == household_id


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pages_fit_the_screen_and_pass_axe(pages, world, client, tablet, sv, width):
    visit_field_conflict(client, tablet, sv)
    duplicate_conflict(tablet)
    bad_counts(tablet)
    for username in ("sv.vangiang", "dt.vangiang"):
        page = signed_in(pages, world, username, width)
        for path in ("/conflicts", f"/duplicates?ward={WARD_A}", "/rejections"):
            page.goto(f"{pages.base}{path}")
            page.wait_for_load_state()
            assert page.locator("main section").count() >= 1, (username, path)
            name = f"{username}-{path.split('?')[0].strip('/')}-{width}"
            screenshot(page, name)
            assert horizontal_overflow(page) == 0, (username, path, width)
            assert serious_violations(page) == [], (username, path, width)


def outcome_conflict(client: Any, tablet: Tablet, sv: dict[str, str]) -> tuple[str, str]:
    """The supervisor sets the outcome to refused; the tablet, from version 1, to
    already_installed: a conflict on the outcome."""
    _, visit_id = new_visit(tablet)
    response = client.patch(
        f"/api/v1/visits/{visit_id}",
        json={"base_version": 1, "data": {"outcome": "refused"}},
        headers=sv,
    )
    assert response.status_code == 200, response.get_json()
    update = tablet.mutation("visit.update", visit_id, {"outcome": "already_installed"}, 1)
    result = tablet.push([update])["results"][0]
    assert result["status"] == "conflict", result
    return visit_id, result["conflict_id"]


def test_the_pages_show_words_not_the_apis_codes(pages, world, client, tablet, sv):
    visit_field_conflict(client, tablet, sv)
    _, conflict_id = outcome_conflict(client, tablet, sv)
    _, second, _ = duplicate_conflict(tablet)
    counts = dict.fromkeys(("adults", "smartphones", "installed_before", "installed_during"))
    counts |= dict.fromkeys(("priority_subjects", "priority_installed"))
    not_home = tablet.visit(second, outcome="not_home", **counts)
    assert tablet.push([not_home])["results"][0]["status"] == "applied"
    bad_counts(tablet)
    for username in ("sv.vangiang", "dt.vangiang"):
        page = signed_in(pages, world, username)
        for path in ("/conflicts", f"/duplicates?ward={WARD_A}", "/rejections"):
            page.goto(f"{pages.base}{path}")
            assert page.locator("main section").count() >= 1, (username, path)
            assert raw_codes(page) == [], (username, path)

    # The words the codes became; the codes stay in data- attributes.
    page.goto(f"{pages.base}/conflicts")
    section = page.locator(f"[data-conflict='{conflict_id}']")
    assert section.get_attribute("data-kind") == "field_conflict"
    row = section.locator("tr[data-field='outcome']").inner_text()
    assert "Từ chối cài" in row and "Đã cài từ trước" in row and "Đã cài đặt" in row
    assert section.locator(f"[data-ward='{WARD_A}']").inner_text() == "Thị trấn Văn Giang"
    page.goto(f"{pages.base}/duplicates?ward={WARD_A}")
    cells = page.locator(f"[data-household='{second}'] td[data-outcome='not_home']")
    assert set(cells.all_inner_texts()) == {"Không có nhà"}
    page.goto(f"{pages.base}/rejections")
    assert page.locator("[data-code='validation_failed']").count() == 1
    assert page.locator("[data-type='visit.create']").count() == 1
    assert page.locator("dd[data-field='outcome']").inner_text() == "Đã cài đặt"


# --- the forms without a browser: the other choices --------------------------------------


def form_post(client: Any, world: Any, path: str, data: dict[str, str]) -> Any:
    from tests.browser.test_forms import csrf_token, sign_in

    sign_in(client, world, "sv.vangiang")
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/conflicts")})


def test_choosing_the_value_before_both_changes_sets_it(client, world, tablet, sv):
    _, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    response = form_post(
        client,
        world,
        f"/conflicts/{conflict_id}/resolve",
        {"action": "choose", "pick-installed_during": "base", "back": "/conflicts"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/conflicts"
    assert api(client, sv, f"/visits/{visit_id}")["installed_during"] == 2
    admin = world.headers(client, "admin")
    audit = api(client, admin, "/audit?action=conflict.resolve")["items"]
    assert audit[0]["details"]["resolution"] == "set"


def test_an_unknown_choice_changes_nothing(client, world, tablet, sv):
    _, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)
    response = form_post(
        client,
        world,
        f"/conflicts/{conflict_id}/resolve",
        {"action": "choose", "pick-installed_during": "mine", "back": "https://elsewhere/"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/conflicts"
    assert "Hãy chọn một giá trị trong danh sách." in client.get("/conflicts").get_data(
        as_text=True
    )
    listed = api(client, sv, f"/conflicts?ward={WARD_A}&status=open")
    assert conflict_id in [c["id"] for c in listed["items"]]
    assert api(client, sv, f"/visits/{visit_id}")["installed_during"] == 1


def test_a_correction_refused_again_is_shown_with_what_was_typed(client, world, tablet, sv):
    _, visit, _ = bad_counts(tablet)
    rejection_id = f"{tablet.device_id}:2"
    names = list(visit["data"])
    data: dict[str, Any] = {
        f"value-{k}": "" if v is None else str(v) for k, v in visit["data"].items()
    }
    data.update({"field": names, "value-installed_during": "2"})
    data["value-household_id"] = str(uuid.uuid4())  # a household the server does not know
    response = form_post(
        client, world, f"/rejections/{rejection_id}/apply", {"action": "corrected", **data}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Lại bị từ chối:" in page and data["value-household_id"] in page
    [still] = api(client, sv, "/rejections")["items"]
    assert still["id"] == rejection_id
