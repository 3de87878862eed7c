"""Serving the screens' test frame on the live server's origin, from the repository's files.

A Playwright route on the browser context answers /_s/app/… from field_server/web/app/ (the
screens' modules, store.js, sync.js, app.css) and /_s/tests/… from this folder, so the
screens' fetches to /api/v1 are same-origin, as in the app. Nothing else is routed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = {
    "/_s/app/": ROOT / "field_server" / "web" / "app",
    "/_s/tests/": Path(__file__).resolve().parent,
}
TYPES = {".js": "text/javascript", ".html": "text/html; charset=utf-8", ".css": "text/css"}


def serve(context: Any, base: str) -> None:
    """Route the frame's files under ``base`` (an origin) on ``context``."""

    def handle(route: Any) -> None:
        path = "/" + route.request.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        for prefix, folder in FOLDERS.items():
            if path.startswith(prefix):
                target = (folder / path[len(prefix) :]).resolve()
                if target.is_relative_to(folder) and target.is_file():
                    content_type = TYPES.get(target.suffix, "application/octet-stream")
                    route.fulfill(status=200, body=target.read_bytes(), content_type=content_type)
                    return
        route.fulfill(status=404, body=b"not found")

    context.route(f"{base}/_s/**", handle)


def open_frame(context: Any, base: str, errors: list[str]) -> Any:
    """A page of ``context`` on the frame, its store opened."""
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/_s/tests/index.html")
    page.wait_for_function("window.harnessReady === true")
    return page
