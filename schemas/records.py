"""Households and visits as the API shows them (API §5), shared by pull and the visit APIs."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from sync.records import HOUSEHOLD_FIELDS, VISIT_FIELDS


def rfc3339(value: datetime | None) -> str | None:
    """UTC with a Z, as the server always answers."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=256)
def _flags(text: str) -> tuple[str, ...]:
    """A visit's stored flags: a handful of distinct JSON texts across thousands of rows
    (a pull page decodes 500), so each is decoded once."""
    return tuple(json.loads(text))


def dump_household(row: Any, ward_ref: str, group_ref: str | None) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in HOUSEHOLD_FIELDS if name not in ("ward", "group")}
    return {
        "id": row.id,
        "version": row.version,
        "ward": ward_ref,
        "group": group_ref,
        **data,
        "adults": row.adults,
        "smartphones": row.smartphones,
        "installed": row.installed,
        "priority_subjects": row.priority_subjects,
        "priority_installed": row.priority_installed,
        "merged_into": row.merged_into,
    }


def dump_visit(
    row: Any, ward_ref: str, group_ref: str | None, canvasser: str | None
) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in VISIT_FIELDS}
    data["visited_at"] = rfc3339(data["visited_at"])
    data["come_back_at"] = rfc3339(data["come_back_at"])
    return {
        "id": row.id,
        "version": row.version,
        **data,
        "ward": ward_ref,
        "group": group_ref,
        "canvasser": canvasser,
        "device_id": row.device_id,
        "review_status": row.review_status,
        "review_comment": row.review_comment,
        "flags": list(_flags(row.flags)) if isinstance(row.flags, str) else row.flags,
        "voided": row.voided,
        "received_at": rfc3339(row.received_at),
    }
