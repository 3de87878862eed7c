"""Marshmallow schemas, one module per resource. Unknown fields always raise."""

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
