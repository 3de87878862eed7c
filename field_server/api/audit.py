"""The audit trail (docs/api-supervision.md): admins only, newest first, filtered by actor, action
and campaign-local dates (services/audit.py)."""

from __future__ import annotations

from typing import Any

from schemas.audit import AuditEntrySchema, AuditListQuery

from ..operation import operation
from ..services import audit
from ..services.context import Caller, Page, Settings
from . import bp


@bp.get("/audit")
@operation("audit.read", query=AuditListQuery, response=AuditEntrySchema, page="audit")
def list_audit(caller: Caller, query: dict[str, Any], settings: Settings) -> Page:
    """The audit trail, newest first."""
    return audit.list_audit(
        caller,
        actor=query["actor"],
        action=query["action"],
        start=query["from_"],
        end=query["to"],
        after=query["cursor"],
        limit=query["limit"],
        timezone=settings.timezone,
    )
