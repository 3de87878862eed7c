"""Reading the audit trail (docs/api-supervision.md, admins only): newest first, paged by keyset on
(at, id) so a page is a backward range scan of ``ix_audit_log_at`` however long the trail grows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, literal, select, tuple_

from ..extensions import db
from ..models import AuditEntry, table
from .keyset import decode_time_key, encode_time_key, time_bound, time_key

A = table(AuditEntry)

# (at as a bound value, id): see keyset.py
AuditPosition = tuple[Any, int]


def audit_position(row: Any) -> list[Any]:
    """The cursor position after a row of ``audit_page``."""
    return [encode_time_key(row.at_key), row.id]


def parse_audit_position(raw: Any) -> AuditPosition:
    """A cursor position back to an AuditPosition; ValueError when it is not one."""
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError("position")
    at, entry_id = raw
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise ValueError("position")
    return decode_time_key(at, A.c.at), entry_id


def audit_page(
    *,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    after: AuditPosition | None,
    limit: int,
) -> tuple[list[Any], bool]:
    """One page of audit rows, newest first: (rows, has_more)."""
    query = select(A, time_key(A.c.at, "at_key"))
    if actor is not None:
        query = query.where(A.c.actor == actor)
    if action is not None:
        query = query.where(A.c.action == action)
    if since is not None:
        query = query.where(A.c.at >= time_bound(since, A.c.at))
    if until is not None:
        query = query.where(A.c.at < time_bound(until, A.c.at))
    if after is not None:
        at, entry_id = after
        query = query.where(tuple_(A.c.at, A.c.id) < tuple_(at, literal(entry_id, Integer())))
    query = query.order_by(A.c.at.desc(), A.c.id.desc()).limit(limit + 1)
    rows = list(db.session.execute(query).all())
    return rows[:limit], len(rows) > limit
