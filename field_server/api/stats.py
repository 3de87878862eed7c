"""GET /api/v1/stats (API §6): a unit's figures, its children's, its rank, a daily series.

Everything is read from the counters of store/figures.py: a handful of grouped queries over
a few rows per unit and day, the same cost at a thousand visits as at a million.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, jsonify
from sqlalchemy import select

from domain.stats import competition_ranks
from schemas.stats import MAX_DAILY_DAYS, StatsQuery

from ..auth.scope import ensure_unit_in_scope, requires
from ..errors import ApiError
from ..extensions import db
from ..models import Unit
from ..parsing import parse_query
from ..store import figures
from ..store.engine import begin_read_snapshot
from ..store.units import get_unit_by_ref
from . import bp


def _today() -> date:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _unit_head(unit: Unit) -> dict[str, Any]:
    return {"scheme": unit.scheme, "code": unit.code, "name": unit.name, "level": unit.level}


def _siblings(unit: Unit) -> list[Unit]:
    if unit.parent_id is None:
        statement = select(Unit).where(Unit.parent_id.is_(None), Unit.scheme == unit.scheme)
    else:
        statement = select(Unit).where(Unit.parent_id == unit.parent_id)
    return list(db.session.execute(statement.order_by(Unit.id)).scalars())


@bp.get("/stats")
@requires("stats.read")
def stats() -> Response:
    query = parse_query(StatsQuery())
    unit = ensure_unit_in_scope(get_unit_by_ref(query["unit"]))
    end: date = query["to"] or _today()
    start: date | None = query["from_"]
    if start is not None and start > end:
        raise ApiError("validation_failed", errors={"from": ["`from` is after `to`."]})
    begin_read_snapshot()  # every figure from one snapshot

    siblings = _siblings(unit)
    children = list(
        db.session.execute(
            select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.id)
        ).scalars()
    )
    rate_ = current_app.config["TARGET_RATE"]
    sibling_totals = figures.totals_for(siblings, start, end, rate_)
    child_totals = figures.totals_for(children, start, end, rate_)
    sibling_ranks = competition_ranks({i: t["coverage"] for i, t in sibling_totals.items()})
    child_ranks = competition_ranks({i: t["coverage"] for i, t in child_totals.items()})

    first = start
    if first is None:
        known = figures.first_day(unit.id)
        first = date.fromisoformat(known) if known and known <= end.isoformat() else end
        first = max(first, end - timedelta(days=MAX_DAILY_DAYS - 1))
    daily = _daily(figures.daily_rows(unit.id, end), first, end)

    return jsonify(
        {
            "unit": _unit_head(unit),
            "as_of": end.isoformat(),
            "totals": sibling_totals[unit.id],
            "rank": sibling_ranks[unit.id],
            "of": len(siblings),
            "children": [
                {"unit": _unit_head(c), "totals": child_totals[c.id], "rank": child_ranks[c.id]}
                for c in children
            ],
            "daily": daily,
        }
    )


def _daily(rows: list[tuple[str, int, int, int]], first: date, end: date) -> list[dict[str, Any]]:
    """One row per day of [first, end], zero-filled; cumulative_installed is the state at
    each day's end, so it starts from everything installed before ``first``."""
    by_day = {day: (visits, during, installed) for day, visits, during, installed in rows}
    cumulative = sum(installed for day, _, _, installed in rows if day < first.isoformat())
    out = []
    day = first
    while day <= end:
        visits, during, installed = by_day.get(day.isoformat(), (0, 0, 0))
        cumulative += installed
        out.append(
            {
                "date": day.isoformat(),
                "visits": visits,
                "installed_during": during,
                "cumulative_installed": cumulative,
            }
        )
        day += timedelta(days=1)
    return out
