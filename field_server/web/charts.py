"""The daily trend as an SVG drawn on the server: no script, no library, a few kilobytes.

Bars are the installs made each day (each week, when the series is longer than
``MAX_BARS`` days, so the chart stays small and readable on a phone); the line is the
cumulative number of people with the app. Sizes are attributes (not inline styles), which
the content security policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.stats import DayFigures

WIDTH, HEIGHT, PAD = 600, 160, 4
MAX_BARS = 92  # about a quarter: longer series are drawn a week a bar
WEEK = 7


@dataclass(frozen=True)
class Chart:
    bars: list[tuple[float, float, float, float]]  # x, y, width, height
    line: str  # the polyline's points
    first: str | None
    last: str | None
    peak: int
    total: int
    weekly: bool = False


@dataclass(frozen=True)
class _Bar:
    installed: int
    cumulative: int


def _bars(days: Sequence[DayFigures]) -> tuple[list[_Bar], bool]:
    if len(days) <= MAX_BARS:
        return [_Bar(d.installed_during, d.cumulative_installed) for d in days], False
    # Weeks counted back from the last day, so the latest bar is a whole week.
    start = len(days) % WEEK
    groups = ([days[:start]] if start else []) + [
        days[i : i + WEEK] for i in range(start, len(days), WEEK)
    ]
    return [
        _Bar(sum(d.installed_during for d in g), g[-1].cumulative_installed) for g in groups
    ], True


def trend_chart(days: Sequence[DayFigures]) -> Chart:
    if not days:
        return Chart([], "", None, None, 0, 0)
    bars_in, weekly = _bars(days)
    peak = max(max(b.installed for b in bars_in), 1)
    top = max(max(b.cumulative for b in bars_in), 1)
    step = (WIDTH - 2 * PAD) / len(bars_in)
    usable = HEIGHT - 2 * PAD
    bars, points = [], []
    for i, b in enumerate(bars_in):
        x = PAD + i * step
        h = usable * b.installed / peak
        bars.append(
            (round(x, 1), round(HEIGHT - PAD - h, 1), round(max(step - 1, 1), 1), round(h, 1))
        )
        y = HEIGHT - PAD - usable * b.cumulative / top
        points.append(f"{round(x + step / 2, 1)},{round(y, 1)}")
    return Chart(
        bars,
        " ".join(points),
        days[0].date.isoformat(),
        days[-1].date.isoformat(),
        peak,
        days[-1].cumulative_installed,
        weekly,
    )
