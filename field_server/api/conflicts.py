"""Conflicts (docs/api-conflicts.md): what the merge rules left to a supervisor. List them, resolve
one (keep the server's values, take the tablet's, or set values), or dismiss one
(services/conflicts.py)."""

from __future__ import annotations

from typing import Any

from schemas.conflicts import ConflictListQuery, ConflictSchema, ResolveSchema

from ..clock import utcnow
from ..operation import operation
from ..services import conflicts
from ..services.context import Caller, Page, Settings
from . import bp


@bp.get("/conflicts")
@operation(
    "conflicts.read",
    query=ConflictListQuery,
    response=ConflictSchema,
    page="conflicts",
    errors=("not_found",),
)
def list_conflicts(caller: Caller, query: dict[str, Any]) -> Page:
    """The conflicts of the caller's units, newest first."""
    return conflicts.list_conflicts(
        caller,
        ward=query["ward"],
        status=query["status"],
        kind=query["kind"],
        after=query["cursor"],
        limit=query["limit"],
    )


@bp.post("/conflicts/<conflict_id>/resolve")
@operation(
    "conflicts.write",
    body=ResolveSchema,
    response=ConflictSchema,
    errors=("not_found", "conflict_closed"),
)
def resolve_conflict(
    conflict_id: str, caller: Caller, body: dict[str, Any], settings: Settings
) -> conflicts.ConflictInfo:
    """Resolve an open conflict: keep the server's values, take the tablet's, or set them."""
    return conflicts.resolve_conflict(
        caller,
        conflict_id,
        resolution=body["resolution"],
        values=body["values"],
        now=utcnow(),
        timezone=settings.timezone,
    )


@bp.post("/conflicts/<conflict_id>/dismiss")
@operation(
    "conflicts.write",
    empty_body=True,
    response=ConflictSchema,
    errors=("not_found", "conflict_closed"),
)
def dismiss_conflict(conflict_id: str, caller: Caller) -> conflicts.ConflictInfo:
    """Close an open conflict without changing its record."""
    return conflicts.dismiss_conflict(caller, conflict_id, now=utcnow())
