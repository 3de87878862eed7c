"""Marshmallow schemas, one module per resource. Unknown fields always raise."""

from datetime import UTC
from typing import Any

from marshmallow import RAISE, Schema, fields, validate


class StrictSchema(Schema):
    """Base for every request schema: an unknown field is a validation error, never ignored."""

    class Meta:
        unknown = RAISE


class ListQuerySchema(StrictSchema):
    """`cursor` and `limit`, shared by every list endpoint."""

    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


UNIT_REF = validate.Regexp(r"^[a-z0-9][a-z0-9._-]*:[A-Za-z0-9._-]+$", error="Use scheme:code.")


class StrictBoolean(fields.Boolean):
    """true or false only: JSON's 1, "yes" or "true" are not booleans."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
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
    """The envelope of every list (API §1): ``items``, an opaque ``cursor``, ``has_more``."""

    cursor = fields.String(allow_none=True, required=True)
    has_more = fields.Boolean(required=True)
