"""The daily trend as an SVG drawn on the server: no script, no library, a few hundred bytes.

Bars are the installs made each day; the line is the cumulative number of people with the
app. Sizes are attributes (not inline styles), which the content security policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.stats import DayFigures

WIDTH, HEIGHT, PAD = 600, 160, 4


@dataclass(frozen=True)
class Chart:
    bars: list[tuple[float, float, float, float]]  # x, y, width, height
    line: str  # the polyline's points
    first: str | None
    last: str | None
    peak: int
    total: int


def trend_chart(days: Sequence[DayFigures]) -> Chart:
    if not days:
        return Chart([], "", None, None, 0, 0)
    peak = max(max(d.installed_during for d in days), 1)
    top = max(max(d.cumulative_installed for d in days), 1)
    step = (WIDTH - 2 * PAD) / len(days)
    usable = HEIGHT - 2 * PAD
    bars, points = [], []
    for i, d in enumerate(days):
        x = PAD + i * step
        h = usable * d.installed_during / peak
        bars.append(
            (round(x, 1), round(HEIGHT - PAD - h, 1), round(max(step - 1, 1), 1), round(h, 1))
        )
        y = HEIGHT - PAD - usable * d.cumulative_installed / top
        points.append(f"{round(x + step / 2, 1)},{round(y, 1)}")
    return Chart(
        bars,
        " ".join(points),
        days[0].date.isoformat(),
        days[-1].date.isoformat(),
        peak,
        days[-1].cumulative_installed,
    )
