"""The dashboard's trend chart: a bar a day for a short campaign, a bar a week for a long one."""

from __future__ import annotations

from datetime import date, timedelta

from domain.stats import DayFigures
from field_server.web.charts import MAX_BARS, trend_chart


def series(days: int, per_day: int = 3) -> list[DayFigures]:
    start = date(2020, 8, 1)
    return [
        DayFigures(start + timedelta(days=n), per_day * 2, per_day, per_day * (n + 1))
        for n in range(days)
    ]


def test_a_short_series_draws_a_bar_a_day():
    chart = trend_chart(series(30))
    assert len(chart.bars) == 30 and not chart.weekly
    assert chart.total == 90 and chart.peak == 3


def test_a_long_series_draws_a_bar_a_week_and_keeps_every_install():
    chart = trend_chart(series(1000))
    assert chart.weekly
    assert len(chart.bars) == (1000 + 6) // 7 <= MAX_BARS * 2
    assert chart.peak == 21  # a whole week of 3 a day
    assert chart.total == 3000
    assert chart.first == "2020-08-01" and chart.last == "2023-04-27"


def test_no_day_no_chart():
    assert trend_chart([]).bars == []
