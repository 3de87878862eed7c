"""Planning a push (docs/sync-protocol.md, docs/sync-protocol.md): apply one batch of mutations to
an in-memory state.

The store loads everything the batch can touch into a ``PushContext`` (a handful of set-based
queries), ``plan_push`` works through the mutations in order against it, and the store
writes the result back in bulk. Nothing here does I/O: time and the server's clock come in
as arguments, so every rule is tested without a database.

State objects record what changed (``new``, ``dirty``) so the store writes only that.

Revisions hold, for each version of a record, the fields that version changed with their
values *before* it (a creation changed every field it was sent with, from nothing), who
changed them and the HLC. The base a tablet edited (its ``base_version``) is the record as it
is now with the later versions undone. Creations, most of the traffic, thus store no snapshot
of the whole record, only the list of fields they set: that and their HLC are what a later
merge against ``base_version`` 0 compares with.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from .address import normalise_address
from .hlc import HLC, HybridClock, format_hlc, is_suspect
from .records import (
    APPLIED,
    CONFLICT,
    COUNT_FIELDS,
    HOUSEHOLD_FIELDS,
    LOCKED_REVIEW_STATES,
    MAX_CLOCK_AHEAD_MS,
    MERGED,
    REDIRECTED,
    REJECTED,
    VISIT_FIELDS,
    Counters,
    SyncError,
    VisitFacts,
)
from .rules import derive_counters, gps_far, installed_decreased, merge_update, too_fast
from .validation import (
    NUL,
    Mutation,
    clean_household,
    clean_visit,
    count_errors,
    outcome_mismatch,
    parse_mutation,
)

SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})

# The store normalises a batch's addresses to look for duplicates, the planner again: once.
normalised_address = functools.lru_cache(maxsize=8192)(normalise_address)


# The C encoder json.dumps uses (None without the C accelerator); private, so typeshed does
# not declare it.
_c_make_encoder: Callable[..., Any] | None = json.encoder.c_make_encoder  # type: ignore[attr-defined]

# json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds this C
# encoder anew on every call, with these very settings, and that setup cost as much as the
# encoding of a small mutation: built once, it gives the same bytes (stored hashes must keep
# matching). Its circular-reference bookkeeping is left out (markers None): parsed JSON has
# no cycles.
_canonical_encoder = (
    _c_make_encoder(
        None,  # markers
        json.JSONEncoder().default,  # for a value JSON has no form for: the same TypeError
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        ":",  # key separator
        ",",  # item separator
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    if _c_make_encoder is not None
    else None
)


# orjson writes the same canonical JSON as json.dumps with the settings above (keys sorted by
# code point, no spaces, non-ASCII as UTF-8, the same escapes, floats by their shortest
# repr) in a fifth of the time, but for three kinds of value: an integer past 64 bits, which
# it refuses; a float of magnitude 1e-5 to 1e-4, which it writes in full (0.00001 where
# json.dumps writes 1e-05); and one of 1e-9 to 1e-5, whose exponent it writes with one digit
# (1.2e-6 where json.dumps writes 1.2e-06). Any output that may hold one of those (a string
# may look alike) is written again the json.dumps way: the stored hashes of earlier pushes
# must keep matching their replays (tests/unit/test_push_hash.py).
_SMALL_DECIMAL = b"0.0000"
_SHORT_EXPONENT = re.compile(rb"[0-9]e-[0-9](?![0-9])")


def canonical_hash(raw: Any) -> str:
    """The content of a mutation (parsed JSON: no NaN, no infinity) as canonical JSON,
    hashed: equal content, equal hash."""
    try:
        data: bytes | None = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        data = None
    if data is None or _SMALL_DECIMAL in data or (b"e-" in data and _SHORT_EXPONENT.search(data)):
        data = _json_canonical(raw).encode()
    return hashlib.sha256(data).hexdigest()


def _json_canonical(raw: Any) -> str:
    if _canonical_encoder is not None and type(raw) is dict:
        return "".join(_canonical_encoder(raw, 0))
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class UnitInfo:
    id: int
    ref: str  # scheme:code
    level: str
    parent_id: int | None
    path: str


@dataclass
class HouseholdState:
    id: str
    ward_id: int
    group_id: int | None
    version: int
    data: dict[str, Any]  # HOUSEHOLD_FIELDS, ward and group as refs
    address_norm: str
    first_pos: tuple[float, float] | None
    merged_into: str | None
    counters: Counters = field(default_factory=Counters)
    new: bool = False
    dirty: set[str] = field(default_factory=set)


@dataclass
class VisitState:
    id: str
    household_id: str
    ward_id: int
    group_id: int | None
    canvasser_id: int
    device_id: str
    version: int
    data: dict[str, Any]  # VISIT_FIELDS
    review_status: str
    voided: bool
    flags: list[str]
    order_key: tuple[int, int, str]
    hlc: str = ""
    void_reason: str | None = None
    new: bool = False
    dirty: set[str] = field(default_factory=set)

    def facts(self) -> VisitFacts:
        data = self.data
        # Any: the record's values; VisitFacts gets them only when none is None (all ints).
        counts: dict[str, Any] = {f: data.get(f) for f in COUNT_FIELDS}
        return VisitFacts(
            id=self.id,
            order_key=self.order_key,
            counts=None if None in counts.values() else counts,
            counting=not self.voided and self.review_status != "rejected",
        )


@dataclass(frozen=True)
class RevisionInfo:
    version: int
    previous: dict[str, Any]  # the changed fields' values before this version (JSON types)
    changed: tuple[str, ...]
    author_role: str
    hlc: HLC | None


@dataclass
class PushContext:
    """Everything a batch may read, loaded by the store before planning."""

    device_id: str
    user_id: int
    username: str
    last_mutation_id: int
    ledger: dict[int, tuple[str, dict[str, Any]]]  # mutation id -> (content hash, result)
    scope_paths: tuple[str, ...]  # unit paths the canvasser may write under
    units_by_ref: dict[str, UnitInfo]
    units_by_id: dict[int, UnitInfo]
    households: dict[str, HouseholdState]
    visits: dict[str, VisitState]  # referenced visits and every visit of touched households
    revisions: dict[tuple[str, str], list[RevisionInfo]]
    address_index: dict[tuple[int, str], str]  # (ward id, normalised address) -> household
    canvasser_times: list[datetime]  # visited_at of this canvasser's visits near the batch


@dataclass
class PushPlan:
    results: list[dict[str, Any]] = field(default_factory=list)
    last_mutation_id: int = 0
    ledger_rows: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    counters_changed: set[str] = field(default_factory=set)  # household ids
    skews_ms: list[int] = field(default_factory=list)  # device clock minus server wall time


class _Rejected(Exception):
    def __init__(self, code: str, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.errors = code, message, errors or {}


def _wall_ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


_HANDLERS = {
    "household.upsert": "household_upsert",
    "visit.create": "visit_create",
    "visit.update": "visit_update",
    "visit.void": "visit_void",
}


def change_household_fields(
    ctx: PushContext, household: HouseholdState, values: dict[str, Any]
) -> dict[str, Any]:
    """Write changed data fields on a household with what follows from them (its group's
    id, the normalised address, the first position) and bump its version. Answers the
    fields' previous values, as a revision keeps them."""
    previous = _jsonable({name: household.data.get(name) for name in values})
    household.data.update(values)
    household.dirty.update(values)
    if "group" in values:
        group = ctx.units_by_ref.get(values["group"]) if values["group"] else None
        household.group_id = group.id if group else None
        household.dirty.add("group_id")
    if "address" in values:
        household.address_norm = normalised_address(values["address"])
        household.dirty.add("address_norm")
    lat, lon = household.data.get("lat"), household.data.get("lon")
    if household.first_pos is None and lat is not None and lon is not None:
        household.first_pos = (lat, lon)
        household.dirty.add("first_pos")
    household.version += 1
    household.dirty.add("version")
    return previous


class _Planner:
    def __init__(
        self,
        ctx: PushContext,
        now: datetime,
        clock: HybridClock,
        new_id: Callable[[], str],
    ) -> None:
        self.ctx, self.now, self.clock, self.new_id = ctx, now, clock, new_id
        self.plan = PushPlan(last_mutation_id=ctx.last_mutation_id)
        self.mutation_id = 0  # the one being applied
        self.wall_ms = _wall_ms(now)
        self.latest_visit_time = now + timedelta(milliseconds=MAX_CLOCK_AHEAD_MS)
        # (ward id, group id) -> in scope: units and scope are fixed for the batch, and
        # nearly every mutation asks about the same one or two.
        self.scope: dict[tuple[int, int | None], bool] = {}
        # household id -> its visits: the counter and flag rules look at a household's
        # visits for every visit, and a scan of the whole batch each time is quadratic.
        ctx.canvasser_times.sort()
        self.by_household: dict[str, list[VisitState]] = {}
        for visit in ctx.visits.values():
            self.by_household.setdefault(visit.household_id, []).append(visit)

    # --- shared helpers ------------------------------------------------------------------

    def in_scope(self, ward_id: int, group_id: int | None) -> bool:
        known = self.scope.get((ward_id, group_id))
        if known is None:
            unit = self.ctx.units_by_id.get(group_id if group_id is not None else ward_id)
            known = unit is not None and unit.path.startswith(tuple(self.ctx.scope_paths))
            self.scope[ward_id, group_id] = known
        return known

    def visible(self, household: HouseholdState | None) -> bool:
        """Whether a household exists and lies in the caller's units: only then may an
        answer say anything about it (its ward, that it exists)."""
        return household is not None and self.in_scope(household.ward_id, household.group_id)

    def survivor(self, household_id: str) -> HouseholdState | None:
        seen: set[str] = set()
        household = self.ctx.households.get(household_id)
        while household is not None and household.merged_into and household.id not in seen:
            seen.add(household.id)
            household = self.ctx.households.get(household.merged_into)
        return household

    def revision(
        self, entity: str, record_id: str, *, previous: dict[str, Any], **row: Any
    ) -> None:
        """A revision row: ``previous`` holds the changed fields' values before it."""
        self.plan.revisions.append(
            {"entity": entity, "entity_id": record_id, "data": previous, **row}
        )

    def created(self, entity: str, record_id: str, data: dict[str, Any], hlc: str) -> None:
        """Version 1 by this tablet: which fields it set, and when (nothing to undo)."""
        # The row revision() makes, built in one go: a batch is mostly creations.
        self.plan.revisions.append(
            {
                "entity": entity,
                "entity_id": record_id,
                "data": {},
                "version": 1,
                "changed": sorted(data),
                "author_role": "canvasser",
                "author": self.ctx.username,
                "device_id": self.ctx.device_id,
                "hlc": hlc,
                "at": self.now,
            }
        )

    def conflict(
        self,
        kind: str,
        entity: str,
        record_id: str,
        ward_id: int,
        fields: dict[str, Any],
    ) -> str:
        conflict_id = self.new_id()
        self.plan.conflicts.append(
            {
                "id": conflict_id,
                "kind": kind,
                "entity": entity,
                "entity_id": record_id,
                "ward_id": ward_id,
                "fields": fields,
                "device_id": self.ctx.device_id,
                "mutation_id": self.mutation_id,
                "created_at": self.now,
                "status": "open",
            }
        )
        return conflict_id

    def changes_since(
        self, entity: str, record_id: str, base_version: int
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, HLC]]:
        """(base snapshot, field -> who changed it since base, field -> latest canvasser HLC).

        The base is the record as it is now with the stored versions after ``base_version``
        undone (each revision keeps its fields' previous values), or empty when no stored
        version is at or below ``base_version``. Only stored revisions are history (as when
        whole snapshots were stored): a field changed earlier in this batch alone keeps its
        new value in the base, which nothing reads, since the merge consults the base only
        for fields that stored versions changed (all undone here), and a merged-away
        household, whose whole base the redirect compares, is never changed.
        """
        history = sorted(self.ctx.revisions.get((entity, record_id), ()), key=lambda r: r.version)
        base: dict[str, Any] = {}
        changed: dict[str, str] = {}
        hlcs: dict[str, HLC] = {}
        if history and history[0].version <= base_version:
            state = (self.ctx.households if entity == "household" else self.ctx.visits)[record_id]
            base = _jsonable(state.data)
            for rev in reversed(history):
                if rev.version <= base_version:
                    break
                base.update((k, v) for k, v in rev.previous.items() if k in base)
        for rev in history:
            if rev.version <= base_version:
                continue
            for name in rev.changed:
                if rev.author_role in SUPERVISOR_ROLES:
                    changed[name] = "supervisor"
                else:
                    changed.setdefault(name, "canvasser")
                    if rev.hlc is not None and (name not in hlcs or rev.hlc > hlcs[name]):
                        hlcs[name] = rev.hlc
        return base, changed, hlcs

    def observe(self, mutation: Mutation) -> bool:
        """Merge the device's clock into the server's; True when it is suspect (too far
        ahead), in which case it is not merged: the server's clock never runs ahead."""
        wall = self.wall_ms
        self.plan.skews_ms.append(mutation.hlc.ms - wall)
        if is_suspect(mutation.hlc, wall):
            return True
        self.clock.observe(mutation.hlc, wall)
        return False

    def order_key(self, mutation: Mutation, visited_at: datetime | None = None) -> tuple[HLC, bool]:
        """The HLC a mutation is ordered by, and whether it is suspect: its hlc (or its
        visit's ``visited_at``) more than ``MAX_CLOCK_AHEAD_MS`` past the server's wall
        time. A suspect mutation is ordered by the server's receipt time instead, so that a
        tablet whose clock runs a year ahead does not win every later merge; this HLC is
        also the one its revisions keep, which later merges compare with."""
        ahead = visited_at is not None and visited_at > self.latest_visit_time
        if self.observe(mutation) or ahead:
            return self.clock.now(self.wall_ms), True
        return mutation.hlc, False

    def recount(self, household: HouseholdState) -> None:
        counters = derive_counters([v.facts() for v in self.by_household.get(household.id, ())])
        if counters != household.counters:
            household.counters = counters
            self.plan.counters_changed.add(household.id)

    def flags_for(self, visit: VisitState, household: HouseholdState) -> list[str]:
        flags = [f for f in visit.flags if f in ("clock_suspect", "too_fast")]
        data = visit.data
        lat, lon = data.get("lat"), data.get("lon")
        if lat is not None and lon is not None and gps_far(household.first_pos, (lat, lon)):
            flags.append("gps_far_from_household")
        counts: dict[str, Any] = {f: data.get(f) for f in COUNT_FIELDS}
        if None not in counts.values():
            earlier = [
                v.facts()
                for v in self.by_household.get(household.id, ())
                if v.id != visit.id and v.order_key < visit.order_key
            ]
            if earlier and installed_decreased(counts, earlier, visit.order_key):
                flags.append("installed_decreased")
            if outcome_mismatch(data):
                flags.append("outcome_mismatch")
        return sorted(set(flags))

    # --- one mutation ----------------------------------------------------------------------

    def run(self, raws: list[dict[str, Any]]) -> PushPlan:
        for raw in raws:
            mutation_id = raw["mutation_id"]
            digest = canonical_hash(raw)
            if mutation_id <= self.plan.last_mutation_id:
                self.plan.results.append(self.replay(mutation_id, digest, raw))
                continue
            result = self.apply(raw, mutation_id, digest)
            self.plan.results.append(result)
            self.plan.last_mutation_id = mutation_id
        return self.plan

    def replay(self, mutation_id: int, digest: str, raw: dict[str, Any]) -> dict[str, Any]:
        stored = self.ctx.ledger.get(mutation_id)
        if stored is not None and stored[0] == digest:
            return {**stored[1], "replayed": True}
        return {
            "mutation_id": mutation_id,
            "status": REJECTED,
            "id": raw.get("id") if isinstance(raw.get("id"), str) else None,
            "code": "mutation_id_reused",
            "message": f"Mutation {mutation_id} was already used for different content.",
            "replayed": True,
        }

    def apply(self, raw: dict[str, Any], mutation_id: int, digest: str) -> dict[str, Any]:
        ward_id: int | None = None
        self.mutation_id = mutation_id
        try:
            mutation = parse_mutation(raw)
            result, ward_id = getattr(self, _HANDLERS[mutation.type])(mutation)
            result = {"mutation_id": mutation_id, **result}
            self.ledger(raw, mutation_id, digest, result, ward_id)
            return result
        except SyncError as exc:
            rejected = _Rejected(exc.code, exc.message, exc.errors)
        except _Rejected as exc:
            rejected = exc
        result = {
            "mutation_id": mutation_id,
            "status": REJECTED,
            "id": raw.get("id") if isinstance(raw.get("id"), str) else None,
            "code": rejected.code,
            "message": rejected.message,
        }
        if rejected.errors:
            result["errors"] = rejected.errors
        if ward_id is None:
            ward_id = self.aimed_ward(raw)
        self.ledger(raw, mutation_id, digest, result, ward_id, payload=raw)
        return result

    def aimed_ward(self, raw: dict[str, Any]) -> int | None:
        """The ward a refused mutation was meant for, when it can be told and lies in the
        canvasser's scope: its supervisors then see it among the rejections. Otherwise
        None (the rejection is shown to the supervisors of the canvasser's own wards)."""
        data = raw.get("data")
        if not isinstance(data, dict):
            data = {}
        record_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        household = None
        if record_id in self.ctx.visits:
            visit = self.ctx.visits[record_id]
            return visit.ward_id if self.in_scope(visit.ward_id, visit.group_id) else None
        if isinstance(data.get("household_id"), str):
            household = self.survivor(data["household_id"])
        elif record_id is not None:
            household = self.survivor(record_id)
        if household is not None:
            if self.in_scope(household.ward_id, household.group_id):
                return household.ward_id
            return None
        unit = (
            self.ctx.units_by_ref.get(data["ward"]) if isinstance(data.get("ward"), str) else None
        )
        if unit is not None and unit.level == "ward" and self.in_scope(unit.id, None):
            return unit.id
        return None

    def ledger(
        self,
        raw: dict[str, Any],
        mutation_id: int,
        digest: str,
        result: dict[str, Any],
        ward_id: int | None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        self.plan.ledger_rows.append(
            {
                "device_id": self.ctx.device_id,
                "mutation_id": mutation_id,
                "type": _ledger_type(raw.get("type")),
                "entity_id": _ledger_id(raw.get("id")),
                "content_hash": digest,
                "status": result["status"],
                "code": result.get("code"),
                "result": result,
                "payload": payload,
                "user_id": self.ctx.user_id,
                "ward_id": ward_id,
                "received_at": self.now,
            }
        )

    # --- households ------------------------------------------------------------------------

    def resolve_units(self, data: dict[str, Any], ward_ref: str) -> tuple[int, int | None]:
        ward = self.ctx.units_by_ref.get(ward_ref)
        if ward is None or ward.level != "ward":
            raise _Rejected(
                "validation_failed", "Unknown ward.", {"ward": [f"No ward {ward_ref}."]}
            )
        group_id = None
        group_ref = data.get("group")
        if group_ref is not None:
            group = self.ctx.units_by_ref.get(group_ref)
            if group is None or group.level != "group" or group.parent_id != ward.id:
                raise _Rejected(
                    "validation_failed",
                    "Unknown group.",
                    {"group": [f"No residential group {group_ref} in {ward_ref}."]},
                )
            group_id = group.id
        return ward.id, group_id

    def household_upsert(self, m: Mutation) -> tuple[dict[str, Any], int | None]:
        existing = self.ctx.households.get(m.id)
        if not m.base_version and existing is None:
            return self.household_create(m)
        if existing is None or not self.visible(self.survivor(m.id)):
            # A household outside the caller's units is answered as one that does not
            # exist, so that nothing about other wards' households can be learnt.
            if m.base_version:
                raise _Rejected("household_unknown", f"Household {m.id} is unknown.")
            clean_household(m.data, creating=True)  # its data's faults first, as for any
            raise _id_taken()
        data = clean_household(m.data, creating=False) if m.base_version else None
        if data is None:
            # A creation of a household that exists (a reinstalled tablet sending it again):
            # an update against an empty base, so differing fields become conflicts.
            data = clean_household(m.data, creating=True)
            if data.pop("ward") != existing.data["ward"]:
                raise _Rejected(
                    "validation_failed",
                    "A household cannot move to another ward.",
                    {"ward": ["Differs from the household's ward."]},
                )
        household = self.survivor(m.id)
        assert household is not None  # visible, checked above
        redirected = household.id != m.id
        if "group" in data:
            _, group_id = self.resolve_units(data, household.data["ward"])
            if not self.in_scope(household.ward_id, group_id):
                raise _Rejected("forbidden_ward", "That group is outside your units.")
        base_version = m.base_version or 0
        if not redirected and base_version > household.version:
            raise _Rejected(
                "validation_failed",
                "base_version is ahead of the household.",
                {"base_version": [f"The household is at version {household.version}."]},
            )
        if redirected:
            # The tablet's base is a version of the merged-away household: every field in
            # which the survivor differs from that base counts as changed on the server.
            base, _, _ = self.changes_since("household", m.id, base_version)
            _, _, hlcs = self.changes_since("household", household.id, 0)
            changed = {
                k: "canvasser" for k in HOUSEHOLD_FIELDS if household.data.get(k) != base.get(k)
            }
            stale = True
        else:
            base, changed, hlcs = self.changes_since("household", household.id, base_version)
            stale = base_version < household.version
        order, suspect = self.order_key(m)
        merge = merge_update(
            base=base,
            server=household.data,
            client=data,
            server_changed=changed,
            server_hlcs=hlcs,
            client_hlc=order,
            stale=stale,
        )
        if merge.apply:
            self.change_household(household, merge.apply, order)
        result: dict[str, Any] = {"id": household.id, "version": household.version}
        if merge.conflicts:
            result["status"] = CONFLICT
            result["conflict_id"] = self.conflict(
                "field_conflict",
                "household",
                household.id,
                household.ward_id,
                merge.conflicts,
            )
        elif stale and merge.merged_fields:
            result["status"] = MERGED
            result["merged_fields"] = merge.merged_fields
        else:
            result["status"] = APPLIED
        if redirected:
            result["status"] = REDIRECTED
            result["redirected_to"] = household.id
        if suspect:
            result["flags"] = ["clock_suspect"]
        return result, household.ward_id

    def household_create(self, m: Mutation) -> tuple[dict[str, Any], int | None]:
        data = clean_household(m.data, creating=True)
        ward_id, group_id = self.resolve_units(data, data["ward"])
        if not self.in_scope(ward_id, group_id):
            raise _Rejected("forbidden_ward", "This ward or group is outside your units.")
        values = {name: data.get(name) for name in HOUSEHOLD_FIELDS}
        position = None
        if values["lat"] is not None and values["lon"] is not None:
            position = (values["lat"], values["lon"])
        norm = normalised_address(values["address"])
        household = HouseholdState(
            id=m.id,
            ward_id=ward_id,
            group_id=group_id,
            version=1,
            data=values,
            address_norm=norm,
            first_pos=position,
            merged_into=None,
            new=True,
        )
        duplicate_of = self.ctx.address_index.get((ward_id, norm))
        self.ctx.households[m.id] = household
        self.ctx.address_index.setdefault((ward_id, norm), m.id)
        order, suspect = self.order_key(m)
        self.created("household", m.id, data, format_hlc(order))
        result: dict[str, Any] = {"status": APPLIED, "id": m.id, "version": 1}
        if suspect:
            result["flags"] = ["clock_suspect"]
        if duplicate_of is not None and duplicate_of != m.id:
            result["status"] = CONFLICT
            result["conflict_id"] = self.conflict(
                "possible_duplicate",
                "household",
                m.id,
                ward_id,
                {"address": {"base": None, "server": duplicate_of, "client": m.id}},
            )
        return result, ward_id

    def change_household(
        self, household: HouseholdState, values: dict[str, Any], order: HLC
    ) -> None:
        previous = change_household_fields(self.ctx, household, values)
        self.revision(
            "household",
            household.id,
            version=household.version,
            previous=previous,
            changed=sorted(values),
            author_role="canvasser",
            author=self.ctx.username,
            device_id=self.ctx.device_id,
            hlc=format_hlc(order),
            at=self.now,
        )

    # --- visits ----------------------------------------------------------------------------

    def visit_create(self, m: Mutation) -> tuple[dict[str, Any], int | None]:
        data = clean_visit(m.data, creating=True)
        values: dict[str, Any] = {name: data.get(name) for name in VISIT_FIELDS}
        problems = count_errors(values)
        if problems:
            raise _Rejected("validation_failed", "The counts do not add up.", problems)
        household = self.survivor(values["household_id"])
        existing = self.ctx.visits.get(m.id)
        if (
            existing is not None
            and existing.canvasser_id == self.ctx.user_id
            and household is not None
            and self.survivor(existing.household_id) is household
        ):
            # The canvasser's own visit sent again under a new mutation id (a reinstalled
            # tablet): never a second visit, and nothing changes.
            return {"status": APPLIED, "id": m.id, "version": existing.version}, existing.ward_id
        if not self.visible(household):
            # Unknown and outside the caller's units are answered alike (no ward is named).
            raise _Rejected("household_unknown", f"Household {values['household_id']} is unknown.")
        assert household is not None  # visible
        if existing is not None:
            # Another visit has this id (another canvasser's, in any ward): refused, with
            # the same answer whoever's it is, and its data is never touched.
            raise _id_taken()
        redirected = household.id != values["household_id"]
        values["household_id"] = household.id
        order, suspect = self.order_key(m, values["visited_at"])
        visit = VisitState(
            id=m.id,
            household_id=household.id,
            ward_id=household.ward_id,
            group_id=household.group_id,
            canvasser_id=self.ctx.user_id,
            device_id=self.ctx.device_id,
            version=1,
            data=values,
            review_status="pending",
            voided=False,
            flags=["clock_suspect"] if suspect else [],
            order_key=(order.ms, order.counter, order.node),
            hlc=format_hlc(m.hlc),  # as the tablet sent it; order_key is what orders it
            new=True,
        )
        if too_fast(self.previous_visit_time(values["visited_at"]), values["visited_at"]):
            visit.flags.append("too_fast")
        bisect.insort(self.ctx.canvasser_times, values["visited_at"])
        visit.flags = self.flags_for(visit, household)
        self.ctx.visits[m.id] = visit
        self.by_household.setdefault(household.id, []).append(visit)
        self.recount(household)
        self.created("visit", m.id, data, format_hlc(order))
        result: dict[str, Any] = {"status": APPLIED, "id": m.id, "version": 1}
        if visit.flags:
            result["flags"] = visit.flags
        if redirected:
            result["status"] = REDIRECTED
            result["redirected_to"] = household.id
        return result, household.ward_id

    def previous_visit_time(self, visited_at: datetime) -> datetime | None:
        times = self.ctx.canvasser_times
        index = bisect.bisect_right(times, visited_at)
        return times[index - 1] if index else None

    def editable_visit(self, m: Mutation) -> VisitState:
        visit = self.ctx.visits.get(m.id)
        own = visit is not None and visit.device_id == self.ctx.device_id
        if visit is None or (not own and not self.in_scope(visit.ward_id, visit.group_id)):
            # Another device's visit outside the caller's units is answered as an unknown
            # one: "not_author" would tell that it exists.
            raise _Rejected("validation_failed", "Unknown visit.", {"id": ["No such visit."]})
        if not own:
            raise _Rejected("not_author", "Only the device that recorded a visit may change it.")
        if not self.in_scope(visit.ward_id, visit.group_id):
            raise _Rejected("forbidden_ward", "This visit is outside your units.")
        return visit

    def locked(self, visit: VisitState, m: Mutation, client: dict[str, Any]) -> None:
        if visit.review_status in LOCKED_REVIEW_STATES:
            fields = {
                k: {"base": None, "server": _jsonable_value(visit.data.get(k)), "client": v}
                for k, v in _jsonable(client).items()
            }
            self.conflict("visit_locked", "visit", visit.id, visit.ward_id, fields)
            raise _Rejected(
                "visit_locked", f"A supervisor has {visit.review_status} this visit already."
            )

    def visit_update(self, m: Mutation) -> tuple[dict[str, Any], int | None]:
        visit = self.editable_visit(m)
        data = clean_visit(m.data, creating=False)
        self.locked(visit, m, data)
        household = self.ctx.households[visit.household_id]
        if visit.voided:
            fields = {k: {"base": None, "server": None, "client": v} for k, v in data.items()}
            conflict_id = self.conflict(
                "void_vs_edit", "visit", visit.id, visit.ward_id, _jsonable(fields)
            )
            result: dict[str, Any] = {"status": CONFLICT, "id": visit.id, "version": visit.version}
            return {**result, "conflict_id": conflict_id}, visit.ward_id
        base_version = m.base_version or 0
        if base_version > visit.version:
            raise _Rejected(
                "validation_failed",
                "base_version is ahead of the visit.",
                {"base_version": [f"The visit is at version {visit.version}."]},
            )
        base, changed, hlcs = self.changes_since("visit", visit.id, base_version)
        stale = base_version < visit.version
        order, suspect = self.order_key(m, data.get("visited_at"))
        merge = merge_update(
            base=_parsed(base),
            server=visit.data,
            client=data,
            server_changed=changed,
            server_hlcs=hlcs,
            client_hlc=order,
            stale=stale,
        )
        after = {**visit.data, **merge.apply}
        problems = count_errors(after)
        if problems:
            raise _Rejected("validation_failed", "The counts do not add up.", problems)
        if suspect and "clock_suspect" not in visit.flags:
            visit.flags = sorted([*visit.flags, "clock_suspect"])
            visit.dirty.add("flags")
        if merge.apply:
            self.change_visit(visit, household, merge.apply, "canvasser", order)
        result = {"id": visit.id, "version": visit.version}
        if merge.conflicts:
            result["status"] = CONFLICT
            result["conflict_id"] = self.conflict(
                "field_conflict", "visit", visit.id, visit.ward_id, _jsonable(merge.conflicts)
            )
        elif stale and merge.merged_fields:
            result["status"] = MERGED
            result["merged_fields"] = merge.merged_fields
        else:
            result["status"] = APPLIED
        if visit.flags:
            result["flags"] = visit.flags
        return result, visit.ward_id

    def change_visit(
        self,
        visit: VisitState,
        household: HouseholdState,
        values: dict[str, Any],
        author_role: str,
        order: HLC | None,
        author: str | None = None,
    ) -> None:
        """Change a visit's data fields: ``order`` is the tablet's edit's ordering HLC, or
        None for a supervisor's correction."""
        previous = _jsonable({name: visit.data.get(name) for name in values})
        visit.data.update(values)
        visit.dirty.update(values)
        visit.version += 1
        visit.dirty.add("version")
        flags = self.flags_for(visit, household)
        if flags != visit.flags:
            visit.flags = flags
            visit.dirty.add("flags")
        self.recount(household)
        self.revision(
            "visit",
            visit.id,
            version=visit.version,
            previous=previous,
            changed=sorted(values),
            author_role=author_role,
            author=author or self.ctx.username,
            device_id=self.ctx.device_id if order else None,
            hlc=format_hlc(order) if order else None,
            at=self.now,
        )

    def visit_void(self, m: Mutation) -> tuple[dict[str, Any], int | None]:
        visit = self.editable_visit(m)
        unknown = sorted(set(m.data) - {"reason"})
        reason = m.data.get("reason")
        if unknown or (reason is not None and (not isinstance(reason, str) or len(reason) > 500)):
            errors = {k: ["Unknown field."] for k in unknown}
            if not unknown:
                errors["reason"] = ["A text of at most 500 characters."]
            raise _Rejected("validation_failed", "Invalid void.", errors)
        self.locked(visit, m, {"voided": True})
        if visit.voided:
            return {"status": APPLIED, "id": visit.id, "version": visit.version}, visit.ward_id
        # A void wins whatever its time; its revision keeps the HLC it is ordered by.
        order, _ = self.order_key(m)
        household = self.ctx.households[visit.household_id]
        base_version = m.base_version or 0
        edited = base_version < visit.version
        visit.voided = True
        visit.void_reason = reason
        visit.version += 1
        visit.dirty.update({"voided", "void_reason", "version"})
        self.recount(household)
        self.revision(
            "visit",
            visit.id,
            version=visit.version,
            previous={"voided": False},
            changed=["voided"],
            author_role="canvasser",
            author=self.ctx.username,
            device_id=self.ctx.device_id,
            hlc=format_hlc(order),
            at=self.now,
        )
        result: dict[str, Any] = {"status": APPLIED, "id": visit.id, "version": visit.version}
        if edited:
            # The void wins over edits made since the tablet's base; the supervisor is told.
            _, changed, _ = self.changes_since("visit", visit.id, base_version)
            fields = {
                name: {
                    "base": None,
                    "server": _jsonable_value(visit.data.get(name)),
                    "client": "void",
                }
                for name in changed
                if name != "voided"
            }
            result["status"] = CONFLICT
            result["conflict_id"] = self.conflict(
                "void_vs_edit", "visit", visit.id, visit.ward_id, fields
            )
        return result, visit.ward_id


# The field error of a mutation whose id another record has, whoever's and wherever it is.
ID_TAKEN = "Already used by another record."


def _id_taken() -> _Rejected:
    return _Rejected("validation_failed", "The mutation is invalid.", {"id": [ID_TAKEN]})


def _ledger_type(kind: Any) -> str:
    """A mutation's type as the ledger keeps it (shown with a rejection): the text sent, or
    the JSON of anything else, within the column and without NUL (PostgreSQL's text
    cannot hold it)."""
    text = kind if isinstance(kind, str) else json.dumps(kind, ensure_ascii=False)
    return text.replace(NUL, "\ufffd")[:32]


def _ledger_id(record_id: Any) -> str | None:
    """A mutation's id as the ledger keeps it: a text that fits the column and PostgreSQL's
    text (no NUL), else None (the payload kept with a rejection still holds it)."""
    if isinstance(record_id, str) and len(record_id) <= 64 and NUL not in record_id:
        return record_id
    return None


def plan_push(
    ctx: PushContext,
    raws: list[dict[str, Any]],
    *,
    now: datetime,
    clock: HybridClock,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> PushPlan:
    """Apply a batch (already checked: objects with consecutive integer mutation ids, the
    first at or below last_mutation_id + 1) to the context; return what to write."""
    return _Planner(ctx, now, clock, new_id).run(raws)


def check_batch_start(first_mutation_id: int, last_mutation_id: int) -> None:
    """A batch whose first new mutation would leave a gap is refused whole."""
    expected = last_mutation_id + 1
    if first_mutation_id > expected:
        raise SyncError(
            "mutation_gap",
            f"Expected mutation {expected} next, got {first_mutation_id}.",
            details={"expected": expected, "got": first_mutation_id},
        )


def _jsonable_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (_jsonable(v) if isinstance(v, dict) else _jsonable_value(v)) for k, v in values.items()
    }


def _parsed(values: dict[str, Any]) -> dict[str, Any]:
    """Bases hold times as text (as revisions store them); compare them as times."""
    parsed = dict(values)
    for name in ("visited_at", "come_back_at"):
        if isinstance(parsed.get(name), str):
            parsed[name] = datetime.fromisoformat(parsed[name].replace("Z", "+00:00"))
    return parsed


def plan_correction(
    ctx: PushContext,
    visit_id: str,
    base_version: int,
    data: dict[str, Any],
    *,
    now: datetime,
    author: str,
    author_role: str,
) -> tuple[PushPlan, VisitState]:
    """A supervisor's correction of a visit (docs/api-supervision.md PATCH /visits/{id}).

    Refused with ``version_conflict`` when the visit moved past ``base_version``; the
    counts rules apply to the corrected visit as a whole. Tablets pull the result, and a
    later tablet edit of the same field loses to it (domain/rules.merge_update).
    """
    visit = ctx.visits[visit_id]
    if base_version != visit.version:
        raise SyncError(
            "version_conflict",
            f"The visit is at version {visit.version}, not {base_version}.",
            details={"base_version": base_version, "version": visit.version},
        )
    cleaned = clean_visit(data, creating=False)
    problems = count_errors({**visit.data, **cleaned})
    if problems:
        raise SyncError("validation_failed", "The counts do not add up.", errors=problems)
    changed = {k: v for k, v in cleaned.items() if visit.data.get(k) != v}
    planner = _Planner(ctx, now, HybridClock("server"), lambda: str(uuid.uuid4()))
    if changed:
        household = ctx.households[visit.household_id]
        planner.change_visit(visit, household, changed, author_role, None, author=author)
    return planner.plan, visit
