"""The district's pages (docs/web.md): the exports downloaded under the page's session, and
the daily report a district officer pastes into the province's report.

A download is the API's export (services/exports.py, docs/exports.md): the same query
schema, the same service call, the same bytes and headers (field_server/downloads.py
``send``, which the API uses too), the same audit row. The daily report's figures are
services/stats.py ``unit_stats``, exactly as ``GET /api/v1/stats`` answers them; only the
wording is the page's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from schemas.exports import QUERIES

from ..auth.scope import current_settings
from ..clock import utcnow
from ..downloads import send
from ..errors import ApiError
from ..parsing import parse_query
from ..services import exports, stats
from ..services.context import Caller
from . import bp
from .formats import campaign_day, number, percent
from .session import page

# The downloads a page offers: the API's file names (docs/exports.md), under /exports/.
DOWNLOADS = tuple(f"{kind}.{fmt}" for kind, fmt in QUERIES)


def _csv(query: dict[str, Any]) -> dict[str, Any]:
    return {"lang": query["lang"], "sep": query["sep"], "bom": bool(query["bom"])}


@bp.get("/exports/<name>")
@page("admin", "district", "supervisor")
def export(caller: Caller, name: str) -> Any:
    kind, _dot, fmt = name.partition(".")
    schema = QUERIES.get((kind, fmt))
    if schema is None:
        raise NotFound()
    query = parse_query(schema())
    settings = current_settings()
    now = utcnow()
    text = _csv(query) if fmt == "csv" else {"lang": query["lang"]} if fmt == "xlsx" else {}
    if kind == "units":
        found = exports.export_units(
            caller,
            unit=query["unit"],
            to=query["to"],
            layout=query["layout"],
            format=fmt,
            **text,
            now=now,
            settings=settings,
        )
    elif kind == "visits":
        found = exports.export_visits(
            caller,
            unit=query["unit"],
            start=query["from_"],
            end=query["to"],
            review_status=query["review_status"],
            format=fmt,
            **text,
            now=now,
            settings=settings,
        )
    elif kind == "households":
        found = exports.export_households(
            caller, unit=query["unit"], format=fmt, **text, now=now, settings=settings
        )
    else:
        found = exports.export_snapshot(caller, unit=query["unit"], now=now, settings=settings)
    return send(found)


# --- the daily report -----------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    unit_figures: stats.UnitStats
    hour: int
    day: date
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _lead(unit_figures: stats.UnitStats, hour: int, day: date) -> str:
    t = unit_figures.totals
    values = {
        "hour": hour,
        "day": day.strftime("%d/%m/%Y"),
        "n": number(t["installed"]),
        "x": percent(t["coverage"]),
        "rank": unit_figures.rank,
        "of": unit_figures.of,
    }
    if unit_figures.unit.level == "ward":
        return _(
            "By %(hour)s:00 on %(day)s, the whole ward had %(n)s people with Bluezone "
            "installed, %(x)s of the adult population, ranked %(rank)s / %(of)s.",
            **values,
        )
    if unit_figures.unit.level == "province":
        return _(
            "By %(hour)s:00 on %(day)s, the whole province had %(n)s people with Bluezone "
            "installed, %(x)s of the adult population, ranked %(rank)s / %(of)s.",
            **values,
        )
    return _(
        "By %(hour)s:00 on %(day)s, the whole district had %(n)s people with Bluezone "
        "installed, %(x)s of the adult population, ranked %(rank)s / %(of)s.",
        **values,
    )


def _line(child: stats.ChildStats, of: int) -> str:
    return _(
        "%(name)s: %(n)s people with Bluezone installed, %(x)s of the adult population, "
        "ranked %(rank)s / %(of)s.",
        name=child.unit.name,
        n=number(child.totals["installed"]),
        x=percent(child.totals["coverage"]),
        rank=child.rank,
        of=of,
    )


def daily_report(caller: Caller, ref: str, to: date | None) -> Report:
    """The report's lines: the unit's, then one per child by rank (ties by name)."""
    settings = current_settings()
    now = utcnow()
    unit_figures = stats.unit_stats(caller, ref, start=None, end=to, now=now, settings=settings)
    if to is None:
        local: datetime = now.astimezone(ZoneInfo(settings.timezone))
        hour, day = local.hour, local.date()
    else:
        hour, day = 24, to  # a past day: its figures as of its end
    children = sorted(unit_figures.children, key=lambda c: (c.rank, c.unit.name))
    lines = [_lead(unit_figures, hour, day)]
    lines += [_line(c, len(children)) for c in children]
    return Report(unit_figures, hour, day, lines)


def _report_day() -> tuple[date | None, str | None]:
    raw = request.args.get("to", "").strip()[:20]
    if not raw:
        return None, None
    day = campaign_day(raw)
    if day is None:
        return None, _("A date such as 2020-08-15.")
    return day, None


@bp.get("/units/<path:ref>/report")
@page("admin", "district", "supervisor")
def unit_report(caller: Caller, ref: str) -> Any:
    """The daily report of a unit (a district, a ward) and its children, ready to paste."""
    to, error = _report_day()
    try:
        report = daily_report(caller, ref, to)
    except ApiError as refused:
        if refused.code != "validation_failed" or to is None:
            raise
        error, report = _("Choose a day of the campaign."), daily_report(caller, ref, None)
    return render_template(
        "report.html", report=report, figures=report.unit_figures, error=error, chosen=to
    )
