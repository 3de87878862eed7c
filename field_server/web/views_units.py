"""The home page and a unit's dashboard (docs/web.md): the same figures as /api/v1/stats.

A ward's dashboard shows its coverage against the target, its rank among the district's
wards, the daily trend (an SVG drawn here, no script), its residential groups and its
canvassers (visits, installs, flagged visits, last visit and last sync of each, from
services/dashboard.py ``ward_canvassers``; the counts link into the review queue), with a
link to its follow-up lists (households to visit again,
priority households not yet covered); a district's page ranks its wards. The figures come
from services/stats.py ``unit_stats``, exactly as the API answers them. A canvasser's home
is their own progress (services/dashboard.py ``own_progress``), read-only.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for
from flask_babel import gettext as _

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..services import dashboard, stats, units
from ..services.context import Caller
from . import bp
from .charts import trend_chart
from .session import page
from .views_visits import flag_labels

HOME_LEVEL = {"supervisor": "ward", "district": "district"}
FOLLOW_UP_LIMIT = 100


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
        progress = dashboard.own_progress(
            caller, now=utcnow(), timezone=current_settings().timezone
        )
        labels = {
            "pending": _("Pending"),
            "approved": _("Approved"),
            "rejected": _("Rejected"),
            "flagged": _("Flagged"),
        }
        return render_template(
            "progress.html", caller=caller, units=mine, progress=progress, review_labels=labels
        )
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
    now = utcnow()
    found = stats.unit_stats(
        caller, ref, start=None, end=None, now=now, settings=current_settings()
    )
    ward = found.unit.level == "ward"
    return render_template(
        "unit.html",
        caller=caller,
        figures=found,
        chart=trend_chart(found.daily),
        canvassers=dashboard.ward_canvassers(caller, ref, now=now) if ward else [],
        flag_labels=flag_labels(),
    )


@bp.get("/units/<path:ref>/followup")
@page("admin", "district", "supervisor")
def follow_up(caller: Caller, ref: str) -> Any:
    """A ward's households to visit again and its priority households not yet covered."""
    found = stats.unit_stats(
        caller, ref, start=None, end=None, now=utcnow(), settings=current_settings()
    )
    if found.unit.level != "ward":
        raise ApiError("not_found")
    lists = dashboard.follow_up(
        caller, ref, limit=FOLLOW_UP_LIMIT, timezone=current_settings().timezone
    )
    return render_template("followup.html", figures=found, lists=lists, limit=FOLLOW_UP_LIMIT)
