"""The canvassers' app's JavaScript tests, in the suite's Chromium (no other runtime).

tests/vectors/runner.html loads tests/vectors/app_tests.js, which runs the shared vectors
(mutations.json, hlc.json, address.json) through the app's modules in
field_server/web/app/js/ and tests the outbox's logic, then puts its results on `window`.
The page is served by a throwaway static server on 127.0.0.1 (the app's own /app/ route is
not needed for this): /app/ is field_server/web/app/, /vectors/ is tests/vectors/.

Each JavaScript test is one pytest case, named before the page runs: the vectors' tests after
the vectors, the others from their literal names in app_tests.js. A JavaScript test that
pytest does not know of, or one that does not report, fails the suite too.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import TABLET

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "field_server" / "web" / "app"
VECTORS = ROOT / "tests" / "vectors"
TESTS_JS = VECTORS / "app_tests.js"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def expected_names() -> list[str]:
    """The names app_tests.js gives its tests, in the order it runs them."""
    mutations, hlc, address = _load("mutations.json"), _load("hlc.json"), _load("address.json")
    source = TESTS_JS.read_text(encoding="utf-8")
    literal = re.findall(r'^test\(\s*"((?:[^"\\]|\\.)*)"', source, re.MULTILINE)
    return [
        *(f"mutations/{v['name']}" for v in mutations["vectors"] if not v.get("server_only")),
        *literal[:2],  # the messages and rules tests come right after the vectors
        *(f"hlc.parse/{i}" for i in range(len(hlc["parse"]))),
        *(f"hlc.compare/{i}" for i in range(len(hlc["compare"]))),
        *(f"hlc.clock/{c['name']}" for c in hlc["clock"]),
        *(f"address/{i}" for i in range(len(address["cases"]))),
        *literal[2:],
    ]


NAMES = expected_names()


class _Static(SimpleHTTPRequestHandler):
    """Serves /app/… and /vectors/… from the repository, nothing else."""

    extensions_map = {  # noqa: RUF012 (the base class declares it so)
        ".js": "text/javascript",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        for prefix, folder in (("/app/", APP), ("/vectors/", VECTORS)):
            if path.startswith(prefix):
                target = (folder / path[len(prefix) :]).resolve()
                if target.is_relative_to(folder):
                    return str(target)
        return str(VECTORS / "missing")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows what fails


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Static))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def js_results(browser: Any, static_server: str) -> Iterator[dict[str, dict[str, Any]]]:
    """Run the page once; every result by name, and the page's console errors under ''."""
    context = browser.new_context(**TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{static_server}/vectors/runner.html")
        page.wait_for_function("window.testsDone === true", timeout=30_000)
        results = page.evaluate("window.testResults")
    finally:
        context.close()
    by_name = {r["name"]: r for r in results}
    assert len(by_name) == len(results), "two JavaScript tests share a name"
    yield {"": {"errors": errors}, **by_name}


def test_the_page_ran_without_errors(js_results: dict[str, dict[str, Any]]) -> None:
    assert js_results[""]["errors"] == []


def test_every_javascript_test_is_known_here(js_results: dict[str, dict[str, Any]]) -> None:
    assert [name for name in js_results if name] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_javascript(js_results: dict[str, dict[str, Any]], name: str) -> None:
    result = js_results.get(name)
    assert result is not None, f"{name} did not report"
    assert result["ok"], result["error"]
