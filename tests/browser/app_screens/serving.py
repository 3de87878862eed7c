"""Serving the screens' test frame on the live server's origin, from the repository's files.

A Playwright route on the browser context answers /_s/app/… from field_server/web/app/ (the
screens' modules, store.js, sync.js, app.css) and /_s/tests/… from this folder, so the
screens' fetches to /api/v1 are same-origin, as in the app. Nothing else is routed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.app_js.serving import ROOT, route_folders

FOLDERS = {
    "/_s/app/": ROOT / "field_server" / "web" / "app",
    "/_s/tests/": Path(__file__).resolve().parent,
}


def serve(context: Any, base: str) -> None:
    """Route the frame's files under ``base`` (an origin) on ``context``."""
    route_folders(context, base, FOLDERS)


def open_frame(context: Any, base: str, errors: list[str]) -> Any:
    """A page of ``context`` on the frame, its store opened."""
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/_s/tests/index.html")
    page.wait_for_function("window.harnessReady === true")
    return page
