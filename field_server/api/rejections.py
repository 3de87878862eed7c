"""Rejected mutations (API §4.1, §5): list those a supervisor has not re-applied yet, and
re-apply one, corrected.

A rejection's id is ``<device_id>:<mutation_id>`` (for example
``5b0c…-9f1e:42``), the key of the device's ledger row.

Re-applying runs the stored mutation (its ``data`` replaced by the body's when given)
through the push planner exactly as the device's owner would push it now: their units, the
same merge rules, the same results. It is planned as a one-mutation batch placed where the
original was consumed, and the planner's ledger row is dropped: the device's numbering
(``last_mutation_id``) and the ledger's stored answer are never touched, so the tablet's
own replays are answered as before. Success marks the rejection resolved; a second
refusal is 422 ``mutation_rejected`` and changes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, jsonify

from domain.push import plan_push
from domain.records import REJECTED
from schemas.rejections import (
    ApplySchema,
    RejectionListQuery,
    dump_rejection,
    parse_rejection_id,
)
from schemas.rejections import rejection_id as make_rejection_id

from ..auth.scope import current_principal, current_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..models import utcnow
from ..paging import decode_cursor, page
from ..parsing import parse_body, parse_query
from ..store import audit, figures
from ..store import rejections as rejection_store
from ..store import sync as sync_store
from ..store.engine import write_transaction
from ..store.units import assigned_roots
from . import bp
from .conflicts import scope_roots
from .sync import _clock_lock, server_clock


def _timezone() -> str:
    return str(current_app.config["TIMEZONE"])


def _cursor_position(cursor: str | None) -> tuple[datetime, str, int] | None:
    position = decode_cursor("rejections", cursor)
    if position is None:
        return None
    try:
        received, device_id, mutation_id = position
        return datetime.fromisoformat(received), str(device_id), int(mutation_id)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


@bp.get("/rejections")
@requires("rejections.read")
def list_rejections() -> Response:
    query = parse_query(RejectionListQuery())
    after = _cursor_position(query["cursor"])
    rows, has_more = rejection_store.list_rejections(
        roots=scope_roots(query["ward"]), after=after, limit=query["limit"], now=utcnow()
    )
    items = [dump_rejection(row, username, ward) for row, username, ward in rows]
    last = None
    if rows:
        row = rows[-1][0]
        last = [row.received_at.isoformat(), row.device_id, row.mutation_id]
    return jsonify(page(items, kind="rejections", last_position=last, has_more=has_more))


@bp.post("/rejections/<rejection_id>/apply")
@requires("rejections.write")
def apply_rejection(rejection_id: str) -> Response:
    body = parse_body(ApplySchema())
    principal = current_principal()
    scope = current_scope()
    roots = None if scope.everything else [path for _, path in scope.roots]
    parsed = parse_rejection_id(rejection_id)
    if parsed is None:
        raise ApiError("not_found")
    now = utcnow()
    with write_transaction():
        found = rejection_store.rejection_for_update(*parsed, roots=roots, now=now)
        if found is None:
            raise ApiError("not_found")
        row, owner, ward = found
        if row.resolved_at is not None:
            raise ApiError("rejection_resolved", details={"resolved_by": row.resolved_by})
        raw: dict[str, Any] = _stored_mutation(row.payload)
        if body["data"] is not None:
            raw["data"] = body["data"]
        raw["mutation_id"] = row.mutation_id
        grace = timedelta(days=current_app.config["ASSIGNMENT_GRACE_DAYS"])
        context = sync_store.load_push_context(
            device_id=row.device_id,
            last_mutation_id=row.mutation_id - 1,
            user_id=owner.id,
            username=owner.username,
            raws=[raw],
            scope_paths=tuple(path for _, path in assigned_roots(owner.id, now - grace)),
        )
        before = figures.measure(context, _timezone())
        with _clock_lock:
            plan = plan_push(context, [raw], now=now, clock=server_clock())
        result = plan.results[0]
        if result["status"] == REJECTED:
            raise ApiError(
                "mutation_rejected",
                errors=result.get("errors") or {},
                details={"reason": result.get("code"), "reason_message": result.get("message")},
            )
        # The original ledger row stays the device's answer for this mutation id.
        plan.ledger_rows = []
        sync_store.write_push(context, plan, None, now, figures_before=before, timezone=_timezone())
        row.resolved_at = now
        row.resolved_by = principal.username
        audit.record(
            action="rejection.apply",
            actor=principal.username,
            target=make_rejection_id(row.device_id, row.mutation_id),
            client_address=client_address(),
            at=now,
            details={
                "owner": owner.username,
                "type": row.type,
                "code": row.code,
                "status": result["status"],
                "corrected": body["data"] is not None,
            },
        )
        payload = dump_rejection(row, owner.username, ward.ref if ward else None)
    return jsonify({**payload, "result": result})


def _stored_mutation(text: str | None) -> dict[str, Any]:
    """The stored payload as a mutation object (an unreadable one is an empty mutation,
    which the planner rejects again)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}
