"""The sync protocol's records and constants (docs/sync-protocol.md), shared by server and tablet
client.

Pure data: what a household and a visit carry, the outcomes, the mutation types, the result
statuses and rejection codes, and the error every rule raises. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

MUTATION_TYPES = ("household.upsert", "visit.create", "visit.update", "visit.void")

# The data fields a tablet may send (docs/sync-protocol.md). `ward` and `group` are `scheme:code`
# refs.
HOUSEHOLD_FIELDS = ("ward", "group", "address", "lat", "lon", "head_name", "phone")
VISIT_FIELDS = (
    "household_id",
    "visited_at",
    "outcome",
    "adults",
    "smartphones",
    "installed_before",
    "installed_during",
    "priority_subjects",
    "priority_installed",
    "lat",
    "lon",
    "accuracy_m",
    "notes",
    "come_back_at",
)
COUNT_FIELDS = (
    "adults",
    "smartphones",
    "installed_before",
    "installed_during",
    "priority_subjects",
    "priority_installed",
)
# Fields of a visit that `visit.update` may change (the household is fixed at creation).
VISIT_EDITABLE_FIELDS = tuple(f for f in VISIT_FIELDS if f != "household_id")
# Fields of a household that `household.upsert` may change after creation.
HOUSEHOLD_EDITABLE_FIELDS = tuple(f for f in HOUSEHOLD_FIELDS if f != "ward")

OUTCOMES = (
    "installed",
    "partial",
    "already_installed",
    "refused",
    "not_home",
    "come_back",
    "no_smartphone",
    "vacant",
    "language_barrier",
)
# Outcomes whose visits must carry every count; the others carry all counts or none.
OUTCOMES_REQUIRING_COUNTS = frozenset(
    {"installed", "partial", "already_installed", "refused", "no_smartphone"}
)

# Result statuses of one mutation.
APPLIED, MERGED, CONFLICT, REDIRECTED, REJECTED = (
    "applied",
    "merged",
    "conflict",
    "redirected",
    "rejected",
)

# Rejection codes of one mutation (the batch itself fails with HTTP errors instead).
REJECTION_CODES = (
    "validation_failed",
    "forbidden_ward",
    "household_unknown",
    "visit_locked",
    "not_author",
    "mutation_id_reused",
)

# Quality flags set on visits (docs/sync-protocol.md).
FLAGS = (
    "gps_far_from_household",
    "too_fast",
    "clock_suspect",
    "installed_decreased",
    "outcome_mismatch",
)
GPS_FAR_METRES = 300.0
TOO_FAST_SECONDS = 60
MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000

# Conflict kinds recorded for supervisors.
CONFLICT_KINDS = ("field_conflict", "possible_duplicate", "visit_locked", "void_vs_edit")

# Review states; approved and rejected visits are locked against tablet edits.
REVIEW_STATES = ("pending", "approved", "rejected", "flagged")
LOCKED_REVIEW_STATES = frozenset({"approved", "rejected"})

MAX_BATCH = 500


class SyncError(Exception):
    """A rule refused something. ``code`` is a stable code clients branch on; ``errors`` is
    the field-keyed map for validation, ``details`` machine-readable facts."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or {}
        self.details = details or {}


@dataclass(frozen=True)
class Counters:
    """A household's counters, derived from its counting visits (docs/sync-protocol.md)."""

    adults: int | None = None
    smartphones: int | None = None
    installed: int | None = None
    priority_subjects: int | None = None
    priority_installed: int | None = None


@dataclass(frozen=True)
class VisitFacts:
    """What the counter and flag rules need to know of one visit."""

    id: str
    order_key: tuple[int, int, str]  # (hlc ms, hlc counter, node): latest = largest
    counts: dict[str, int] | None  # the six counts, or None for a visit without counts
    counting: bool  # neither void nor rejected


def complete_counts(counts: Mapping[str, int | None]) -> dict[str, int] | None:
    """A copy of a visit's counts when all six are given, else None (VisitFacts.counts)."""
    if any(counts.get(name) is None for name in COUNT_FIELDS):
        return None
    # Checked just above: every count is there, an int.
    return cast("dict[str, int]", dict(counts))


@dataclass
class MergeResult:
    """The outcome of a 3-way merge of one update (docs/sync-protocol.md)."""

    apply: dict[str, Any] = field(default_factory=dict)  # field -> value to store
    merged_fields: list[str] = field(default_factory=list)  # taken from one side only
    conflicts: dict[str, dict[str, Any]] = field(default_factory=dict)  # base/server/client


# --- how records are shown (docs/api-supervision.md)
# --------------------------------------------------- Key orders shared by the schemas' dumps, the
# pull page's fast writer and the tablet client.
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
    """A moment as the server always writes it: UTC, with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
