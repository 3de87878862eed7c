"""The pictures of the two guides, made from the browser tests' screenshots: the supervisors'
guide (docs/supervisors-guide.md, pictures in docs/images/guide/) and the canvassers' guide
to the app (docs/canvassers-guide.md, pictures in docs/images/app/, all at phone width).

The browser tests write full-page screenshots to build/screenshots/ (not committed); this
script keeps the top (or bottom) of the ones a guide shows, trims the empty page below,
reduces each to a small palette and writes it to the guide's folder (committed), replacing
what was there. The same screenshots always give the same files. Run it after the browser
tests:

    .venv/bin/pytest tests/browser --backend sqlite
    .venv/bin/python -m tests.browser.guide_images
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.conftest import SCREENSHOTS

if TYPE_CHECKING:
    from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
GUIDE_IMAGES = ROOT / "docs" / "images" / "guide"
APP_IMAGES = ROOT / "docs" / "images" / "app"
MAKE_THEM = "make screenshots"
# 32 colours keep the pages' text, links, buttons and bars legible at a third of the bytes.
COLOURS = 32
# Blank page kept below the last thing drawn, in pixels.
MARGIN = 16


@dataclass(frozen=True)
class Shot:
    """One picture of the guide: `source` is the screenshot's name as the browser test gives
    it to `screenshot()`, `height` how many pixels of the page's top to keep (of its bottom
    with `bottom`: the end of a long page, whatever grows above it)."""

    name: str
    source: str
    height: int
    bottom: bool = False


# Phone width (360 px) where the page reads as a column; desktop width (1280 px) where the
# page is a wide table or two things side by side, which a phone shows only by scrolling.
SHOTS = (
    Shot("login-phone", "guest-login-360", 480),
    Shot("ward-dashboard-phone", "district-sv.vangiang-units-gso-2020-12019-360", 900),
    Shot("ward-tables-desktop", "district-sv.vangiang-units-gso-2020-12019-1280", 790, bottom=True),
    Shot("ward-dashboard-english-phone", "guide-ward-english-360", 680),
    Shot("followup-desktop", "district-sv.vangiang-units-gso-2020-12019-followup-1280", 800),
    Shot("review-desktop", "sv.vangiang-review-1280", 800),
    Shot("visit-desktop", "visit-refused-1280", 1385),
    Shot("visit-history-desktop", "visit-1280", 475, bottom=True),
    Shot("conflicts-desktop", "sv.vangiang-conflicts-1280", 800),
    Shot("duplicates-desktop", "sv.vangiang-duplicates-1280", 700),
    Shot("rejections-desktop", "sv.vangiang-rejections-1280", 900),
    Shot("devices-desktop", "devices-1280", 800),
    Shot("device-revoke-phone", "device-revoke-360", 700),
    Shot("canvassers-phone", "canvassers-360", 1000),
    Shot("canvasser-phone", "canvasser-360", 1300),
    Shot("canvasser-password-phone", "canvasser-password-360", 700),
    Shot("district-desktop", "district-dt.vangiang-units-gso-2020-326-1280", 1300),
    Shot("report-desktop", "district-dt.vangiang-units-gso-2020-326-report-1280", 900),
    Shot("progress-phone", "district-cv.vg.001-progress-360", 1000),
)


# The canvassers' app, one picture per screen (or two: a rule's message, a visit's void), all
# at phone width: the app is made for a phone or a tablet held upright. The screenshots come
# from tests/browser/test_app_shell.py and test_app_screens_*.py.
APP_SHOTS = (
    Shot("login", "app-login-360", 480),
    Shot("groups", "app-groups-360", 800),
    Shot("households", "app-households-360", 1400),
    Shot("household-new", "app-household-new-360", 1200),
    # A household's details being corrected, two fields in error (the whole form).
    Shot("household-edit", "app-household-edit-360", 1240),
    # The household, the outcome buttons and the steppers; the form's end shows in the next.
    Shot("visit-new", "app-visit-new-360", 1420),
    # From the steppers down: a count's rule message, the mismatch warning, the save button.
    Shot("visit-new-rule", "app-visit-new-error-360", 1420, bottom=True),
    # The visit's values and the start of its correction; then its end and the void.
    Shot("visit", "app-visit-360", 780),
    Shot("visit-void", "app-visit-360", 470, bottom=True),
    Shot("progress", "app-progress-360", 800),
    Shot("rejected", "app-rejected-360", 800),
    Shot("switch-user", "app-switch-user-360", 800),
)


class MissingScreenshots(Exception):
    """The browser tests have not written some of the screenshots the guides need."""


def missing(screenshots: Path) -> list[str]:
    sources = dict.fromkeys(s.source for s in (*SHOTS, *APP_SHOTS))
    return [source for source in sources if not (screenshots / f"{source}.png").is_file()]


def shrink(source: Path, height: int, bottom: bool = False) -> Image.Image:
    """The top (or bottom) `height` pixels of a screenshot, without the blank page below,
    as a palette image."""
    from PIL import Image, ImageChops

    with Image.open(source) as opened:
        page = opened.convert("RGB")
    top = max(0, page.height - height) if bottom else 0
    page = page.crop((0, top, page.width, min(top + height, page.height)))
    # The page's background is the colour of its bottom-right corner: cut the rows below
    # the last one holding anything else.
    background = Image.new("RGB", page.size, page.getpixel((page.width - 1, page.height - 1)))
    drawn = ImageChops.difference(page, background).getbbox()
    if drawn is not None:
        page = page.crop((0, 0, page.width, min(page.height, drawn[3] + MARGIN)))
    return page.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def write(
    screenshots: Path = SCREENSHOTS, out: Path = GUIDE_IMAGES, app_out: Path = APP_IMAGES
) -> list[Path]:
    """Writes every picture of the supervisors' guide to `out` and of the canvassers' guide to
    `app_out`, and removes the PNGs there that the guides no longer show. Raises
    MissingScreenshots, writing nothing, when a screenshot is missing."""
    absent = missing(screenshots)
    if absent:
        raise MissingScreenshots(
            f"{len(absent)} screenshot(s) missing in {screenshots}: "
            + ", ".join(f"{name}.png" for name in absent)
            + f". The browser tests write them: run `{MAKE_THEM}` first."
        )
    written = []
    for shots, folder in ((SHOTS, out), (APP_SHOTS, app_out)):
        folder.mkdir(parents=True, exist_ok=True)
        mine = []
        for shot in shots:
            target = folder / f"{shot.name}.png"
            shrink(screenshots / f"{shot.source}.png", shot.height, shot.bottom).save(
                target, format="PNG", optimize=True
            )
            mine.append(target)
        for stale in sorted(set(folder.glob("*.png")) - set(mine)):
            stale.unlink()
        written += mine
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.browser.guide_images",
        description="Make the guides' pictures from the browser tests' screenshots.",
    )
    parser.add_argument("--screenshots", type=Path, default=SCREENSHOTS)
    parser.add_argument("--out", type=Path, default=GUIDE_IMAGES)
    parser.add_argument("--app-out", type=Path, default=APP_IMAGES)
    args = parser.parse_args(argv)
    try:
        written = write(args.screenshots, args.out, args.app_out)
    except MissingScreenshots as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"{path.stat().st_size // 1024:4d} KB  {path.parent.name}/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
