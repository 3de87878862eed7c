"""Rejected mutations (docs/api-conflicts.md): list those a supervisor has not re-applied
yet, and re-apply one, corrected.

A rejection's id is ``<device_id>:<mutation_id>`` (for example ``5b0c…-9f1e:42``), the key
of the device's ledger row.

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
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.push import PushContext, plan_push
from domain.records import REJECTED

from ..errors import ApiError
from ..store import figures
from ..store import rejections as rejection_store
from ..store import sync as sync_store
from ..store.units import assigned_roots
from .context import Caller, Page, Settings
from .scoping import roots_under
from .server_clock import with_clock
from .writes import Write, run_write


@dataclass(frozen=True)
class Rejection:
    """A rejected mutation as supervisors see it (schemas/rejections.py RejectionSchema)."""

    id: str
    device_id: str
    mutation_id: int
    canvasser: str
    ward: str | None
    type: str
    entity_id: str | None
    code: str | None
    message: str | None
    errors: dict[str, Any]
    payload: dict[str, Any] | None
    received_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


@dataclass(frozen=True)
class AppliedRejection(Rejection):
    """The rejection, resolved, with the push result of its re-applied mutation."""

    result: dict[str, Any]


_MUTATION_NUMBER = re.compile(r"[0-9]{1,9}")


def rejection_id(device_id: str, mutation_id: int) -> str:
    return f"{device_id}:{mutation_id}"


def parse_rejection_id(value: str) -> tuple[str, int] | None:
    """'<device_id>:<mutation_id>' -> (device id, mutation id); None when malformed."""
    device_id, sep, number = value.rpartition(":")
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and int() takes
    # other scripts' digits ("٤٢"), none of which a rejection id ever holds.
    if not sep or not device_id or not _MUTATION_NUMBER.fullmatch(number):
        return None
    return device_id, int(number)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _rejection(row: Any, canvasser: str, ward_ref: str | None) -> Rejection:
    result = _json(row.result) or {}
    return Rejection(
        id=rejection_id(row.device_id, row.mutation_id),
        device_id=row.device_id,
        mutation_id=row.mutation_id,
        canvasser=canvasser,
        ward=ward_ref,
        type=row.type,
        entity_id=row.entity_id,
        code=row.code,
        message=result.get("message"),
        errors=result.get("errors", {}),
        payload=_json(row.payload),
        received_at=row.received_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def _position(after: Any) -> tuple[datetime, str, int] | None:
    """The list position a cursor held: [received_at, device id, mutation id]."""
    if after is None:
        return None
    try:
        received, device_id, mutation_id = after
        return datetime.fromisoformat(received), str(device_id), int(mutation_id)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


def list_rejections(
    caller: Caller, *, ward: str | None, after: Any, limit: int, now: datetime
) -> Page:
    """A page of the rejections in the caller's units (or under ``ward``) not re-applied
    yet, newest first."""
    position = _position(after)
    rows, has_more = rejection_store.list_rejections(
        roots=roots_under(caller, ward), after=position, limit=limit, now=now
    )
    last = None
    if rows:
        row = rows[-1][0]
        last = [row.received_at.isoformat(), row.device_id, row.mutation_id]
    items = [_rejection(row, username, ward_ref) for row, username, ward_ref in rows]
    return Page(items, last, has_more)


def apply_rejection(
    caller: Caller,
    rejection: str,
    data: dict[str, Any] | None,
    *,
    now: datetime,
    settings: Settings,
) -> AppliedRejection:
    """Re-apply a rejected mutation, with ``data`` in place of its stored data when given.
    Unknown, malformed and out-of-scope ids are all 404."""
    parsed = parse_rejection_id(rejection)
    if parsed is None:
        raise ApiError("not_found")
    roots = None if caller.scope.everything else [path for _, path in caller.scope.roots]
    grace = timedelta(days=settings.assignment_grace_days)

    def work(write: Write) -> AppliedRejection:
        found = rejection_store.rejection_for_update(*parsed, roots=roots, now=now)
        if found is None:
            raise ApiError("not_found")
        row, owner, ward = found
        if row.resolved_at is not None:
            raise ApiError("rejection_resolved", details={"resolved_by": row.resolved_by})
        raw = _stored_mutation(row.payload)
        if data is not None:
            raw["data"] = data
        raw["mutation_id"] = row.mutation_id
        # The owner's units as a push of theirs would see them now (grace period included),
        # and of those only what lies in the caller's own units: a supervisor's correction
        # never writes into a ward they do not supervise, whatever else the owner may reach.
        owner_paths = tuple(path for _, path in assigned_roots(owner.id, now - grace))
        context = _context(row, owner, raw, _within(owner_paths, caller))
        before = figures.measure(context, settings.timezone)
        plan = with_clock(lambda clock: plan_push(context, [raw], now=now, clock=clock))
        result = plan.results[0]
        if result["status"] == REJECTED:
            if _refused_for_the_callers_units(row, owner, raw, owner_paths, caller, now):
                # Aimed at a unit or record outside the caller's units: 404, as for any
                # other (docs/api.md, Roles and scope), and nothing is written.
                raise ApiError("not_found")
            raise ApiError(
                "mutation_rejected",
                errors=result.get("errors") or {},
                details={"reason": result.get("code"), "reason_message": result.get("message")},
            )
        # The original ledger row stays the device's answer for this mutation id.
        plan.ledger_rows = []
        sync_store.write_push(
            context, plan, None, now, figures_before=before, timezone=settings.timezone
        )
        rejection_store.resolve(row, by=caller.username, at=now)
        write.audit(
            "rejection.apply",
            rejection_id(row.device_id, row.mutation_id),
            {
                "owner": owner.username,
                "type": row.type,
                "code": row.code,
                "status": result["status"],
                "corrected": data is not None,
            },
        )
        shown = _rejection(row, owner.username, ward.ref if ward else None)
        return AppliedRejection(**vars(shown), result=result)

    return run_write(caller, now, work, timezone=settings.timezone)


def _within(owner_paths: tuple[str, ...], caller: Caller) -> tuple[str, ...]:
    """The parts of the owner's units that also lie in the caller's: each owner unit the
    caller covers, and each of the caller's units below an owner unit."""
    if caller.scope.everything:
        return owner_paths
    roots = [path for _, path in caller.scope.roots]
    kept: list[str] = []
    for path in owner_paths:
        if caller.scope.covers(path):
            kept.append(path)
        else:
            kept += [root for root in roots if root.startswith(path)]
    return tuple(dict.fromkeys(kept))


def _context(row: Any, owner: Any, raw: dict[str, Any], paths: tuple[str, ...]) -> PushContext:
    """What the planner reads for the one mutation, as its owner's device at its place in
    the device's numbering, allowed to write under ``paths``."""
    return sync_store.load_push_context(
        device_id=row.device_id,
        last_mutation_id=row.mutation_id - 1,
        user_id=owner.id,
        username=owner.username,
        raws=[raw],
        scope_paths=paths,
    )


def _refused_for_the_callers_units(
    row: Any,
    owner: Any,
    raw: dict[str, Any],
    owner_paths: tuple[str, ...],
    caller: Caller,
    now: datetime,
) -> bool:
    """Whether a refusal comes from the caller's units alone: planned again (never
    written) with the owner's units only, the mutation would go through. Whatever the rules
    call such a refusal (``forbidden_ward``, or ``household_unknown`` for a household they
    do not show), the mutation is aimed outside the caller's units. A refusal the owner's
    own push would get as well is the rules' answer (422)."""
    if caller.scope.everything:
        return False
    context = _context(row, owner, raw, owner_paths)
    plan = with_clock(lambda clock: plan_push(context, [dict(raw)], now=now, clock=clock))
    return plan.results[0]["status"] != REJECTED


def _stored_mutation(text: str | None) -> dict[str, Any]:
    """The stored payload as a mutation object (an unreadable one is an empty mutation,
    which the planner rejects again)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}
