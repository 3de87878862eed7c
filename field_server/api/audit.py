"""The audit trail (API §5): admins only, newest first, filtered by actor, action and
campaign-local dates."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from domain.review import local_range
from schemas.audit import AuditListQuery, dump_audit

from ..auth.scope import requires
from ..errors import ApiError
from ..paging import decode_cursor, page
from ..parsing import parse_query
from ..store.audit_queries import (
    AuditPosition,
    audit_page,
    audit_position,
    parse_audit_position,
)
from . import bp


def _position(raw: Any) -> AuditPosition | None:
    if raw is None:
        return None
    try:
        return parse_audit_position(raw)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


@bp.get("/audit")
@requires("audit.read")
def list_audit() -> Response:
    query = parse_query(AuditListQuery())
    after = _position(decode_cursor("audit", query["cursor"]))
    since, until = local_range(query["from_"], query["to"], current_app.config["TIMEZONE"])
    rows, has_more = audit_page(
        actor=query["actor"],
        action=query["action"],
        since=since,
        until=until,
        after=after,
        limit=query["limit"],
    )
    last = audit_position(rows[-1]) if rows else None
    return jsonify(
        page([dump_audit(r) for r in rows], kind="audit", last_position=last, has_more=has_more)
    )
