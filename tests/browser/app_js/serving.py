"""Serving the store and sync tests' page from any origin, from the repository's files.

A Playwright route on the browser context answers /_t/app/js/… from field_server/web/app/js/
and /_t/tests/… from this folder, so the page can live on the live server's own origin
(its fetches to /api/v1 are then same-origin, as the app's will be) or on an origin no server
listens on (the store tests need IndexedDB only). Nothing else is routed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = {
    "/_t/app/js/": ROOT / "field_server" / "web" / "app" / "js",
    "/_t/tests/": Path(__file__).resolve().parent,
}
TYPES = {".js": "text/javascript", ".html": "text/html; charset=utf-8", ".css": "text/css"}
# An origin nothing listens on: the route answers every request the page makes there.
NOWHERE = "http://127.0.0.1:9"


def route_folders(context: Any, base: str, folders: dict[str, Path]) -> None:
    """Answer the requests under ``base`` (an origin) whose paths start with one of
    ``folders``' prefixes from that folder (404 for a file missing or outside it)."""
    top = "/" + next(iter(folders)).strip("/").split("/", 1)[0]

    def handle(route: Any) -> None:
        path = "/" + route.request.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        for prefix, folder in folders.items():
            if path.startswith(prefix):
                target = (folder / path[len(prefix) :]).resolve()
                if target.is_relative_to(folder) and target.is_file():
                    content_type = TYPES.get(target.suffix, "application/octet-stream")
                    route.fulfill(status=200, body=target.read_bytes(), content_type=content_type)
                    return
        route.fulfill(status=404, body=b"not found")

    context.route(f"{base}{top}/**", handle)


def serve(context: Any, base: str) -> None:
    """Route the test files under ``base`` (an origin) on ``context``."""
    route_folders(context, base, FOLDERS)


def open_page(context: Any, base: str, errors: list[str]) -> Any:
    """A page of ``context`` on the runner, its helpers loaded and the store opened."""
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/_t/tests/runner.html")
    page.wait_for_function("window.harnessReady === true")
    page.evaluate("T.start()")
    return page
