"""Marshmallow schemas, one module per resource. Unknown fields always raise."""

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from domain.validation import FIRST_CAMPAIGN_DAY, LAST_CAMPAIGN_DAY, NUL, NUL_MESSAGE


def _nul_errors(value: Any) -> Any:
    """Where a value holds a string with the NUL character (which PostgreSQL cannot store
    in text, so that SQLite and PostgreSQL refuse the same requests): an error map, or None."""
    if isinstance(value, str):
        return [NUL_MESSAGE] if NUL in value else None
    if isinstance(value, Mapping):
        found = {str(k): e for k, v in value.items() if (e := _nul_errors(v)) is not None}
        return found or None
    if isinstance(value, list):
        found = {str(i): e for i, v in enumerate(value) if (e := _nul_errors(v)) is not None}
        return found or None
    return None


class StrictSchema(Schema):
    """Base for every request schema: an unknown field is a validation error, never ignored,
    and so is a string holding the NUL character. ``RAW_FIELDS`` names fields handed on
    unchecked (a push's mutations: each is checked on its own, so one bad mutation is that
    mutation's rejection, not the batch's)."""

    RAW_FIELDS: tuple[str, ...] = ()

    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_nul(self, data: Any, **_: Any) -> Any:
        if isinstance(data, Mapping):
            checked = {k: v for k, v in data.items() if k not in self.RAW_FIELDS}
            errors = _nul_errors(checked)
            if errors:
                raise ValidationError(errors)
        return data


class QueryInteger(fields.Integer):
    """A whole number in a query string, in ASCII digits only: Python's int() also reads
    other scripts' digits (``١٠`` is 10), and a number must have one spelling."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not (value.isascii() and value.lstrip("-").isdigit()):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class ListQuerySchema(StrictSchema):
    """`cursor` and `limit`, shared by every list endpoint."""

    cursor = fields.String(load_default=None)
    limit = QueryInteger(load_default=100, validate=validate.Range(min=1, max=1000))


# Dates a campaign's queries may name: the same calendar as the visits' times
# (domain/validation.py), far beyond any campaign, well inside what Python's datetime and
# the databases hold once a time zone shifts them by a day.
CAMPAIGN_DATES = validate.Range(min=FIRST_CAMPAIGN_DAY, max=LAST_CAMPAIGN_DAY)


class FullRegexp(validate.Regexp):
    """``validate.Regexp`` that matches the whole value. marshmallow's own uses
    ``re.match``, where a final "$" also matches before a trailing newline, so "abc\\n"
    would pass ``^[a-z]+$``. The pattern keeps its "^…$" anchors for the OpenAPI document,
    whose (ECMA-262) patterns are searched, not matched whole."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


UNIT_REF = FullRegexp(r"^[a-z0-9][a-z0-9._-]*:[A-Za-z0-9._-]+$", error="Use scheme:code.")


class StrictBoolean(fields.Boolean):
    """true or false only: JSON's 1, "yes" or "true" are not booleans."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class OutputSchema(Schema):
    """Base for every response schema: dumps what a service returned (dataclasses, rows or
    dicts, read by attribute or key), in the field order declared. The OpenAPI document is
    generated from these (field_server/api/openapi.py)."""

    class Meta:
        ordered = True


class Timestamp(fields.Field):
    """A moment as the server always writes it: RFC 3339 in UTC with a ``Z``.

    ``timespec`` as in ``datetime.isoformat`` ("auto" keeps microseconds when present)."""

    def __init__(self, *, timespec: str = "auto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timespec = timespec

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec=self.timespec).replace("+00:00", "Z")


class ListEnvelope(OutputSchema):
    """The envelope of every list (docs/errors.md): ``items``, an opaque ``cursor``,
    ``has_more``."""

    cursor = fields.String(allow_none=True, required=True)
    has_more = fields.Boolean(required=True)
