"""Visits (API §5). For now the supervisor's correction, which the "supervisor wins" merge
rule of sync needs; the review queue and the rest of supervision come with issue 4."""

from __future__ import annotations

from flask import Response, jsonify

from schemas.records import dump_visit
from schemas.visits import CorrectionSchema
from sync.push import plan_correction
from sync.records import SyncError

from ..auth.scope import current_principal, current_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..extensions import db
from ..models import Unit, User, Visit, utcnow
from ..parsing import parse_body
from ..store import audit
from ..store import sync as sync_store
from ..store.engine import write_transaction
from . import bp


def _visible_visit(visit_id: str) -> Visit:
    """The visit, or 404 when unknown or outside the caller's wards."""
    visit = db.session.get(Visit, visit_id)
    ward = db.session.get(Unit, visit.ward_id) if visit else None
    if visit is None or ward is None or not current_scope().covers(ward.path):
        raise ApiError("not_found")
    return visit


def _shown(visit: Visit) -> dict:  # type: ignore[type-arg]
    ward = db.session.get(Unit, visit.ward_id)
    group = db.session.get(Unit, visit.group_id) if visit.group_id else None
    canvasser = db.session.get(User, visit.canvasser_id)
    return dump_visit(
        visit,
        ward.ref if ward else "",
        group.ref if group else None,
        canvasser.username if canvasser else None,
    )


@bp.patch("/visits/<visit_id>")
@requires("visits.write")
def correct_visit(visit_id: str) -> Response:
    body = parse_body(CorrectionSchema())
    principal = current_principal()
    now = utcnow()
    with write_transaction():
        visit = _visible_visit(visit_id)
        context = sync_store.load_push_context(
            device_id=visit.device_id,
            last_mutation_id=0,
            user_id=principal.user_id,
            username=principal.username,
            raws=[{"type": "visit.update", "id": visit_id, "data": {}}],
            scope_paths=(),
        )
        try:
            plan, state = plan_correction(
                context,
                visit_id,
                body["base_version"],
                body["data"],
                now=now,
                author=principal.username,
                author_role=principal.role,
            )
        except SyncError as exc:
            raise ApiError(exc.code, errors=exc.errors, details=exc.details) from None
        sync_store.write_push(context, plan, None, now)
        if plan.revisions:
            audit.record(
                action="visit.correct",
                actor=principal.username,
                target=visit_id,
                client_address=client_address(),
                at=now,
                details={"fields": plan.revisions[-1]["changed"], "version": state.version},
            )
    db.session.expire_all()
    return jsonify(_shown(db.session.get(Visit, visit_id)))
