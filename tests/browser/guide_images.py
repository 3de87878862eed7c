"""The pictures of the supervisors' guide (docs/supervisors-guide.md), made from the browser
tests' screenshots.

The browser tests write full-page screenshots to build/screenshots/ (not committed); this
script keeps the top of the ones the guide shows, trims the empty page below, reduces each
to a small palette and writes it to docs/images/guide/ (committed), replacing what was
there. The same screenshots always give the same files. Run it after the browser tests:

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


class MissingScreenshots(Exception):
    """The browser tests have not written some of the screenshots the guide needs."""


def missing(screenshots: Path) -> list[str]:
    return [s.source for s in SHOTS if not (screenshots / f"{s.source}.png").is_file()]


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


def write(screenshots: Path = SCREENSHOTS, out: Path = GUIDE_IMAGES) -> list[Path]:
    """Writes every picture of the guide to `out` and removes the PNGs there that the guide
    no longer shows. Raises MissingScreenshots, writing nothing, when a screenshot is missing."""
    absent = missing(screenshots)
    if absent:
        raise MissingScreenshots(
            f"{len(absent)} screenshot(s) missing in {screenshots}: "
            + ", ".join(f"{name}.png" for name in absent)
            + f". The browser tests write them: run `{MAKE_THEM}` first."
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for shot in SHOTS:
        target = out / f"{shot.name}.png"
        shrink(screenshots / f"{shot.source}.png", shot.height, shot.bottom).save(
            target, format="PNG", optimize=True
        )
        written.append(target)
    for stale in sorted(set(out.glob("*.png")) - set(written)):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.browser.guide_images",
        description="Make the supervisors' guide's pictures from the browser tests' screenshots.",
    )
    parser.add_argument("--screenshots", type=Path, default=SCREENSHOTS)
    parser.add_argument("--out", type=Path, default=GUIDE_IMAGES)
    args = parser.parse_args(argv)
    try:
        written = write(args.screenshots, args.out)
    except MissingScreenshots as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"{path.stat().st_size // 1024:4d} KB  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
