"""The ward dashboard's canvassers' table in a real browser: a supervisor goes from each
number to the visits behind it in the review queue, and the numbers are the service's
(services/dashboard.py ``ward_canvassers``); at phone and desktop width, without horizontal
page scroll or a serious accessibility finding.
"""

from __future__ import annotations

from typing import Any

import pytest

from field_server.clock import utcnow
from field_server.services import dashboard
from tests.api.sync_helpers import GROUP_A1, WARD_A, Tablet, counts
from tests.browser.conftest import WIDTHS, horizontal_overflow, screenshot, serious_violations
from tests.db.test_canvasser_table import FAR, caller


@pytest.fixture
def synced(client: Any, world: Any) -> None:
    """cv.vg.001 visits five households, two of the visits far from the household;
    cv.vg.002 visits one and has a second tablet that never synced a visit."""
    a = Tablet(world, client, "cv.vg.001")
    g = Tablet(world, client, "cv.vg.002")
    Tablet(world, client, "cv.vg.002")
    homes = [a.household(address=f"Số {n}, ngõ 12") for n in range(5)]
    visits = [
        a.visit(homes[0]["id"], visited_at="2020-08-15T08:00:00+07:00"),
        a.visit(homes[1]["id"], visited_at="2020-08-15T09:00:00+07:00", **FAR),
        a.visit(
            homes[2]["id"],
            outcome="partial",
            visited_at="2020-08-15T10:00:00+07:00",
            **counts(before=0, during=1),
        ),
        a.visit(homes[3]["id"], visited_at="2020-08-16T08:00:00+07:00", **FAR),
        a.visit(
            homes[4]["id"],
            outcome="refused",
            visited_at="2020-08-16T09:00:00+07:00",
            **counts(before=0, during=0),
        ),
    ]
    assert all(r["status"] == "applied" for r in a.push([*homes, *visits])["results"])
    home = g.household(group=GROUP_A1, address="Số 1, tổ 1")
    assert g.push([home, g.visit(home["id"])])["results"][1]["status"] == "applied"


def number(text: str) -> int:
    """A count as the page writes it (Vietnamese: ``1.234``; English: ``1,234``)."""
    return int(text.strip().replace(".", "").replace(",", ""))


def queue_rows(page: Any) -> list[Any]:
    return [page.locator("tbody tr").nth(i) for i in range(page.locator("tbody tr").count())]


def test_each_number_leads_to_as_many_visits_in_the_review_queue(pages, world, app, synced):
    with app.app_context():
        expected = dashboard.ward_canvassers(caller("sv.vangiang"), WARD_A, now=utcnow())
    assert [r.username for r in expected] == ["cv.vg.001", "cv.vg.002"]
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    dashboard_url = page.url
    for row in expected:
        line = page.locator(f"tr[data-canvasser='{row.username}']")
        shown = {
            name: number(line.locator(f"[data-count={name}]").inner_text().split("\n")[0])
            for name in ("visits", "installs", "flagged")
        }
        assert shown == {"visits": row.visits, "installs": row.installs, "flagged": row.flagged}
        flags = {
            link.get_attribute("data-flag"): number(link.inner_text().rsplit(":", 1)[1])
            for link in line.locator("a[data-flag]").all()
        }
        assert flags == row.by_flag
        assert number(line.locator("td").last.inner_text()) == row.tablets

        line.locator("[data-count=visits] a").click()
        page.wait_for_load_state()
        listed = queue_rows(page)
        assert len(listed) == row.visits
        assert {r.locator("td").nth(6).inner_text() for r in listed} == {row.username}
        # The Installs column of those rows adds up to the table's installs.
        assert sum(number(r.locator("td").nth(3).inner_text()) for r in listed) == row.installs
        for flag, count in row.by_flag.items():
            page.goto(dashboard_url)
            line.locator(f"a[data-flag={flag}]").click()
            page.wait_for_load_state()
            assert len(queue_rows(page)) == count
            assert page.locator("#f-flag").input_value() == flag
            assert page.locator("#f-canvasser").input_value() == row.username
        page.goto(dashboard_url)
    # The sample holds what the table must show: flagged visits, and a canvasser with two.
    assert expected[0].by_flag == {"gps_far_from_household": 2} and expected[1].tablets == 2


@pytest.mark.parametrize("width", WIDTHS)
def test_the_table_fits_a_phone_and_passes_axe(pages, world, synced, width):
    page = pages.open(width)
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    table = page.locator("table.canvassers")
    assert table.locator("th[scope=col]").count() == 7
    assert table.locator("tbody th[scope=row]").count() == 2
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    table.scroll_into_view_if_needed()
    screenshot(page, f"ward-canvassers-{width}")
