"""GET /api/v1/stats (docs/figures.md): a unit's figures, its children's, its rank, a daily series
(services/stats.py); ``unit=scheme:*`` is the whole country, for admins."""

from __future__ import annotations

from typing import Any

from schemas.stats import StatsQuery, StatsSchema

from ..clock import utcnow
from ..operation import operation
from ..services import stats as stats_service
from ..services.context import Caller, Settings
from . import bp


@bp.get("/stats")
@operation("stats.read", query=StatsQuery, response=StatsSchema, errors=("not_found",), fast=True)
def stats(caller: Caller, query: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A unit's figures (or the whole country's: `scheme:*`, admins only), its rank among its
    siblings, its children's and a daily series."""
    return stats_service.unit_stats(
        caller,
        query["unit"],
        start=query["from_"],
        end=query["to"],
        now=utcnow(),
        settings=settings,
    ).as_json()  # ready JSON (fast): StatsSchema documents it
