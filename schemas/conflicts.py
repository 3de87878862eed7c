"""Conflicts, household merges and duplicate suggestions (API §5): the queries and bodies,
and how a conflict and a suggestion are shown."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import fields, validate

from domain.conflicts import RESOLUTIONS
from domain.records import CONFLICT_KINDS

from . import UNIT_REF, ListQuerySchema, StrictSchema
from .records import rfc3339

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


def dump_conflict(row: Any, ward_ref: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "ward": ward_ref,
        "fields": json.loads(row.fields) if isinstance(row.fields, str) else row.fields,
        "device_id": row.device_id,
        "mutation_id": row.mutation_id,
        "created_at": rfc3339(row.created_at),
        "status": row.status,
        "resolved_at": rfc3339(row.resolved_at),
        "resolved_by": row.resolved_by,
    }


def dump_suggestion(
    suggestion: Any,
    households: dict[str, dict[str, Any]],
    conflict_id: str | None,
) -> dict[str, Any]:
    return {
        "households": [households[suggestion.a], households[suggestion.b]],
        "score": suggestion.score,
        "reasons": list(suggestion.reasons),
        "address_similarity": suggestion.address_similarity,
        "distance_m": suggestion.distance_m,
        "conflict_id": conflict_id,
    }
