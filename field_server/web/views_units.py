"""The home page and a unit's dashboard (docs/web.md): the same figures as /api/v1/stats.

A ward's dashboard shows its coverage against the target, its rank among the district's
wards, the daily trend (an SVG drawn here, no script) and its residential groups; a
district's page ranks its wards. The figures come from services/stats.py ``unit_stats``,
exactly as the API answers them.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for

from ..auth.scope import current_settings
from ..clock import utcnow
from ..services import stats, units
from ..services.context import Caller
from . import bp
from .charts import trend_chart
from .session import page

HOME_LEVEL = {"supervisor": "ward", "district": "district"}


def _units_at(caller: Caller, level: str) -> list[units.UnitInfo]:
    found = units.list_units(
        caller, scheme=None, parent=None, level=level, after=None, limit=1000
    ).items
    return [u for u in found if caller.scope.everything or u.level == level]


@bp.get("/")
@page()
def home(caller: Caller) -> Any:
    if caller.role == "canvasser":
        mine = _units_at(caller, "ward") + _units_at(caller, "group")
        return render_template("progress.html", caller=caller, units=mine)
    level = HOME_LEVEL.get(caller.role)
    if level is not None:
        found = _units_at(caller, level)
        if len(found) == 1:
            return redirect(url_for("web.unit", ref=f"{found[0].scheme}:{found[0].code}"))
        return render_template("units.html", caller=caller, units=found)
    return render_template("units.html", caller=caller, units=_units_at(caller, "district"))


@bp.get("/units/<path:ref>")
@page("admin", "district", "supervisor")
def unit(caller: Caller, ref: str) -> Any:
    found = stats.unit_stats(
        caller, ref, start=None, end=None, now=utcnow(), settings=current_settings()
    )
    return render_template(
        "unit.html", caller=caller, figures=found, chart=trend_chart(found.daily)
    )
