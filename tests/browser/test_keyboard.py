"""A supervisor works the pages with the keyboard alone (docs/web.md): no click, only Tab,
Shift+Tab, Enter, Space, typing, and the arrow keys inside a group of radio buttons.

Signed in, they skip to the content, reach the review queue, tick the flagged visit and
approve it, open the conflicts, choose the tablet's value and resolve the conflict, and
switch the page to English. After every key that moves the focus, the focused element is on
the screen and drawn with a focus ring (its computed outline or shadow, which the pages set
only on focus), and
what a person would see at the end is checked, on the page and through the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.api.sync_helpers import WARD_A, Tablet
from tests.api.test_conflicts import visit_field_conflict
from tests.browser.test_conflicts import api

# Enough presses to cross any of these pages; a focus that never arrives fails the test.
MAX_PRESSES = 80

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: el.getAttribute("name"),
    value: el.value === undefined ? null : el.value,
    checked: el.checked === undefined ? null : el.checked,
    text: (el.innerText || "").trim(),
    in_main: !!el.closest("main"),
    on_screen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
      && box.top < window.innerHeight && box.left < window.innerWidth
      && style.visibility !== "hidden",
    ring: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== "none",
  };
}"""


# True once the browser has given the focus to an element (it starts on the body).
AUTOFOCUSED = "() => document.activeElement !== null && document.activeElement !== document.body"


def focused(page: Any) -> dict[str, Any]:
    """The focused element, checked: on the screen and drawn with a focus ring."""
    found = page.evaluate(FOCUSED)
    assert found is not None, f"the focus is lost on {page.url}"
    assert found["on_screen"], found
    assert found["ring"], found
    return found


def press_until(
    page: Any, wanted: Callable[[dict[str, Any]], bool], key: str = "Tab"
) -> dict[str, Any]:
    """Press ``key`` until the focused element is the one wanted, checking every stop."""
    for _ in range(MAX_PRESSES):
        page.keyboard.press(key)
        here = focused(page)
        if wanted(here):
            return here
    raise AssertionError(f"{key} never reached the element on {page.url}")


def follow(page: Any, key: str = "Enter") -> None:
    """Press a key that loads a page (a link, a submit button) and wait for the page."""
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state()


def test_a_supervisor_works_the_pages_with_the_keyboard_only(pages, world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    home = tablet.household(address="Số 3, ngõ 8")
    far = tablet.visit(home["id"], lat=21.5, lon=106.5)  # flagged: far from the household
    assert [r["status"] for r in tablet.push([home, far])["results"]] == ["applied"] * 2
    sv = world.headers(client, "sv.vangiang")
    _, visit_id, conflict_id = visit_field_conflict(client, tablet, sv)

    page = pages.open()
    page.goto(f"{pages.base}/login")

    # The login form: the username has the focus; type, Tab to the password, Enter. The
    # browser moves the focus to an autofocus field at its next rendering step, which may
    # come after the load event that goto waits for: wait for it (up to the timeout).
    page.wait_for_function(AUTOFOCUSED)
    assert focused(page)["id"] == "username"
    page.keyboard.type("sv.vangiang")
    assert press_until(page, lambda el: el["id"] == "password")
    page.keyboard.type(world.passwords["sv.vangiang"])
    follow(page)
    assert page.url.endswith(f"/units/{WARD_A}")

    # The first Tab shows the skip link; Enter skips the header: the next stop is in main.
    skip = press_until(page, lambda el: True)
    assert skip["text"] == "Chuyển đến nội dung"
    page.keyboard.press("Enter")
    assert press_until(page, lambda el: True)["in_main"]

    # Back up to the menu (Shift+Tab) and open the review queue.
    press_until(page, lambda el: el["text"] == "Duyệt" and not el["in_main"], key="Shift+Tab")
    follow(page)
    assert page.url.endswith("/review")

    # Tick the flagged visit (Space) and approve it (Enter on the button).
    box = press_until(page, lambda el: el["id"] == f"v-{far['id']}")
    assert box["checked"] is False
    page.keyboard.press("Space")
    assert focused(page)["checked"] is True
    press_until(page, lambda el: el["text"] == "Duyệt các lượt đã chọn")
    follow(page)
    approved = api(client, sv, f"/visits/{far['id']}")
    assert approved["review_status"] == "approved"
    assert page.locator(f"tr[data-visit='{far['id']}']").inner_text().count("Đã duyệt") == 1

    # The conflicts: the tablet's value of the installs is chosen with the arrow keys in
    # its row's radio group, then the conflict is resolved.
    press_until(page, lambda el: el["text"] == "Xung đột" and not el["in_main"])
    follow(page)
    assert page.url.endswith("/conflicts")
    picked = press_until(page, lambda el: el["name"] == "pick-installed_during")
    assert picked["value"] == "server" and picked["checked"]
    page.keyboard.press("ArrowRight")
    picked = focused(page)
    assert (picked["name"], picked["value"], picked["checked"]) == (
        "pick-installed_during",
        "client",
        True,
    )
    press_until(page, lambda el: el["text"] == "Giải quyết theo các giá trị đã chọn")
    follow(page)
    assert page.get_by_role("status").inner_text() == "Đã giải quyết xung đột."
    assert page.locator(f"[data-conflict='{conflict_id}']").count() == 0
    listed = api(client, sv, f"/conflicts?ward={WARD_A}&status=open")
    assert conflict_id not in [c["id"] for c in listed["items"]]
    assert api(client, sv, f"/visits/{visit_id}")["installed_during"] == 0

    # The language switch, reached backwards from the page's content.
    press_until(page, lambda el: el["in_main"])
    press_until(page, lambda el: el["text"] == "English", key="Shift+Tab")
    follow(page)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Conflicts"
    assert press_until(page, lambda el: True)["text"] == "Skip to content"
