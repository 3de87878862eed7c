"""Figures (API §6): the /stats query. Dates are campaign-local, both ends included."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from . import UNIT_REF, StrictSchema

MAX_DAILY_DAYS = 1000


class StatsQuery(StrictSchema):
    unit = fields.String(required=True, validate=UNIT_REF)
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start and end:
            if start > end:
                raise ValidationError("`from` is after `to`.", "from")
            if (end - start).days >= MAX_DAILY_DAYS:
                raise ValidationError(f"At most {MAX_DAILY_DAYS} days at once.", "from")
