"""Conflicts (API §5): what the merge rules left to a supervisor. List them, resolve one
(keep the server's values, take the tablet's, or set values), or dismiss one.

A resolution that changes the record goes through the push planner's path (domain/conflicts.py
on a loaded ``PushContext``, written by ``write_push``): a new version with a supervisor's
revision, household counters re-derived, figures settled, and the change stamped so that
tablets pull it. Closing a conflict takes one from the ward's open conflicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify

from domain.conflicts import Resolution, resolution_changes, resolve_household, resolve_visit
from domain.records import SyncError
from schemas.conflicts import ConflictListQuery, ResolveSchema, dump_conflict

from ..auth.principal import Principal
from ..auth.scope import current_principal, current_scope, ensure_unit_in_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..extensions import db
from ..models import Conflict, Unit, Visit, utcnow
from ..paging import decode_cursor, page
from ..parsing import parse_body, parse_empty_body, parse_query
from ..store import audit, figures
from ..store import conflicts as conflict_store
from ..store import sync as sync_store
from ..store.engine import write_transaction
from ..store.units import get_unit_by_ref
from . import bp


def _timezone() -> str:
    return str(current_app.config["TIMEZONE"])


def scope_roots(ward_ref: str | None) -> list[str] | None:
    """Unit paths a list is limited to (None: everything), 404 for a unit out of scope."""
    if ward_ref:
        return [ensure_unit_in_scope(get_unit_by_ref(ward_ref)).path]
    scope = current_scope()
    return None if scope.everything else [path for _, path in scope.roots]


def _cursor_position(cursor: str | None) -> tuple[datetime, str] | None:
    position = decode_cursor("conflicts", cursor)
    if position is None:
        return None
    try:
        created, last_id = position
        return datetime.fromisoformat(created), str(last_id)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


@bp.get("/conflicts")
@requires("conflicts.read")
def list_conflicts() -> Response:
    query = parse_query(ConflictListQuery())
    after = _cursor_position(query["cursor"])
    rows, has_more = conflict_store.list_conflicts(
        roots=scope_roots(query["ward"]),
        status=query["status"],
        kind=query["kind"],
        after=after,
        limit=query["limit"],
    )
    items = [dump_conflict(conflict, ward_ref) for conflict, ward_ref in rows]
    last = [rows[-1][0].created_at.isoformat(), rows[-1][0].id] if rows else None
    return jsonify(page(items, kind="conflicts", last_position=last, has_more=has_more))


def _open_conflict(conflict_id: str) -> tuple[Conflict, Unit]:
    """The conflict, locked: 404 when unknown or outside the caller's wards, 409 when it is
    not open any more."""
    found = conflict_store.conflict_for_update(conflict_id)
    if found is None or not current_scope().covers(found[1].path):
        raise ApiError("not_found")
    conflict, _ = found
    if conflict.status != "open":
        raise ApiError("conflict_closed", details={"status": conflict.status})
    return found


def _write_resolution(
    conflict: Conflict, resolution: Resolution, principal: Principal, now: datetime
) -> int | None:
    """Write the resolution on its record like a supervisor's correction; the record's
    version after it."""
    common = {"now": now, "author": principal.username, "author_role": principal.role}
    if conflict.entity == "visit":
        visit = db.session.get(Visit, conflict.entity_id)
        if visit is None:
            raise ApiError("not_found")
        context = sync_store.load_push_context(
            device_id=visit.device_id,
            last_mutation_id=0,
            user_id=principal.user_id,
            username=principal.username,
            raws=[{"type": "visit.update", "id": visit.id, "data": {}}],
            scope_paths=(),
        )
        before = figures.measure(context, _timezone())
        plan = resolve_visit(context, visit.id, resolution, **common)  # type: ignore[arg-type]
        version = context.visits[visit.id].version
    else:
        group = resolution.values.get("group")
        context = sync_store.load_push_context(
            device_id=conflict.device_id or "",
            last_mutation_id=0,
            user_id=principal.user_id,
            username=principal.username,
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
        before = figures.measure(context, _timezone())
        plan = resolve_household(
            context,
            conflict.entity_id,
            resolution,
            **common,  # type: ignore[arg-type]
        )
        version = context.households[conflict.entity_id].version
    sync_store.write_push(context, plan, None, now, figures_before=before, timezone=_timezone())
    return version


@bp.post("/conflicts/<conflict_id>/resolve")
@requires("conflicts.write")
def resolve_conflict(conflict_id: str) -> Response:
    body = parse_body(ResolveSchema())
    principal = current_principal()
    now = utcnow()
    with write_transaction():
        conflict, ward = _open_conflict(conflict_id)
        try:
            resolution = resolution_changes(
                conflict.kind,
                conflict.entity,
                conflict_store.fields_of(conflict),
                body["resolution"],
                body["values"],
            )
            version = (
                _write_resolution(conflict, resolution, principal, now)
                if resolution.changes_record
                else None
            )
        except SyncError as exc:
            raise ApiError(exc.code, errors=exc.errors, details=exc.details) from None
        conflict_store.close(conflict, status="resolved", at=now, by=principal.username)
        figures.adjust_open_conflicts({conflict.ward_id: -1})
        details: dict[str, Any] = {
            "resolution": body["resolution"],
            "entity": conflict.entity,
            "entity_id": conflict.entity_id,
            "kind": conflict.kind,
        }
        if resolution.values:
            details["values"] = resolution.values
        if resolution.voided is not None:
            details["voided"] = resolution.voided
        if version is not None:
            details["version"] = version
        audit.record(
            action="conflict.resolve",
            actor=principal.username,
            target=conflict.id,
            client_address=client_address(),
            at=now,
            details=details,
        )
        payload = dump_conflict(conflict, ward.ref)
    return jsonify(payload)


@bp.post("/conflicts/<conflict_id>/dismiss")
@requires("conflicts.write")
def dismiss_conflict(conflict_id: str) -> Response:
    parse_empty_body()
    principal = current_principal()
    now = utcnow()
    with write_transaction():
        conflict, ward = _open_conflict(conflict_id)
        conflict_store.close(conflict, status="dismissed", at=now, by=principal.username)
        figures.adjust_open_conflicts({conflict.ward_id: -1})
        audit.record(
            action="conflict.dismiss",
            actor=principal.username,
            target=conflict.id,
            client_address=client_address(),
            at=now,
            details={
                "entity": conflict.entity,
                "entity_id": conflict.entity_id,
                "kind": conflict.kind,
            },
        )
        payload = dump_conflict(conflict, ward.ref)
    return jsonify(payload)
