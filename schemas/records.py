"""Households and visits as the API shows them (API §5), shared by pull and the visit APIs.

The key orders are module constants so that pull, which builds records from plain rows
rather than from objects, shows exactly the keys, in exactly the order, of these dumps.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from domain.records import HOUSEHOLD_FIELDS, VISIT_FIELDS

HOUSEHOLD_KEYS: tuple[str, ...] = (
    "id",
    "version",
    "ward",
    "group",
    *(name for name in HOUSEHOLD_FIELDS if name not in ("ward", "group")),
    "adults",
    "smartphones",
    "installed",
    "priority_subjects",
    "priority_installed",
    "merged_into",
)
VISIT_KEYS: tuple[str, ...] = (
    "id",
    "version",
    *VISIT_FIELDS,
    "ward",
    "group",
    "canvasser",
    "device_id",
    "review_status",
    "review_comment",
    "flags",
    "voided",
    "received_at",
)
VISIT_TIMES = ("visited_at", "come_back_at", "received_at")
# Keys shown as a unit ref or a username, not as the stored id.
HOUSEHOLD_REFS = ("ward", "group")
VISIT_REFS = ("ward", "group", "canvasser")


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


def flags_list(value: Any) -> Any:
    """The stored flags (JSON text) as the list the API shows; a fresh list per record, so
    one record's list is never another's."""
    return list(_flags(value)) if isinstance(value, str) else value


def dump_household(row: Any, ward_ref: str, group_ref: str | None) -> dict[str, Any]:
    shown = {"ward": ward_ref, "group": group_ref}
    return {key: shown[key] if key in shown else getattr(row, key) for key in HOUSEHOLD_KEYS}


def dump_visit(
    row: Any, ward_ref: str, group_ref: str | None, canvasser: str | None
) -> dict[str, Any]:
    shown = {"ward": ward_ref, "group": group_ref, "canvasser": canvasser}
    record = {key: shown[key] if key in shown else getattr(row, key) for key in VISIT_KEYS}
    for key in VISIT_TIMES:
        record[key] = rfc3339(record[key])
    record["flags"] = flags_list(record["flags"])
    return record
