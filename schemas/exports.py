"""Exports (docs/exports.md): the query of each download. Unknown parameters are refused (a
misspelt ``review_staus`` must not silently export everything); dates are campaign-local,
both ends included."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from domain.exports import LANGUAGES, LAYOUTS, SEPARATORS
from domain.records import REVIEW_STATES

from . import CAMPAIGN_DATES, UNIT_REF, QueryInteger, StrictSchema


class ExportQuery(StrictSchema):
    """``unit`` alone: the snapshot."""

    unit = fields.String(required=True, validate=UNIT_REF)


class SheetQuery(ExportQuery):
    """The XLSX downloads: headers in English or Vietnamese."""

    lang = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


class CsvQuery(SheetQuery):
    """The CSV downloads: byte-order mark (``bom=0`` leaves it out) and separator."""

    bom = QueryInteger(load_default=1, validate=validate.OneOf([0, 1]))
    sep = fields.String(load_default="comma", validate=validate.OneOf(tuple(SEPARATORS)))


def _check_range(data: dict[str, Any]) -> None:
    start, end = data.get("from_"), data.get("to")
    if start and end and start > end:
        raise ValidationError("`from` is after `to`.", "from")


class UnitsSheetQuery(SheetQuery):
    to = fields.Date(load_default=None, validate=CAMPAIGN_DATES)
    layout = fields.String(load_default="full", validate=validate.OneOf(LAYOUTS))


class UnitsCsvQuery(CsvQuery):
    to = fields.Date(load_default=None, validate=CAMPAIGN_DATES)
    layout = fields.String(load_default="full", validate=validate.OneOf(LAYOUTS))


class VisitsSheetQuery(SheetQuery):
    from_ = fields.Date(data_key="from", load_default=None, validate=CAMPAIGN_DATES)
    to = fields.Date(load_default=None, validate=CAMPAIGN_DATES)
    review_status = fields.String(load_default=None, validate=validate.OneOf(REVIEW_STATES))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        _check_range(data)


class VisitsCsvQuery(CsvQuery):
    from_ = fields.Date(data_key="from", load_default=None, validate=CAMPAIGN_DATES)
    to = fields.Date(load_default=None, validate=CAMPAIGN_DATES)
    review_status = fields.String(load_default=None, validate=validate.OneOf(REVIEW_STATES))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        _check_range(data)


QUERIES: dict[tuple[str, str], type[ExportQuery]] = {
    ("units", "csv"): UnitsCsvQuery,
    ("units", "xlsx"): UnitsSheetQuery,
    ("visits", "csv"): VisitsCsvQuery,
    ("visits", "xlsx"): VisitsSheetQuery,
    ("households", "csv"): CsvQuery,
    ("households", "xlsx"): SheetQuery,
    ("snapshot", "sqlite"): ExportQuery,
}
