"""Exports (docs/exports.md): units, visits and households as CSV or XLSX, and a SQLite snapshot.

Each download calls its export in services/exports.py (scope, audit row, rows read in one
snapshot) and streams the bytes it returns (field_server/downloads.py ``send``, which the pages'
downloads use too), so the rows are read while the response is sent.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from schemas.exports import (
    CsvQuery,
    ExportQuery,
    SheetQuery,
    UnitsCsvQuery,
    UnitsSheetQuery,
    VisitsCsvQuery,
    VisitsSheetQuery,
)

from ..clock import utcnow
from ..downloads import send
from ..operation import operation
from ..services import exports
from ..services.context import Caller, Settings
from . import bp

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SQLITE = "application/vnd.sqlite3"
ERRORS = ("not_found",)


def _csv(query: dict[str, Any]) -> dict[str, Any]:
    return {"lang": query["lang"], "sep": query["sep"], "bom": bool(query["bom"])}


@bp.get("/exports/units.csv")
@operation("exports.read", query=UnitsCsvQuery, media_types=(CSV,), errors=ERRORS)
def export_units_csv(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """One row per ward under the unit with every figure and its rank, as CSV."""
    return send(
        exports.export_units(
            caller,
            unit=query["unit"],
            to=query["to"],
            layout=query["layout"],
            format="csv",
            **_csv(query),
            now=utcnow(),
            settings=settings,
        )
    )


@bp.get("/exports/units.xlsx")
@operation("exports.read", query=UnitsSheetQuery, media_types=(XLSX,), errors=ERRORS)
def export_units_xlsx(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """One row per ward under the unit with every figure and its rank, as XLSX."""
    return send(
        exports.export_units(
            caller,
            unit=query["unit"],
            to=query["to"],
            layout=query["layout"],
            format="xlsx",
            lang=query["lang"],
            now=utcnow(),
            settings=settings,
        )
    )


@bp.get("/exports/visits.csv")
@operation("exports.read", query=VisitsCsvQuery, media_types=(CSV,), errors=ERRORS)
def export_visits_csv(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """One row per visit under the unit, as CSV (streamed)."""
    return send(
        exports.export_visits(
            caller,
            unit=query["unit"],
            start=query["from_"],
            end=query["to"],
            review_status=query["review_status"],
            format="csv",
            **_csv(query),
            now=utcnow(),
            settings=settings,
        )
    )


@bp.get("/exports/visits.xlsx")
@operation("exports.read", query=VisitsSheetQuery, media_types=(XLSX,), errors=ERRORS)
def export_visits_xlsx(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """One row per visit under the unit, as XLSX."""
    return send(
        exports.export_visits(
            caller,
            unit=query["unit"],
            start=query["from_"],
            end=query["to"],
            review_status=query["review_status"],
            format="xlsx",
            lang=query["lang"],
            now=utcnow(),
            settings=settings,
        )
    )


@bp.get("/exports/households.csv")
@operation("exports.read", query=CsvQuery, media_types=(CSV,), errors=ERRORS)
def export_households_csv(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """One row per household under the unit, as CSV (streamed; phones masked but for
    admins)."""
    return send(
        exports.export_households(
            caller,
            unit=query["unit"],
            format="csv",
            **_csv(query),
            now=utcnow(),
            settings=settings,
        )
    )


@bp.get("/exports/households.xlsx")
@operation("exports.read", query=SheetQuery, media_types=(XLSX,), errors=ERRORS)
def export_households_xlsx(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """One row per household under the unit, as XLSX (phones masked but for admins)."""
    return send(
        exports.export_households(
            caller,
            unit=query["unit"],
            format="xlsx",
            lang=query["lang"],
            now=utcnow(),
            settings=settings,
        )
    )


@bp.get("/exports/snapshot.sqlite")
@operation("exports.read", query=ExportQuery, media_types=(SQLITE,), errors=ERRORS)
def export_snapshot_sqlite(caller: Caller, query: dict[str, Any], settings: Settings) -> Response:
    """The units, visits and households under the unit in one SQLite file."""
    return send(
        exports.export_snapshot(caller, unit=query["unit"], now=utcnow(), settings=settings)
    )
