"""Figures (docs/figures.md): the /stats query. Dates are campaign-local, both ends included."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from domain.records import OUTCOMES, REVIEW_STATES
from domain.stats import MAX_DAILY_DAYS

from . import CAMPAIGN_DATES, UNIT_REF, OutputSchema, StrictSchema

__all__ = ["MAX_DAILY_DAYS", "StatsQuery", "StatsSchema", "TotalsSchema"]


# The whole country of a scheme (admins only): unit codes never hold a "*", so it never
# names a unit (docs/figures.md, "The whole country").
_COUNTRY = re.compile(r"[a-z0-9][a-z0-9._-]*:\*")


def unit_or_country(value: str) -> str:
    """``scheme:code`` as everywhere, or ``scheme:*`` for the whole country."""
    if _COUNTRY.fullmatch(value):
        return value
    return str(UNIT_REF(value))


class StatsQuery(StrictSchema):
    unit = fields.String(
        required=True,
        validate=unit_or_country,
        metadata={
            "description": "scheme:code, or scheme:* for the whole country (every province "
            "ranked; admins only)."
        },
    )
    from_ = fields.Date(data_key="from", load_default=None, validate=CAMPAIGN_DATES)
    to = fields.Date(load_default=None, validate=CAMPAIGN_DATES)

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start and end:
            if start > end:
                raise ValidationError("`from` is after `to`.", "from")
            if (end - start).days >= MAX_DAILY_DAYS:
                raise ValidationError(f"At most {MAX_DAILY_DAYS} days at once.", "from")


# --- the answer ---------------------------------------------------------------------------


class UnitHeadSchema(OutputSchema):
    """A unit as /stats names it."""

    scheme = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)


ByOutcomeSchema = OutputSchema.from_dict(
    {outcome: fields.Integer(required=True) for outcome in OUTCOMES}, name="ByOutcomeSchema"
)
ReviewCountsSchema = OutputSchema.from_dict(
    {state: fields.Integer(required=True) for state in REVIEW_STATES}, name="ReviewCountsSchema"
)


class TotalsSchema(OutputSchema):
    """A unit's figures (docs/figures.md says what each means). Rates are fractions."""

    households = fields.Integer(required=True)
    households_visited = fields.Integer(required=True)
    visits = fields.Integer(required=True)
    adults_counted = fields.Integer(required=True)
    smartphones = fields.Integer(required=True)
    installed = fields.Integer(required=True)
    installed_during_campaign = fields.Integer(required=True)
    adult_population = fields.Integer(required=True, allow_none=True)
    target_rate = fields.Float(required=True, allow_none=True)
    coverage = fields.Float(required=True, allow_none=True)
    coverage_of_counted = fields.Float(required=True, allow_none=True)
    coverage_of_smartphones = fields.Float(required=True, allow_none=True)
    gap_to_target = fields.Integer(required=True, allow_none=True)
    priority_subjects = fields.Integer(required=True)
    priority_installed = fields.Integer(required=True)
    by_outcome = fields.Nested(ByOutcomeSchema, required=True)
    review = fields.Nested(ReviewCountsSchema, required=True)
    open_conflicts = fields.Integer(required=True)


class ChildStatsSchema(OutputSchema):
    unit = fields.Nested(UnitHeadSchema, required=True)
    totals = fields.Nested(TotalsSchema, required=True)
    rank = fields.Integer(required=True)


class DayFiguresSchema(OutputSchema):
    date = fields.Date(required=True)
    visits = fields.Integer(required=True)
    installed_during = fields.Integer(required=True)
    cumulative_installed = fields.Integer(required=True)


class StatsSchema(OutputSchema):
    """GET /stats: the unit's figures, its rank among its siblings, its children's figures
    and ranks, and a daily series."""

    unit = fields.Nested(UnitHeadSchema, required=True)
    as_of = fields.Date(required=True)
    totals = fields.Nested(TotalsSchema, required=True)
    rank = fields.Integer(required=True)
    of = fields.Integer(required=True, metadata={"description": "How many units are ranked."})
    children = fields.List(fields.Nested(ChildStatsSchema), required=True)
    daily = fields.List(fields.Nested(DayFiguresSchema), required=True)
