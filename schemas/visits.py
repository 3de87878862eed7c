"""Visits (API §5): the supervisor's correction body."""

from marshmallow import fields, validate

from . import StrictSchema


class CorrectionSchema(StrictSchema):
    base_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    data = fields.Dict(required=True)
