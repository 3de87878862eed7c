"""Pages the supervisors' guide shows that no other browser test photographs
(docs/supervisors-guide.md; tests/browser/guide_images.py makes the guide's pictures).

The ward's dashboard after the language switch: the guide shows where the switch is and
what the page looks like in English.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.sync_helpers import WARD_A, Tablet
from tests.browser.conftest import horizontal_overflow, screenshot, serious_violations


@pytest.fixture
def synced(client: Any, world: Any) -> None:
    """cv.vg.001 synced four households of the ward: installed, partly installed, not home,
    and come back at an agreed time."""
    tablet = Tablet(world, client, "cv.vg.001")
    homes = [tablet.household(address=f"Số {n}, ngõ 9") for n in range(4)]
    done = [
        tablet.visit(homes[0]["id"]),
        tablet.visit(homes[1]["id"], outcome="partial"),
        tablet.visit(homes[2]["id"], outcome="not_home"),
        tablet.visit(homes[3]["id"], outcome="come_back", come_back_at="2020-08-16T17:30:00+07:00"),
    ]
    answer = tablet.push([*homes, *done])
    assert all(r["status"] == "applied" for r in answer["results"]), answer


def test_the_ward_dashboard_in_english_on_a_phone(pages, world, synced):
    page = pages.open(360)
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    assert page.url.endswith(f"/units/{WARD_A}")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()

    assert page.url.endswith(f"/units/{WARD_A}")  # the switch stays on the page
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Report and downloads").is_visible()
    assert page.get_by_role("button", name="Tiếng Việt").is_visible()  # the way back
    screenshot(page, "guide-ward-english-360")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
