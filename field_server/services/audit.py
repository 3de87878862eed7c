"""The audit trail (admins only): newest first, filtered by actor, action and campaign-local
dates, paged by keyset on (at, id) (store/audit_queries.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.review import local_range

from ..errors import ApiError
from ..store.audit_queries import audit_page, audit_position, parse_audit_position
from .context import Caller, Page


@dataclass(frozen=True)
class AuditEntryInfo:
    """One audit row as admins read it."""

    id: int
    at: datetime
    actor: str | None
    action: str
    target: str | None
    client_address: str | None
    details: dict[str, Any]


def list_audit(
    caller: Caller,
    *,
    actor: str | None,
    action: str | None,
    start: date | None,
    end: date | None,
    after: Any,
    limit: int,
    timezone: str,
) -> Page:
    """A page of audit rows, newest first, after the position ``after`` (None: the
    newest). ``start``/``end`` are local days, both included."""
    try:
        position = parse_audit_position(after) if after is not None else None
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None
    since, until = local_range(start, end, timezone)
    rows, has_more = audit_page(
        actor=actor, action=action, since=since, until=until, after=position, limit=limit
    )
    last = audit_position(rows[-1]) if rows else None
    return Page([_info(row) for row in rows], last, has_more)


def _info(row: Any) -> AuditEntryInfo:
    return AuditEntryInfo(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        client_address=row.client_address,
        details=json.loads(row.details) if row.details else {},
    )
