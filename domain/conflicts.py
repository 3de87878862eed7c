"""Settling what the merge rules left to a supervisor (docs/api-conflicts.md): resolving conflicts,
and the rules of merging two households. Pure: the store loads a ``PushContext`` (as for a push),
these functions change its state and return a ``PushPlan``, and the store writes it with
``write_push`` like any push, so versions, revisions, counters and the change sequence follow the
same path.

A resolution changes the record only when it says so:

- ``keep_server`` leaves the record as it is;
- ``take_client`` writes the tablet's value of every field of the conflict (for
  ``visit_locked``, the tablet's edit or void; for ``void_vs_edit``, the tablet's side: its
  void, which is in place already, or its edit of a voided visit, which restores the visit);
- ``set`` writes the given values, for fields of the conflict only (and, on a visit, also
  ``voided``, to restore or void it).

Written values pass the tablets' own field rules (``clean_visit``/``clean_household`` and
the count rules). A change is a new version by a ``supervisor`` (revision ``author_role``),
so a later tablet edit of the same field loses to it (domain/rules.merge_update).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .push import (
    PushContext,
    PushPlan,
    VisitState,
    change_household_fields,
    plan_correction,
)
from .records import CONFLICT_KINDS, SyncError
from .rules import derive_counters
from .validation import clean_household

RESOLUTIONS = ("keep_server", "take_client", "set")
# The marker void_vs_edit conflicts carry as the tablet's value of fields it voided.
VOID = "void"


@dataclass
class Resolution:
    """What a resolution writes: field values, and the visit's void state (None: as is)."""

    values: dict[str, Any] = field(default_factory=dict)
    voided: bool | None = None

    @property
    def changes_record(self) -> bool:
        return bool(self.values) or self.voided is not None


def _invalid(errors: dict[str, Any], message: str = "The resolution is invalid.") -> SyncError:
    return SyncError("validation_failed", message, errors=errors)


def resolution_changes(
    kind: str,
    entity: str,
    fields: dict[str, dict[str, Any]],
    resolution: str,
    values: dict[str, Any] | None,
) -> Resolution:
    """What resolving a conflict this way writes (checked against the conflict, not yet
    against the field rules, which the record's own validation applies)."""
    if kind not in CONFLICT_KINDS or resolution not in RESOLUTIONS:
        raise _invalid({"resolution": [f"Must be one of {', '.join(RESOLUTIONS)}."]})
    if resolution != "set" and values is not None:
        raise _invalid({"values": ["Only the resolution set takes values."]})
    if resolution == "keep_server":
        return Resolution()
    if kind == "possible_duplicate":
        raise _invalid(
            {
                "resolution": [
                    "A possible duplicate is settled by merging the households "
                    "(POST /households/{id}/merge), by keep_server (both stay) or by "
                    "dismissing it."
                ]
            }
        )
    if resolution == "take_client":
        out = Resolution()
        for name, sides in fields.items():
            client = sides.get("client") if isinstance(sides, dict) else None
            if name == "voided":
                out.voided = bool(client)
            elif kind == "void_vs_edit" and client == VOID:
                out.voided = True
            else:
                out.values[name] = client
        if kind == "void_vs_edit" and out.voided is None:
            out.voided = False  # the tablet's edit of a voided visit: the edit wins now
        return out
    if not isinstance(values, dict) or not values:
        raise _invalid({"values": ["Give the values to write (field -> value)."]})
    settable = set(fields) | ({"voided"} if entity == "visit" else set())
    unknown = sorted(set(values) - settable)
    if unknown:
        raise _invalid({"values": {name: ["Not a field of this conflict."] for name in unknown}})
    out = Resolution(values={k: v for k, v in values.items() if k != "voided"})
    if "voided" in values:
        if not isinstance(values["voided"], bool):
            raise _invalid({"values": {"voided": ["Must be true or false."]}})
        out.voided = values["voided"]
    return out


def _recount(ctx: PushContext, plan: PushPlan, household_id: str) -> None:
    household = ctx.households[household_id]
    facts = [v.facts() for v in ctx.visits.values() if v.household_id == household_id]
    counters = derive_counters(facts)
    if counters != household.counters:
        household.counters = counters
        plan.counters_changed.add(household_id)


def _revision(
    entity: str,
    record_id: str,
    version: int,
    previous: dict[str, Any],
    changed: list[str],
    *,
    now: datetime,
    author: str,
    author_role: str,
) -> dict[str, Any]:
    # The same keys as the planner's revision rows: the store inserts them in one batch.
    return {
        "entity": entity,
        "entity_id": record_id,
        "data": previous,
        "version": version,
        "changed": sorted(changed),
        "author_role": author_role,
        "author": author,
        "device_id": None,
        "hlc": None,
        "at": now,
    }


def _set_voided(
    ctx: PushContext,
    plan: PushPlan,
    visit: VisitState,
    voided: bool,
    *,
    now: datetime,
    author: str,
    author_role: str,
) -> None:
    """Void or restore a visit, in the version a correction of its fields just made when
    there is one (one resolution, one version)."""
    if visit.voided == voided:
        return
    last = plan.revisions[-1] if plan.revisions else None
    if last is not None and last["entity"] == "visit" and last["entity_id"] == visit.id:
        last["data"] = {**last["data"], "voided": visit.voided}
        last["changed"] = sorted({*last["changed"], "voided"})
    else:
        visit.version += 1
        plan.revisions.append(
            _revision(
                "visit",
                visit.id,
                visit.version,
                {"voided": visit.voided},
                ["voided"],
                now=now,
                author=author,
                author_role=author_role,
            )
        )
    visit.voided = voided
    visit.void_reason = None
    visit.dirty.update({"voided", "void_reason", "version"})
    _recount(ctx, plan, visit.household_id)


def resolve_visit(
    ctx: PushContext,
    visit_id: str,
    resolution: Resolution,
    *,
    now: datetime,
    author: str,
    author_role: str,
) -> PushPlan:
    """Write a resolution on a visit: its fields as a supervisor's correction (the count
    rules hold for the visit as a whole), then its void state."""
    visit = ctx.visits[visit_id]
    if resolution.values:
        plan, visit = plan_correction(
            ctx,
            visit_id,
            visit.version,
            resolution.values,
            now=now,
            author=author,
            author_role=author_role,
        )
    else:
        plan = PushPlan(last_mutation_id=ctx.last_mutation_id)
    if resolution.voided is not None:
        _set_voided(
            ctx, plan, visit, resolution.voided, now=now, author=author, author_role=author_role
        )
    return plan


def resolve_household(
    ctx: PushContext,
    household_id: str,
    resolution: Resolution,
    *,
    now: datetime,
    author: str,
    author_role: str,
) -> PushPlan:
    """Write a resolution's values on a household, checked as a tablet's update would be
    (the ward never changes; a group must be one of the household's ward)."""
    plan = PushPlan(last_mutation_id=ctx.last_mutation_id)
    household = ctx.households[household_id]
    if household.merged_into:
        raise _invalid(
            {"entity_id": [f"The household was merged into {household.merged_into}."]},
            "The household was merged into another; settle its survivor instead.",
        )
    if resolution.voided is not None:
        raise _invalid({"values": {"voided": ["Only visits are voided."]}})
    cleaned = clean_household(resolution.values, creating=False)
    if cleaned.get("group") is not None:
        group = ctx.units_by_ref.get(cleaned["group"])
        if group is None or group.level != "group" or group.parent_id != household.ward_id:
            raise _invalid(
                {"group": [f"No residential group {cleaned['group']} in this ward."]},
                "Unknown group.",
            )
    changed = {k: v for k, v in cleaned.items() if household.data.get(k) != v}
    if not changed:
        return plan
    previous = change_household_fields(ctx, household, changed)
    plan.revisions.append(
        _revision(
            "household",
            household.id,
            household.version,
            previous,
            list(changed),
            now=now,
            author=author,
            author_role=author_role,
        )
    )
    return plan


# --- merging households ------------------------------------------------------------------


@dataclass(frozen=True)
class MergeSide:
    """What the merge rules need of one household."""

    id: str
    ward_id: int
    merged_into: str | None


def check_merge(source: MergeSide, into: MergeSide) -> None:
    """A household may be merged into another of the same ward; neither may be merged away
    already, and a household is never merged into itself."""
    errors: dict[str, list[str]] = {}
    if source.id == into.id:
        errors["into"] = ["A household cannot be merged into itself."]
    elif into.merged_into is not None:
        errors["into"] = [f"That household was merged into {into.merged_into}; use that one."]
    elif into.ward_id != source.ward_id:
        errors["into"] = ["Only households of the same ward can be merged."]
    if source.merged_into is not None:
        errors["id"] = [f"This household was merged into {source.merged_into} already."]
    if errors:
        raise _invalid(errors, "These households cannot be merged.")


def duplicate_pair(fields: dict[str, Any]) -> frozenset[str]:
    """The two households a possible_duplicate conflict names (the existing one is its
    address's server value, the new one the client value)."""
    sides = fields.get("address") if isinstance(fields, dict) else None
    if not isinstance(sides, dict):
        return frozenset()
    return frozenset(v for v in (sides.get("server"), sides.get("client")) if isinstance(v, str))
