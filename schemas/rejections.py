"""Rejected mutations (API §4.1, §5): the list query, the re-apply body, and how a
rejection is shown to supervisors."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import fields

from . import UNIT_REF, ListQuerySchema, StrictSchema
from .records import rfc3339


class RejectionListQuery(ListQuerySchema):
    # Any unit in the caller's scope (a district officer may name the district).
    ward = fields.String(load_default=None, validate=UNIT_REF)


class ApplySchema(StrictSchema):
    # Replaces the stored payload's `data` when given; the rest of the mutation is kept.
    data = fields.Dict(keys=fields.String(), load_default=None)


def rejection_id(device_id: str, mutation_id: int) -> str:
    return f"{device_id}:{mutation_id}"


def parse_rejection_id(value: str) -> tuple[str, int] | None:
    """'<device_id>:<mutation_id>' -> (device id, mutation id); None when malformed."""
    device_id, sep, number = value.rpartition(":")
    if not sep or not device_id or not number.isdigit() or len(number) > 9:
        return None
    return device_id, int(number)


def dump_rejection(row: Any, canvasser: str | None, ward_ref: str | None) -> dict[str, Any]:
    result = json.loads(row.result) if isinstance(row.result, str) else row.result
    payload = json.loads(row.payload) if isinstance(row.payload, str) else row.payload
    return {
        "id": rejection_id(row.device_id, row.mutation_id),
        "device_id": row.device_id,
        "mutation_id": row.mutation_id,
        "canvasser": canvasser,
        "ward": ward_ref,
        "type": row.type,
        "entity_id": row.entity_id,
        "code": row.code,
        "message": result.get("message"),
        "errors": result.get("errors", {}),
        "payload": payload,
        "received_at": rfc3339(row.received_at),
        "resolved_at": rfc3339(row.resolved_at),
        "resolved_by": row.resolved_by,
    }
