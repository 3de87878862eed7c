"""The two guides show what they say and name every page or screen.

The supervisors' guide (docs/supervisors-guide.md) and the canvassers' guide to the app
(docs/canvassers-guide.md): their pictures are committed files; each one a guide shows
exists, each one in its folder (docs/images/guide/, docs/images/app/) is shown and is one
tests/browser/guide_images.py makes, and each stays small. Every page of the web blueprint
is mentioned by its route, every screen of the app by its `#/<screen>` address, and every
text the canvassers' guide quotes is one the app shows. Nothing here needs build/ or a
browser.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.browser.guide_images import APP_IMAGES, APP_SHOTS, GUIDE_IMAGES, SHOTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = DOCS / "supervisors-guide.md"
APP_GUIDE = DOCS / "canvassers-guide.md"
APP = ROOT / "field_server" / "web" / "app"
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


# --- the canvassers' guide to the app ---------------------------------------------------


def app_guide_text() -> str:
    return APP_GUIDE.read_text(encoding="utf-8")


def app_shown_images() -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", app_guide_text())


def test_every_picture_the_canvassers_guide_shows_exists():
    shown = app_shown_images()
    assert shown, "the guide shows no picture"
    assert [p for p in shown if not (DOCS / p).is_file()] == []


def test_every_app_picture_is_shown_and_made_by_the_script():
    on_disk = {p.relative_to(DOCS).as_posix() for p in APP_IMAGES.glob("*.png")}
    assert on_disk - set(app_shown_images()) == set()
    assert on_disk == {f"images/app/{shot.name}.png" for shot in APP_SHOTS}


@pytest.mark.parametrize("shot", APP_SHOTS, ids=lambda shot: shot.name)
def test_each_app_picture_is_a_small_palette_png_at_phone_width(shot):
    path = APP_IMAGES / f"{shot.name}.png"
    data = path.read_bytes()
    assert len(data) < MAX_BYTES, (path.name, len(data))
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path.name
    width, height, _, colour_type = struct.unpack(">IIBB", data[16:26])
    assert colour_type == PALETTE, path.name
    assert width == 360, (path.name, width)
    assert 0 < height <= shot.height, (path.name, height)


def app_screens() -> list[str]:
    """The screens the app's router knows: the SCREENS list of js/app.js."""
    source = (APP / "js" / "app.js").read_text(encoding="utf-8")
    found = re.search(r"const SCREENS = \[(.*?)\];", source, re.DOTALL)
    assert found, "js/app.js has no SCREENS list"
    return re.findall(r'"([a-z-]+)"', found.group(1))


def test_every_app_screen_has_its_section():
    screens = app_screens()
    assert {"groups", "visit-new", "switch-user"} <= set(screens)
    headings = [line for line in app_guide_text().splitlines() if line.startswith("## ")]
    # Its address in a heading: `#/visit` is not `#/visit-new/<household>`.
    addressed = {
        screen
        for screen in screens
        for heading in headings
        if re.search(rf"`#/{re.escape(screen)}(?:/[^`]*)?`", heading)
    }
    assert sorted(set(screens) - addressed) == []


def app_source() -> str:
    """Every text the app can show: its page, manifest and JavaScript modules."""
    files = [APP / "index.html", APP / "manifest.webmanifest", *sorted((APP / "js").rglob("*.js"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def shown_by_the_app(text: str, source: str) -> bool:
    """`text` is in the app's files as written, or is one of its templates filled in (a
    `{name}` or `${...}` placeholder stands for any value: "… trưởng thành (4).")."""
    if text in source:
        return True
    for literal in re.findall(r'"((?:[^"\\\n]|\\.)*)"|`([^`]*)`', source):
        template = literal[0] or literal[1]
        placeholder = r"\$?\{[^}]*\}"
        # A template that is mostly placeholders (`${a}${b}`) would match anything.
        if "{" not in template or sum(map(str.isalpha, re.sub(placeholder, "", template))) < 4:
            continue
        pattern = ".+".join(map(re.escape, re.split(placeholder, template)))
        if re.fullmatch(pattern, text):
            return True
    return False


def test_every_quoted_text_of_the_canvassers_guide_is_on_a_screen():
    # Buttons and headings are quoted as the screens show them: a renamed button must be
    # renamed in the guide too.
    text = re.sub(r"\s+", " ", app_guide_text())
    quoted = set(re.findall(r'"([^"]+)"', text))
    assert {"Đồng bộ", "Lưu lượt đến nhà", "Cập nhật"} <= quoted
    source = app_source()
    assert sorted(q for q in quoted if not shown_by_the_app(q, source)) == []
