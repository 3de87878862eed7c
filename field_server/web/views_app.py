"""/app/: the canvassers' offline web app, served from the package (docs/app.md).

The app is static files in ``field_server/web/app/``: its shell (``index.html``, ``app.css``,
the manifest, the icons, the JavaScript modules in ``js/`` and its screens in
``js/screens/``) and its service worker. No session
is needed to load them: they hold nobody's data, and the app authenticates to the API with
bearer tokens. Every answer carries the security headers and ``Cache-Control: no-store`` of
every answer (errors.py): the browser's HTTP cache keeps nothing, the service worker's cache
(which ignores that header) is the only copy, and it is the worker that decides.

The service worker is served with the shell's file list and a version (a hash of every shell
file's name and bytes, the worker's own included) written into it, so its cache name changes
whenever any file of the app changes, and the browser, seeing new worker bytes, installs it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from flask import Response, send_from_directory
from werkzeug.exceptions import NotFound

from . import bp

APP_DIR = Path(__file__).resolve().parent / "app"
SCOPE = "/app/"
JS_TYPE = "text/javascript"
# The worker's own policy governs its fetches (the shell's precache, its cache misses): the
# locked-down policy of non-HTML answers (default-src 'none') would refuse them all.
WORKER_POLICY = "default-src 'none'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
# The line of sw.js that the served worker carries the shell's list and version in.
SHELL_LINE = re.compile(r"^const SHELL = .*;$", re.MULTILINE)


def shell_files(folder: Path = APP_DIR) -> list[str]:
    """The shell's files, as paths relative to /app/ (``./`` is index.html): what the
    service worker keeps, every module under js/ (its screens in js/screens/ too: the app
    loads them as it opens, and must find them with no network) and every icon included."""
    named = ["app.css", "manifest.webmanifest"]
    named += sorted(f"icons/{p.name}" for p in (folder / "icons").glob("*.png"))
    js = folder / "js"
    named += sorted(f"js/{p.relative_to(js).as_posix()}" for p in js.rglob("*.js"))
    return ["./", *(name for name in named if (folder / name).is_file())]


def shell_version(folder: Path = APP_DIR) -> str:
    """A hash of the shell's files and the worker: changes whenever any of their bytes do."""
    digest = hashlib.sha256()
    for name in [*shell_files(folder), "sw.js"]:
        path = folder / ("index.html" if name == "./" else name)
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def worker_source(folder: Path = APP_DIR) -> str:
    """sw.js with the shell's list and version written into its ``const SHELL`` line."""
    source = (folder / "sw.js").read_text(encoding="utf-8")
    shell = json.dumps({"version": shell_version(folder), "files": shell_files(folder)})
    served, found = SHELL_LINE.subn(lambda _m: f"const SHELL = {shell};", source, count=1)
    if found != 1:
        raise RuntimeError("sw.js has no `const SHELL = …;` line to write the shell into")
    return served


def _file(name: str, mimetype: str, suffix: str = "", folder: Path = APP_DIR) -> Any:
    # send_from_directory refuses a name leaving the folder (404), as a missing file; a `..`
    # is refused even inside it, so js/../sw.js is never the unversioned worker.
    if not name.endswith(suffix) or ".." in name.replace("\\", "/").split("/"):
        raise NotFound()
    return send_from_directory(folder, name, mimetype=mimetype)


@bp.get(SCOPE)
def app_index() -> Any:
    return _file("index.html", "text/html")


@bp.get(f"{SCOPE}sw.js")
def app_worker() -> Response:
    response = Response(worker_source(), mimetype=JS_TYPE)
    response.headers["Service-Worker-Allowed"] = SCOPE
    response.headers["Content-Security-Policy"] = WORKER_POLICY
    return response


@bp.get(f"{SCOPE}manifest.webmanifest")
def app_manifest() -> Any:
    return _file("manifest.webmanifest", "application/manifest+json")


@bp.get(f"{SCOPE}app.css")
def app_css() -> Any:
    return _file("app.css", "text/css")


@bp.get(f"{SCOPE}js/<path:name>")
def app_js(name: str) -> Any:
    # A path: the screens are in js/screens/; served from js/ and nothing above it.
    return _file(name, JS_TYPE, ".js", APP_DIR / "js")


@bp.get(f"{SCOPE}icons/<name>")
def app_icon(name: str) -> Any:
    return _file(f"icons/{name}", "image/png", ".png")
