"""The district's pages in a real browser: the exports downloaded under the page's session
give the API's bytes, and the daily report says /api/v1/stats's figures (docs/web.md)."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from babel.numbers import format_decimal, format_percent
from openpyxl import load_workbook

from tests.api.sync_helpers import WARD_A, WARD_B, Tablet
from tests.browser.conftest import WIDTHS, horizontal_overflow, screenshot, serious_violations

DISTRICT = "gso-2020:326"


@pytest.fixture
def synced(client: Any, world: Any) -> dict[str, str]:
    """cv.vg.001 synced five households in ward 12019: one installed after an earlier "not
    home", one partial, one "not home", one "come back" at an agreed time, one priority
    household with one of its two subjects covered; cv.xq.001 one in 12022, so the
    district's wards rank apart."""
    tablet = Tablet(world, client, "cv.vg.001")
    homes = [tablet.household(address=f"Số {n}, ngõ 7") for n in range(5)]
    done = [
        tablet.visit(homes[0]["id"], outcome="not_home", visited_at="2020-08-14T09:00:00+07:00"),
        tablet.visit(homes[0]["id"]),
        tablet.visit(homes[1]["id"], outcome="partial"),
        tablet.visit(homes[2]["id"], outcome="not_home"),
        tablet.visit(homes[3]["id"], outcome="come_back", come_back_at="2020-08-16T17:30:00+07:00"),
        tablet.visit(homes[4]["id"], outcome="partial", priority_subjects=2, priority_installed=1),
    ]
    answer = tablet.push([*homes, *done])
    assert all(r["status"] == "applied" for r in answer["results"]), answer
    other = Tablet(world, client, "cv.xq.001")
    home = other.household(ward=WARD_B, address="Thôn 3")
    answer = other.push([home, other.visit(home["id"], outcome="partial", installed_during=1)])
    assert all(r["status"] == "applied" for r in answer["results"]), answer
    return {f"home{n}": h["id"] for n, h in enumerate(homes)}


def api_get(client: Any, world: Any, username: str, path: str) -> Any:
    response = client.get(path, headers=world.headers(client, username))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def sheet_rows(data: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def snapshot_rows(data: bytes, tmp: Path, name: str) -> dict[str, list[tuple[Any, ...]]]:
    path = tmp / name
    path.write_bytes(data)
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("units", "visits", "households")
        }


def same_content(href: str, got: bytes, want: bytes, tmp: Path) -> None:
    """The same export: a CSV byte for byte; an XLSX's cells; a snapshot's tables (their
    files differ only by when they were written)."""
    if ".csv?" in href:
        assert got == want
    elif ".sqlite?" in href:
        assert got[:16] == want[:16] == b"SQLite format 3\x00"
        assert snapshot_rows(got, tmp, "page.sqlite") == snapshot_rows(want, tmp, "api.sqlite")
    else:
        assert got[:4] == want[:4] == b"PK\x03\x04"
        assert sheet_rows(got) == sheet_rows(want)


@pytest.mark.parametrize("username, unit", [("dt.vangiang", DISTRICT), ("sv.vangiang", WARD_A)])
def test_each_export_downloads_from_the_page_as_the_api_sends_it(
    pages, world, client, synced, tmp_path, username, unit
):
    page = pages.open()
    pages.login(page, username, world.passwords[username])
    page.goto(f"{pages.base}/units/{unit}")
    links = page.locator("a[data-export]")
    kinds = [links.nth(i).get_attribute("data-export") for i in range(links.count())]
    assert len(kinds) == 9, kinds
    for kind in kinds:
        link = page.locator(f"a[data-export='{kind}']")
        href = link.get_attribute("href")
        assert href is not None and href.startswith("/exports/")
        with page.expect_download() as info:
            link.click()
        got = Path(info.value.path()).read_bytes()
        api = api_get(client, world, username, f"/api/v1{href}")
        same_content(href, got, api.data, tmp_path)
        named = re.search(r"filename\*=UTF-8''(\S+)", api.headers["Content-Disposition"])
        assert named is not None
        assert info.value.suggested_filename == unquote(named.group(1))
        # The page's answer carries the API's headers.
        answer = page.request.get(f"{pages.base}{href}")
        assert answer.status == 200
        for name in ("Content-Type", "Content-Disposition", "Cache-Control"):
            assert answer.headers[name.lower()] == api.headers[name], (kind, name)
    audit = api_get(client, world, "admin", "/api/v1/audit?action=export&limit=100").get_json()
    assert sum(a["actor"] == username for a in audit["items"]) >= 2 * len(kinds)


def test_an_export_outside_the_callers_area_is_not_found(pages, world):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    answer = page.request.get(f"{pages.base}/exports/visits.csv?unit=gso-2020:12022")
    assert answer.status == 404
    answer = page.request.get(f"{pages.base}/exports/units.pdf?unit={WARD_A}")
    assert answer.status == 404


def test_a_canvasser_may_not_download(pages, world):
    page = pages.open()
    pages.login(page, "cv.vg.001", world.passwords["cv.vg.001"])
    answer = page.request.get(f"{pages.base}/exports/units.csv?unit={WARD_A}")
    assert answer.status == 403


def vi_percent(rate: float | None, locale: str = "vi") -> str:
    return "–" if rate is None else format_percent(rate, format="#,##0.0%", locale=locale)


@pytest.mark.parametrize("username, unit", [("dt.vangiang", DISTRICT), ("sv.vangiang", WARD_A)])
def test_the_daily_report_says_the_stats_figures(pages, world, client, synced, username, unit):
    stats = api_get(client, world, username, f"/api/v1/stats?unit={unit}").get_json()
    page = pages.open()
    pages.login(page, username, world.passwords[username])
    page.goto(f"{pages.base}/units/{unit}")
    page.get_by_role("link", name="Báo cáo hằng ngày để dán vào báo cáo gửi tỉnh").click()
    page.wait_for_load_state()
    text = page.get_by_label(re.compile("Nội dung báo cáo")).input_value()
    lines = text.split("\n")
    t = stats["totals"]
    whole = "toàn huyện" if unit == DISTRICT else "toàn xã"
    assert re.fullmatch(
        rf"Đến \d{{1,2}} giờ ngày \d\d/\d\d/\d{{4}}, {whole} đã có "
        + re.escape(
            f"{format_decimal(t['installed'], locale='vi')} người cài đặt Bluezone, đạt "
            f"{vi_percent(t['coverage'])} số người trưởng thành, xếp thứ "
            f"{stats['rank']} / {stats['of']}."
        ),
        lines[0],
    ), lines[0]
    children = sorted(stats["children"], key=lambda c: (c["rank"], c["unit"]["name"]))
    assert len(lines) == 1 + len(children)
    for line, child in zip(lines[1:], children, strict=True):
        installed = format_decimal(child["totals"]["installed"], locale="vi")
        assert line == (
            f"{child['unit']['name']}: đã có {installed}"
            f" người cài đặt Bluezone, đạt {vi_percent(child['totals']['coverage'])} số người"
            f" trưởng thành, xếp thứ {child['rank']} / {len(children)}."
        )


def test_the_district_page_ranks_its_wards_with_a_bar_each(pages, world, client, synced):
    """Wards in the order of /api/v1/stats's ranks, each with a bar at its coverage and the
    gap to the target beside it."""
    stats = api_get(client, world, "dt.vangiang", f"/api/v1/stats?unit={DISTRICT}").get_json()
    children = sorted(stats["children"], key=lambda c: c["rank"])
    page = pages.open()
    pages.login(page, "dt.vangiang", world.passwords["dt.vangiang"])
    page.goto(f"{pages.base}/units/{DISTRICT}")
    rows = page.locator("#children-h ~ .scroll tbody tr")
    assert rows.count() == len(children)
    assert any(c["totals"]["coverage"] for c in children)  # some bars to check
    for n, child in enumerate(children):
        row = rows.nth(n)
        assert child["unit"]["name"] in row.inner_text()
        bar = row.get_by_role("meter", name=f"Độ bao phủ của {child['unit']['name']}")
        coverage = child["totals"]["coverage"]
        if coverage is None:
            assert bar.count() == 0
            continue
        assert float(bar.get_attribute("value")) == pytest.approx(min(coverage, 1))
        assert float(bar.get_attribute("high")) == pytest.approx(stats["totals"]["target_rate"])
        gap = child["totals"]["gap_to_target"]
        if gap is not None:
            assert format_decimal(gap, locale="vi") in row.locator("td").last.inner_text()


def test_the_daily_report_in_english_and_for_a_past_day(pages, world, client, synced):
    stats = api_get(
        client, world, "dt.vangiang", f"/api/v1/stats?unit={DISTRICT}&to=2020-08-20"
    ).get_json()
    page = pages.open()
    pages.login(page, "dt.vangiang", world.passwords["dt.vangiang"])
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    page.goto(f"{pages.base}/units/{DISTRICT}/report")
    page.get_by_label(re.compile("Figures as of")).fill("2020-08-20")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    text = page.get_by_label(re.compile("Report text")).input_value()
    t = stats["totals"]
    assert text.split("\n")[0] == (
        f"By 24:00 on 20/08/2020, the whole district had "
        f"{format_decimal(t['installed'], locale='en')} people with Bluezone installed, "
        f"{vi_percent(t['coverage'], 'en')} of the adult population, ranked "
        f"{stats['rank']} / {stats['of']}."
    )


def test_the_ward_dashboard_lists_canvassers_and_its_follow_up(pages, world, client, synced):
    page = pages.open()
    pages.login(page, "sv.vangiang", world.passwords["sv.vangiang"])
    row = page.locator("tr[data-canvasser='cv.vg.001']")
    assert row.count() == 1
    assert re.search(r"\d\d:\d\d \d\d/\d\d/\d{4}", row.inner_text())
    page.get_by_role("link", name=re.compile("Các hộ cần quay lại")).click()
    page.wait_for_load_state()
    revisits = page.locator("#revisits tbody tr")
    shown = [revisits.nth(i).get_attribute("data-household") for i in range(revisits.count())]
    # The agreed time first; the household installed since is no longer listed.
    assert shown == [synced["home3"], synced["home2"]]
    assert "17:30 16/08/2020" in revisits.first.inner_text()
    assert "Số 3, ngõ 7" in revisits.first.inner_text()
    priority = page.locator("#priority tbody tr")
    assert [priority.nth(i).get_attribute("data-household") for i in range(priority.count())] == [
        synced["home4"]
    ]
    household = api_get(
        client, world, "sv.vangiang", f"/api/v1/households/{synced['home4']}"
    ).get_json()
    assert household["priority_installed"] < household["priority_subjects"]


def test_a_canvasser_sees_their_own_progress(pages, world, client, synced):
    tablet = Tablet(world, client, "cv.vg.001")
    refused = tablet.push([tablet.visit(synced["home1"], unknown_field=1)])["results"]
    assert refused[0]["status"] == "rejected"
    listed = api_get(client, world, "admin", "/api/v1/visits?canvasser=cv.vg.001&limit=1000")
    mine = [v for v in listed.get_json()["items"] if not v["voided"]]
    rejected = api_get(client, world, "sv.vangiang", "/api/v1/rejections").get_json()["items"]
    page = pages.open(360)
    pages.login(page, "cv.vg.001", world.passwords["cv.vg.001"])

    def figure(name: str) -> Any:
        return page.locator(f"[data-figure={name}]")

    assert figure("visits").inner_text() == format_decimal(len(mine), locale="vi")
    installed = sum(v["installed_during"] or 0 for v in mine)
    assert figure("installed").inner_text() == format_decimal(installed, locale="vi")
    own = [r["id"] for r in rejected if r["canvasser"] == "cv.vg.001"]
    assert len(own) == 1
    rows = page.locator("#rejections tbody tr")
    assert [rows.nth(i).get_attribute("data-rejection") for i in range(rows.count())] == own
    assert page.locator("#by-review [data-review=pending]").inner_text().endswith(f": {len(mine)}")
    screenshot(page, "district-cv.vg.001-progress-360")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_district_pages_fit_the_screen_and_pass_axe(pages, world, synced, width):
    for username, path in [
        ("dt.vangiang", f"/units/{DISTRICT}"),
        ("dt.vangiang", f"/units/{DISTRICT}/report"),
        ("sv.vangiang", f"/units/{WARD_A}"),
        ("sv.vangiang", f"/units/{WARD_A}/report"),
        ("sv.vangiang", f"/units/{WARD_A}/followup"),
    ]:
        page = pages.open(width)
        pages.login(page, username, world.passwords[username])
        page.goto(f"{pages.base}{path}")
        page.wait_for_load_state()
        name = f"{username}{path}".replace("/", "-").replace(":", "-")
        screenshot(page, f"district-{name}-{width}")
        assert horizontal_overflow(page) == 0, (path, width)
        assert serious_violations(page) == [], (path, width)
