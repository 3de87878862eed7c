"""The canvassers' app's shell at /app/ (docs/app.md): served, installable, and opening with
no network once visited.

The shell runs on its real modules (store.js, sync.js) against the live server, except where
a test pins what the header shows: there a stand-in for store.js and sync.js, served by the
browser context's routes in this test only, plays a tablet with records waiting.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from field_server.web.views_app import (
    APP_DIR,
    WORKER_POLICY,
    shell_files,
    shell_version,
    worker_source,
)
from tests.browser.conftest import horizontal_overflow, screenshot, serious_violations

SHELL_BUDGET = 150 * 1024  # bytes of JS and CSS loaded to open the app, uncompressed


def open_app(pages: Any, width: int = 360) -> Any:
    page = pages.open(width)
    page.goto(f"{pages.base}/app/")
    page.wait_for_selector("body[data-ready=true]")
    return page


def wait_until_controlled(page: Any) -> None:
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def cache_names(page: Any) -> list[str]:
    return list(page.evaluate("caches.keys()"))


def served_url(name: str) -> str:
    return "/app/" if name == "./" else f"/app/{name}"


# --- serving ---------------------------------------------------------------------------------


def test_every_shell_file_is_served_with_its_type_and_the_security_headers(client):
    types = {
        "./": "text/html",
        ".css": "text/css",
        ".js": "text/javascript",
        ".webmanifest": "application/manifest+json",
        ".png": "image/png",
    }
    names = shell_files()
    assert {"./", "app.css", "manifest.webmanifest", "js/app.js"} <= set(names)
    assert "js/screens/groups.js" in names  # the screens too: the app loads them as it opens
    assert any(n.startswith("icons/") for n in names)
    for name in [*names, "sw.js"]:
        response = client.get(served_url(name))  # no session: the shell is static
        assert response.status_code == 200, name
        suffix = "./" if name == "./" else Path(name).suffix
        assert response.mimetype == types[suffix], name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Cache-Control"] == "no-store", name  # the worker decides
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], name
    page_policy = client.get("/app/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in page_policy and "unsafe-inline" not in page_policy


def test_the_worker_is_served_with_its_scope_its_policy_and_the_shell_written_in(client):
    response = client.get("/app/sw.js")
    assert response.headers["Service-Worker-Allowed"] == "/app/"
    assert response.headers["Content-Security-Policy"] == WORKER_POLICY
    source = response.get_data(as_text=True)
    shell = json.loads(source.split("const SHELL = ", 1)[1].split(";\n", 1)[0])
    assert shell == {"version": shell_version(), "files": shell_files()}


@pytest.mark.parametrize(
    "path",
    [
        "/app/js/missing.js",
        "/app/js/..%2Fsw.js",
        "/app/js/screens/../../sw.js",
        "/app/js/screens/%2E%2E/%2E%2E/sw.js",
        "/app/js/screens/missing.js",
        "/app/icons/x.txt",
        "/app/index.html",
    ],
)
def test_nothing_but_the_shell_is_served(client, path):
    assert client.get(path).status_code == 404


def test_a_changed_file_gives_a_new_cache_name(tmp_path):
    copy = tmp_path / "app"
    shutil.copytree(APP_DIR, copy)
    before = shell_version(copy)
    assert shell_version(copy) == before  # the same bytes, the same version
    (copy / "js" / "app.js").write_text((copy / "js" / "app.js").read_text() + "\n// changed\n")
    changed = shell_version(copy)
    assert changed != before
    (copy / "js" / "later.js").write_text("export const later = 1;\n")
    added = shell_version(copy)
    assert added not in (before, changed) and "js/later.js" in shell_files(copy)
    (copy / "js" / "screens" / "later.js").write_text("export async function show() {}\n")
    screen = shell_version(copy)
    assert screen != added and "js/screens/later.js" in shell_files(copy)
    added = screen
    (copy / "app.css").write_text((copy / "app.css").read_text() + "p { color: #000; }\n")
    assert shell_version(copy) != added
    assert f'"version": "{shell_version(copy)}"' in worker_source(copy)


def test_the_opening_weighs_under_its_budget(pages, world):
    """What a canvasser's tablet loads to open the app and reach the home screen (the frame,
    its modules, the stylesheet and the home screen's modules, as the browser asked for
    them): under 150 KB of JavaScript and CSS. The other screens load when first shown."""
    page = pages.open(360)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{pages.base}/app/")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Tên đăng nhập").fill("cv.vg.001")
    page.get_by_label("Mật khẩu").fill(world.passwords["cv.vg.001"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("body[data-current=groups] [data-screen=groups]")
    prefix = f"{pages.base}/app/"
    shell = sorted(
        {u[len(prefix) :] for u in asked if u.startswith(prefix) and u.endswith((".js", ".css"))}
    )
    assert "js/app.js" in shell and "app.css" in shell and "js/screens/groups.js" in shell
    assert "js/screens/visit-new.js" not in shell  # loaded when first shown
    weight = sum((APP_DIR / name).stat().st_size for name in shell)
    assert weight < SHELL_BUDGET, (weight, shell)
    # ... and the next screen comes when asked for, from the same version.
    page.evaluate("location.hash = '#/progress'")
    page.wait_for_selector("body[data-current=progress] [data-screen=progress]")
    assert f"{prefix}js/screens/progress.js" in asked


def test_the_manifest_names_icons_that_exist_and_load(client):
    manifest = client.get("/app/manifest.webmanifest").get_json(force=True)
    assert manifest["start_url"] == manifest["scope"] == "./"  # /app/, relative to the manifest
    assert manifest["display"] == "standalone" and manifest["lang"] == "vi"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"]
    sizes = set()
    for icon in manifest["icons"]:
        response = client.get(f"/app/{icon['src']}")
        assert response.status_code == 200 and response.mimetype == icon["type"] == "image/png"
        width, height = Image.open(io.BytesIO(response.get_data())).size
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add((icon["sizes"], icon.get("purpose", "any")))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


# --- in the browser --------------------------------------------------------------------------


def test_the_shell_opens_on_the_login_readable_at_360_px(pages):
    page = open_app(pages)
    assert page.get_by_label("Tên đăng nhập").is_visible()
    assert page.get_by_label("Mật khẩu").is_visible()
    assert page.locator("#waiting").get_attribute("data-waiting") == "0"
    assert page.get_by_role("button", name="Đồng bộ").is_disabled()  # nobody logged in yet
    manifest = page.evaluate("document.querySelector('link[rel=manifest]').href")
    assert manifest == f"{pages.base}/app/manifest.webmanifest"
    assert horizontal_overflow(page) == 0
    for target in page.locator("button:visible, input:visible").all():
        box = target.bounding_box()
        assert box["height"] >= 48, target.evaluate("e => e.outerHTML")
    assert serious_violations(page) == []
    screenshot(page, "app-login-360")


def test_the_shell_opens_from_the_service_worker_with_no_network(pages):
    page = open_app(pages)
    wait_until_controlled(page)
    assert cache_names(page) == [f"bluezone-app-{shell_version()}"]
    kept = page.evaluate(
        "(async () => (await (await caches.open((await caches.keys())[0])).keys())"
        ".map(r => new URL(r.url).pathname))()"
    )
    assert sorted(kept) == sorted(served_url(n) for n in shell_files())
    assert not any(path.startswith("/api/") for path in kept)

    context = page.context
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_by_label("Tên đăng nhập").is_visible()
    assert page.locator("#network").is_visible()  # it says there is no network

    page.close()
    again = context.new_page()
    again.goto(f"{pages.base}/app/")
    again.wait_for_selector("body[data-ready=true]")
    assert again.get_by_label("Mật khẩu").is_visible()
    assert again.evaluate("navigator.serviceWorker.controller !== null")


def test_a_new_version_waits_until_the_canvasser_takes_it(pages, monkeypatch):
    """A new version of the app never takes over an open page by itself (its screens load
    later, from its own version's cache): the page offers it, and takes it when asked."""
    from field_server.web import views_app

    page = open_app(pages)
    wait_until_controlled(page)
    old = f"bluezone-app-{shell_version()}"
    assert page.locator("#update").is_hidden()

    served = views_app.worker_source
    newer = served().replace(shell_version(), "0123456789abcdef")
    monkeypatch.setattr(views_app, "worker_source", lambda *args: newer)
    page.evaluate("(async () => (await navigator.serviceWorker.getRegistration()).update())()")
    page.wait_for_selector("#update:not([hidden])")
    # Waiting: the page is still served by the version it opened with, whose cache is kept.
    assert old in cache_names(page)
    assert "bluezone-app-0123456789abcdef" in cache_names(page)

    with page.expect_navigation():  # the page reloads under the new version
        page.get_by_role("button", name="Cập nhật").click()
    page.wait_for_selector("body[data-ready=true]")
    assert cache_names(page) == ["bluezone-app-0123456789abcdef"]  # the old one deleted
    assert page.locator("#update").is_hidden()


def test_a_canvasser_logs_in_and_the_header_shows_their_state(pages, world):
    page = open_app(pages)
    page.get_by_label("Tên đăng nhập").fill("cv.vg.001")
    page.get_by_label("Mật khẩu").fill(world.passwords["cv.vg.001"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("#user-name[data-user='cv.vg.001']")
    # sync.start() syncs at once: the time of that sync shows in the header.
    page.wait_for_selector("#last-sync:not([data-last-sync=''])")
    assert page.locator("#waiting").get_attribute("data-waiting") == "0"
    assert page.get_by_role("button", name="Đồng bộ").is_enabled()
    assert horizontal_overflow(page) == 0


# --- the frame against a stand-in tablet -----------------------------------------------------

STUB_STORE = """
export function open() { return Promise.resolve(new Store()); }
class Store {
  async waitingCount(user) { return user === "cv.stub" ? window.__stub.waiting : 0; }
  async waitingByUser() { const n = window.__stub.waiting; return n ? { "cv.stub": n } : {}; }
  async syncState(user) { return { last_sync_at: window.__stub.last_sync_at }; }
  async units(user) { return []; }
  async households(user) { return []; }
  async visits(user) { return []; }
  async copy(user) { return { stamp: null, units: [], households: [], visits: [] }; }
}
export const fold = (text) => text.toLowerCase();
export const searchKey = () => "";
"""
STUB_SYNC = """
export class Sync extends EventTarget {
  constructor({ store }) { super(); this.store = store; this.user = null; this.started = 0; }
  async resume() { this.user = window.__stub.user; return this.user; }
  async login(username, password) {
    if (password !== "right") throw Object.assign(new Error("no"), { code: "invalid_credentials" });
    this.user = username;
    this.dispatchEvent(new CustomEvent("status", { detail: { user: username, waiting: 0,
      last_sync_at: null, syncing: false, error: null } }));
  }
  start() { this.started += 1; window.__stub.started = this.started; }
  async syncNow() {
    window.__stub.waiting = 0;
    window.__stub.last_sync_at = "2020-08-20T10:30:00Z";
    this.dispatchEvent(new CustomEvent("status", { detail: { user: this.user, waiting: 0,
      last_sync_at: window.__stub.last_sync_at, syncing: false, error: null } }));
  }
}
"""


def serve(body: str) -> Any:
    def fulfil(route: Any) -> None:
        route.fulfill(body=body, content_type="text/javascript")

    return fulfil


def stand_in(pages: Any, state: dict[str, Any]) -> Any:
    """A page on /app/ whose store.js and sync.js are the stand-ins above, in this state."""
    page = pages.open(360)
    context = page.context
    context.add_init_script(f"window.__stub = {json.dumps(state)};")
    for name, body in (("store.js", STUB_STORE), ("sync.js", STUB_SYNC)):
        context.route(f"**/app/js/{name}", serve(body))
    page.goto(f"{pages.base}/app/")
    page.wait_for_selector("body[data-ready=true]")
    return page


def test_the_header_shows_the_records_waiting_and_the_last_sync(pages):
    page = stand_in(pages, {"user": "cv.stub", "waiting": 3, "last_sync_at": None})
    waiting, last = page.locator("#waiting"), page.locator("#last-sync")
    assert waiting.inner_text() == "3" and last.get_attribute("data-last-sync") == ""
    page.wait_for_selector("body[data-shown=groups]")  # logged in: the home screen
    assert page.locator("[data-screen=login]").is_hidden()
    assert page.evaluate("window.__stub.started") == 1  # its syncs are triggered
    page.get_by_role("button", name="Đồng bộ").click()
    page.wait_for_selector("#waiting[data-waiting='0']")
    assert last.get_attribute("data-last-sync") == "2020-08-20T10:30:00Z"
    assert "30" in last.inner_text()  # a time of day, in the tablet's zone
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []


def test_a_refused_login_says_so_and_a_good_one_opens_the_app(pages):
    page = stand_in(pages, {"user": None, "waiting": 0, "last_sync_at": None})
    alert = page.get_by_role("alert")
    page.get_by_role("button", name="Đăng nhập").click()
    assert alert.inner_text() != ""  # both fields are needed
    page.get_by_label("Tên đăng nhập").fill("cv.stub")
    page.get_by_label("Mật khẩu").fill("wrong")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_function("() => document.getElementById('login-error').textContent !== ''")
    assert page.locator("[data-screen=login]").is_visible()
    page.get_by_label("Mật khẩu").fill("right")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("#user-name[data-user='cv.stub']")
    assert page.locator("[data-screen=login]").is_hidden()
    assert page.get_by_label("Mật khẩu").input_value() == ""  # the password is not kept
    assert page.evaluate("window.__stub.started") == 1
