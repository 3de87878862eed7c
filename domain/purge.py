"""Which stored values are personal data, and how the JSON the server keeps is scrubbed of
them (`field-server purge`, docs/operations.md "Personal data").

Pure: the store reads rows and hands their JSON text here; what comes back is the new text,
or None when nothing in it was personal (the row is then left alone, so a second purge
changes nothing and counts nothing).

The figures never depend on anything listed here: counts, outcomes, review states, flags,
dates and the ward or group stay as they were.
"""

from __future__ import annotations

import json
from typing import Any

from .records import HOUSEHOLD_FIELDS, VISIT_FIELDS

# Columns of the households and visits tables holding personal data. A household's address
# goes too: after a campaign nobody revisits, and an address beside a household's
# composition and health figures identifies the family.
HOUSEHOLD_COLUMNS = (
    "head_name",
    "phone",
    "address",
    "address_norm",
    "lat",
    "lon",
    "first_lat",
    "first_lon",
)
# A visit's position (with its accuracy, meaningless without it) and every free text.
VISIT_COLUMNS = ("lat", "lon", "accuracy_m", "notes", "void_reason", "review_comment")

# Keys naming personal values in the JSON kept beside the records: revisions' previous
# values, conflicts' sides, rejected payloads' data, audit rows' resolved values.
PERSONAL_KEYS = frozenset(
    {
        "head_name",
        "phone",
        "address",
        "lat",
        "lon",
        "accuracy_m",
        "notes",
        "reason",  # a visit.void's free text
        "void_reason",
        "review_comment",
    }
)

# A rejected payload keeps what a supervisor needs to see what the mutation was: its
# envelope and the data fields that are neither personal nor free text, with values of the
# type those fields take (a rejected payload may hold anything at all in any field).
_ENVELOPE_NUMBERS = ("mutation_id", "base_version")
_ENVELOPE_TEXTS = {"type": 32, "id": 64, "hlc": 120}  # longest a real one can be
_TEXT_FIELDS = frozenset({"ward", "group", "household_id", "visited_at", "outcome", "come_back_at"})
_KEPT_FIELDS = frozenset(HOUSEHOLD_FIELDS + VISIT_FIELDS) - PERSONAL_KEYS
MAX_KEPT_TEXT = 64  # a ward ref, a UUID or a timestamp; anything longer is not one


def _load(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def scrub_values(values: dict[str, Any]) -> dict[str, Any]:
    """The same mapping with every personal key's value set to None (keys kept: a revision
    must still say which fields its version changed)."""
    return {k: (None if k in PERSONAL_KEYS else v) for k, v in values.items()}


def scrub_revision(text: str | None) -> str | None:
    """A revision's previous values with the personal ones nulled; None if unchanged."""
    data = _load(text)
    if not isinstance(data, dict):
        return None
    scrubbed = scrub_values(data)
    return _dump(scrubbed) if scrubbed != data else None


def scrub_conflict(kind: str, text: str | None) -> str | None:
    """A conflict's fields with the base, server and client values of personal fields
    nulled; None if unchanged. A possible_duplicate's `address` sides are household ids
    (domain/conflicts.py duplicate_pair), not addresses: kept."""
    fields = _load(text)
    if kind == "possible_duplicate" or not isinstance(fields, dict):
        return None
    scrubbed = {
        name: (
            (dict.fromkeys(sides) if isinstance(sides, dict) else None)
            if name in PERSONAL_KEYS
            else sides
        )
        for name, sides in fields.items()
    }
    return _dump(scrubbed) if scrubbed != fields else None


def _kept_value(name: str, value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    return name in _TEXT_FIELDS and isinstance(value, str) and len(value) <= MAX_KEPT_TEXT


def scrub_rejected_payload(text: str | None) -> str | None:
    """A rejected mutation as kept for the supervisors, reduced to its envelope and its
    non-personal data fields (personal and unknown fields are dropped, so re-applying it
    changes none of them); None if unchanged."""
    if text is None:
        return None
    raw = _load(text)
    if not isinstance(raw, dict):
        raw = {}
    kept: dict[str, Any] = {}
    for key in _ENVELOPE_NUMBERS:
        if isinstance(raw.get(key), int) and not isinstance(raw.get(key), bool):
            kept[key] = raw[key]
    for key, longest in _ENVELOPE_TEXTS.items():
        if isinstance(raw.get(key), str) and len(raw[key]) <= longest:
            kept[key] = raw[key]
    data = raw.get("data")
    kept["data"] = (
        {k: v for k, v in data.items() if k in _KEPT_FIELDS and _kept_value(k, v)}
        if isinstance(data, dict)
        else {}
    )
    return _dump(kept) if kept != raw else None


def scrub_audit(action: str, text: str | None) -> str | None:
    """An audit row's details without personal values: a review's comment, a conflict
    resolution's personal values. None if unchanged (other actions hold none)."""
    details = _load(text)
    if not isinstance(details, dict):
        return None
    scrubbed = dict(details)
    if action == "visit.review" and details.get("comment") is not None:
        scrubbed["comment"] = None
    if action == "conflict.resolve" and isinstance(details.get("values"), dict):
        scrubbed["values"] = scrub_values(details["values"])
    return _dump(scrubbed) if scrubbed != details else None


# The audit actions whose details may hold a purged record's personal values.
AUDIT_ACTIONS = ("visit.review", "conflict.resolve")
