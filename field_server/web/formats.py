"""Numbers, percentages and dates the way the page's language writes them.

Vietnamese: ``12.345``, ``18,7%``, ``15/08/2020``; English: ``12,345``, ``18.7%``,
``15/08/2020`` as well (a campaign's reports use day first). Times are shown in the
campaign's time zone (``FIELD_TIMEZONE``). Absent figures show as a dash.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, format_percent
from flask import Flask, current_app
from flask_babel import get_locale

from domain.validation import FIRST_CAMPAIGN_DAY, LAST_CAMPAIGN_DAY

DASH = "–"


def _locale() -> str:
    return str(get_locale() or "vi")


def number(value: int | float | None) -> str:
    if value is None:
        return DASH
    return format_decimal(value, locale=_locale())


def percent(value: float | None) -> str:
    """A rate (0.187) as a percentage with one decimal (``18,7%``)."""
    if value is None:
        return DASH
    return format_percent(value, format="#,##0.0%", locale=_locale())


def day(value: date | datetime | str | None) -> str:
    if value is None:
        return DASH
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = local(value).date()
    return value.strftime("%d/%m/%Y")


def moment(value: datetime | str | None) -> str:
    """A time of day and its date, campaign-local: ``09:31 15/08/2020``."""
    if value is None:
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return local(value).strftime("%H:%M %d/%m/%Y")


def local(value: datetime) -> datetime:
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


def campaign_day(text: str) -> date | None:
    """A date typed in a page's form or query (``2020-08-15``), inside the campaign calendar
    every date of the API keeps to; None when it is not one."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_CAMPAIGN_DAY <= day <= LAST_CAMPAIGN_DAY else None


def register(app: Flask) -> None:
    for name, function in (
        ("number", number),
        ("percent", percent),
        ("day", day),
        ("moment", moment),
    ):
        app.add_template_filter(function, name)
