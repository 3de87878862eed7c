"""Browser tests: the pages in Debian's Chromium, driven by Playwright (DEVELOPERS.md).

The app under test is the suite's usual one (per backend, the `world` in it) served by a
threaded Werkzeug server on 127.0.0.1 for the test's length. Chromium is the system's
(/usr/bin/chromium, which .ci/run installs); nothing is downloaded. A missing browser is an
error, never a skip. Each page gets a fresh browser context, collects console errors (a test
fails on any), and can be checked with axe-core and written as a screenshot to
build/screenshots/ (not committed).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A tablet in the field: Vietnamese, on Vietnam's time. Every context of the canvassers' app
# runs so, so its dates, numbers and sorting are the ones canvassers see.
TABLET: dict[str, Any] = {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
WIDTHS = (360, 1280)


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class Pages:
    """A browser context on the live server, with the console errors it saw."""

    browser: Any
    base: str
    contexts: list[Any] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def open(self, width: int = 1280) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": 800})
        self.contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(f"{page.url}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: {error}"))
        return page

    def login(self, page: Any, username: str, password: str) -> None:
        page.goto(f"{self.base}/login")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(password)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_load_state()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, live_server: str) -> Iterator[Pages]:
    opened = Pages(browser, live_server)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.console_errors == []


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # From the top: a page scrolled to a focused field would draw its sticky header over the
    # middle of the full-page picture.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
