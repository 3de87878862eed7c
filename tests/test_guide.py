"""The supervisors' guide (docs/supervisors-guide.md) shows what it says and names every page.

Its pictures are committed files: each one it shows exists, each one in docs/images/guide/
is shown and is the one tests/browser/guide_images.py makes, and each stays small. Every
page of the web blueprint is mentioned by its route. Nothing here needs build/ or a browser.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.browser.guide_images import GUIDE_IMAGES, SHOTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = DOCS / "supervisors-guide.md"
MAX_BYTES = 60_000  # a picture is aimed at under 40 KB; past this it is no longer small
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PALETTE = 3  # the IHDR colour type of a palette image
# Pages that are no supervisor's page: assets, downloads, signing out, and the canvassers'
# app (/app/), documented in docs/app.md.
NOT_PAGES = ("/assets/", "/exports/", "/logout", "/app/")


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def shown_images() -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", guide_text())


def test_every_picture_the_guide_shows_exists():
    shown = shown_images()
    assert shown, "the guide shows no picture"
    assert [p for p in shown if not (DOCS / p).is_file()] == []


def test_every_guide_picture_is_shown_and_made_by_the_script():
    on_disk = {p.relative_to(DOCS).as_posix() for p in GUIDE_IMAGES.glob("*.png")}
    assert on_disk - set(shown_images()) == set()
    assert on_disk == {f"images/guide/{shot.name}.png" for shot in SHOTS}


@pytest.mark.parametrize("shot", SHOTS, ids=lambda shot: shot.name)
def test_each_picture_is_a_small_palette_png(shot):
    path = GUIDE_IMAGES / f"{shot.name}.png"
    data = path.read_bytes()
    assert len(data) < MAX_BYTES, (path.name, len(data))
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path.name
    width, height, _, colour_type = struct.unpack(">IIBB", data[16:26])
    assert colour_type == PALETTE, path.name
    # A phone's or a desktop's width, named so in the file; cropped to at most its height.
    assert width == (360 if shot.name.endswith("-phone") else 1280), (path.name, width)
    assert 0 < height <= shot.height, (path.name, height)


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    from field_server import create_app
    from tests.conftest import base_config

    folder = tmp_path_factory.mktemp("guide")
    return create_app(base_config(folder, f"sqlite:///{folder}/x.db"))


def page_routes(app) -> set[str]:
    """The GET routes of the web blueprint, written as docs/web.md writes them."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or "GET" not in rule.methods:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        if not path.startswith(NOT_PAGES):
            found.add(path)
    return found


def test_every_page_is_in_the_guide(web_app):
    routes = page_routes(web_app)
    assert {"/login", "/", "/review", "/units/{ref}"} <= routes
    text = guide_text()
    assert sorted(r for r in routes if f"`{r}`" not in text) == []
