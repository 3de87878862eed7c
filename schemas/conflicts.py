"""Conflicts, household merges and duplicate suggestions (docs/api-conflicts.md): the queries and
bodies, and how a conflict and a suggestion are shown (a merge answers the surviving household as
HouseholdRecordSchema shows it)."""

from __future__ import annotations

from marshmallow import fields, validate

from domain.conflicts import RESOLUTIONS
from domain.records import CONFLICT_KINDS

from . import UNIT_REF, ListQuerySchema, OutputSchema, StrictSchema, Timestamp
from .records import HouseholdRecordSchema

CONFLICT_STATUSES = ("open", "resolved", "dismissed")


class ConflictListQuery(ListQuerySchema):
    # Any unit in the caller's scope (a district officer may name the district).
    ward = fields.String(load_default=None, validate=UNIT_REF)
    status = fields.String(load_default=None, validate=validate.OneOf(CONFLICT_STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(CONFLICT_KINDS))


class ResolveSchema(StrictSchema):
    resolution = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS))
    values = fields.Dict(keys=fields.String(), load_default=None)


class MergeSchema(StrictSchema):
    into = fields.String(
        required=True, validate=validate.Length(min=1, max=36, error="A household id.")
    )


class DuplicateListQuery(ListQuerySchema):
    ward = fields.String(required=True, validate=UNIT_REF)


class ConflictSchema(OutputSchema):
    """A conflict the merge rules left to a supervisor, open or closed."""

    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CONFLICT_KINDS))
    entity = fields.String(required=True, validate=validate.OneOf(("household", "visit")))
    entity_id = fields.String(required=True)
    ward = fields.String(required=True, metadata={"description": "The ward, as scheme:code."})
    fields_ = fields.Dict(
        data_key="fields",
        attribute="fields",
        keys=fields.String(),
        required=True,
        metadata={"description": "Per field: its base, server and client values."},
    )
    device_id = fields.String(required=True, allow_none=True)
    mutation_id = fields.Integer(required=True, allow_none=True)
    created_at = Timestamp(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CONFLICT_STATUSES))
    resolved_at = Timestamp(required=True, allow_none=True)
    resolved_by = fields.String(required=True, allow_none=True)


class DuplicateSuggestionSchema(OutputSchema):
    """Two households that may be one (never merged by itself), and the open
    possible_duplicate conflict recorded for the pair, if any."""

    households = fields.List(
        fields.Nested(HouseholdRecordSchema), required=True, validate=validate.Length(equal=2)
    )
    score = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    reasons = fields.List(fields.String(), required=True)
    address_similarity = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    distance_m = fields.Float(required=True, allow_none=True)
    conflict_id = fields.String(required=True, allow_none=True)
