"""Conflicts: what the merge rules left to a supervisor. List them, read one, resolve one (keep the
server's values, take the tablet's, or set values), or dismiss one.

A resolution that changes the record goes through the push planner's path
(domain/conflicts.py on a loaded ``PushContext``, written by ``store.sync.write_push``): a new
version with a supervisor's revision, household counters re-derived, figures settled, and the
change stamped so that tablets pull it. Closing a conflict takes one from the ward's open
conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.conflicts import Resolution, resolution_changes, resolve_household, resolve_visit

from ..errors import ApiError
from ..models import Conflict, Unit
from ..store import conflicts as conflict_store
from ..store import figures, visit_queries
from ..store import sync as sync_store
from .context import Caller, Page
from .scoping import roots_under
from .writes import Write, run_write


@dataclass(frozen=True)
class ConflictInfo:
    id: str
    kind: str
    entity: str  # household or visit
    entity_id: str
    ward: str  # scheme:code
    fields: dict[str, Any]  # field -> {base, server, client}
    device_id: str | None
    mutation_id: int | None
    created_at: datetime
    status: str
    resolved_at: datetime | None
    resolved_by: str | None


def _info(conflict: Conflict, ward_ref: str) -> ConflictInfo:
    return ConflictInfo(
        id=conflict.id,
        kind=conflict.kind,
        entity=conflict.entity,
        entity_id=conflict.entity_id,
        ward=ward_ref,
        fields=conflict_store.fields_of(conflict),
        device_id=conflict.device_id,
        mutation_id=conflict.mutation_id,
        created_at=conflict.created_at,
        status=conflict.status,
        resolved_at=conflict.resolved_at,
        resolved_by=conflict.resolved_by,
    )


def _position(raw: Any) -> tuple[datetime, str] | None:
    """A decoded cursor back to (created_at, id); cursor_invalid when it is not one."""
    if raw is None:
        return None
    try:
        created, last_id = raw
        return datetime.fromisoformat(created), str(last_id)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


def list_conflicts(
    caller: Caller,
    *,
    ward: str | None,
    status: str | None,
    kind: str | None,
    after: Any,
    limit: int,
) -> Page:
    """A page of the conflicts in the caller's units (or under ``ward``), newest first."""
    position = _position(after)
    rows, has_more = conflict_store.list_conflicts(
        roots=roots_under(caller, ward), status=status, kind=kind, after=position, limit=limit
    )
    last = [rows[-1][0].created_at.isoformat(), rows[-1][0].id] if rows else None
    return Page([_info(conflict, ward_ref) for conflict, ward_ref in rows], last, has_more)


def get_conflict(caller: Caller, conflict_id: str) -> ConflictInfo:
    """One conflict, whatever its status: 404 when unknown or outside the caller's wards
    (the list would not show it either)."""
    found = conflict_store.conflict_with_ward(conflict_id)
    if found is None or not caller.scope.covers(found[1].path):
        raise ApiError("not_found")
    conflict, ward = found
    return _info(conflict, ward.ref)


def _open_conflict(caller: Caller, conflict_id: str) -> tuple[Conflict, Unit]:
    """The conflict, locked: 404 when unknown or outside the caller's wards, 409 when it is
    not open any more."""
    found = conflict_store.conflict_for_update(conflict_id)
    if found is None or not caller.scope.covers(found[1].path):
        raise ApiError("not_found")
    conflict, _ = found
    if conflict.status != "open":
        raise ApiError("conflict_closed", details={"status": conflict.status})
    return found


def _write_resolution(
    caller: Caller, conflict: Conflict, resolution: Resolution, now: datetime, timezone: str
) -> int | None:
    """Write the resolution on its record like a supervisor's correction; the record's
    version after it."""
    common: dict[str, Any] = {"now": now, "author": caller.username, "author_role": caller.role}
    # Only a push's new records and ledger rows name the user; a resolution writes none.
    user_id = caller.user_id if caller.user_id is not None else 0
    if conflict.entity == "visit":
        found = visit_queries.visit_with_ward_path(conflict.entity_id)
        if found is None:
            raise ApiError("not_found")
        visit = found[0]
        context = sync_store.load_push_context(
            device_id=visit.device_id,
            last_mutation_id=0,
            user_id=user_id,
            username=caller.username,
            raws=[{"type": "visit.update", "id": visit.id, "data": {}}],
            scope_paths=(),
        )
        before = figures.measure(context, timezone)
        plan = resolve_visit(context, visit.id, resolution, **common)
        version = context.visits[visit.id].version
    else:
        group = resolution.values.get("group")
        context = sync_store.load_push_context(
            device_id=conflict.device_id or "",
            last_mutation_id=0,
            user_id=user_id,
            username=caller.username,
            raws=[
                {
                    "type": "household.upsert",
                    "id": conflict.entity_id,
                    "data": {"group": group} if isinstance(group, str) else {},
                }
            ],
            scope_paths=(),
        )
        if conflict.entity_id not in context.households:
            raise ApiError("not_found")
        before = figures.measure(context, timezone)
        plan = resolve_household(context, conflict.entity_id, resolution, **common)
        version = context.households[conflict.entity_id].version
    sync_store.write_push(context, plan, None, now, figures_before=before, timezone=timezone)
    return version


def resolve_conflict(
    caller: Caller,
    conflict_id: str,
    *,
    resolution: str,
    values: dict[str, Any] | None,
    now: datetime,
    timezone: str,
) -> ConflictInfo:
    """Resolve an open conflict: keep the server's values, take the tablet's, or set values
    (written on the record like a correction); the conflict as it is after."""

    def work(write: Write) -> ConflictInfo:
        conflict, ward = _open_conflict(caller, conflict_id)
        chosen = resolution_changes(
            conflict.kind,
            conflict.entity,
            conflict_store.fields_of(conflict),
            resolution,
            values,
        )
        version = (
            _write_resolution(caller, conflict, chosen, now, timezone)
            if chosen.changes_record
            else None
        )
        conflict_store.close(conflict, status="resolved", at=now, by=caller.username)
        figures.adjust_open_conflicts({conflict.ward_id: -1})
        details: dict[str, Any] = {
            "resolution": resolution,
            "entity": conflict.entity,
            "entity_id": conflict.entity_id,
            "kind": conflict.kind,
        }
        if chosen.values:
            details["values"] = chosen.values
        if chosen.voided is not None:
            details["voided"] = chosen.voided
        if version is not None:
            details["version"] = version
        write.audit("conflict.resolve", conflict.id, details)
        return _info(conflict, ward.ref)

    return run_write(caller, now, work, timezone=timezone)


def dismiss_conflict(caller: Caller, conflict_id: str, *, now: datetime) -> ConflictInfo:
    """Close an open conflict without changing its record; the conflict as it is after."""

    def work(write: Write) -> ConflictInfo:
        conflict, ward = _open_conflict(caller, conflict_id)
        conflict_store.close(conflict, status="dismissed", at=now, by=caller.username)
        figures.adjust_open_conflicts({conflict.ward_id: -1})
        write.audit(
            "conflict.dismiss",
            conflict.id,
            {"entity": conflict.entity, "entity_id": conflict.entity_id, "kind": conflict.kind},
        )
        return _info(conflict, ward.ref)

    return run_write(caller, now, work)
