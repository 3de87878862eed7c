"""Visits (API §5): the review queue, one visit with its history, the review (single and
bulk) and the supervisor's correction.

Reads resolve the wards, groups and canvassers of a whole page with one query each; the
review writes with a handful of set-based statements whatever the number of visits, keeps
the figures (store/figures.py) and the households' counters right in the same transaction,
and stamps the change sequence so tablets pull the new review state.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from flask import Response, current_app, jsonify

from domain.push import plan_correction
from domain.records import SyncError
from domain.review import local_range, plan_review
from schemas.records import dump_visit
from schemas.review import BulkReviewSchema, ReviewSchema
from schemas.visits import (
    CorrectionSchema,
    VisitListQuery,
    dump_reviewed_visit,
    dump_revision,
)

from ..auth.scope import current_principal, current_scope, ensure_unit_in_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..extensions import db
from ..models import Unit, User, Visit, utcnow
from ..paging import decode_cursor, page
from ..parsing import parse_body, parse_query
from ..store import audit, changes, figures, visit_queries
from ..store import review as review_store
from ..store import sync as sync_store
from ..store.engine import write_transaction
from ..store.units import get_unit_by_ref
from . import bp


def _timezone() -> str:
    return str(current_app.config["TIMEZONE"])


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
        before = figures.measure(context, _timezone())
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
        sync_store.write_push(context, plan, None, now, figures_before=before, timezone=_timezone())
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


# --- showing visits ----------------------------------------------------------------------


def dump_visit_rows(rows: Sequence[Any], dump: Any = dump_visit) -> list[dict[str, Any]]:
    """Visit rows as the API shows them, with one query for all their wards and groups and
    one for all their canvassers (never one per row)."""
    refs = visit_queries.unit_refs([r.ward_id for r in rows] + [r.group_id for r in rows])
    names = visit_queries.usernames(r.canvasser_id for r in rows)
    return [
        dump(
            row,
            refs.get(row.ward_id, ""),
            refs.get(row.group_id) if row.group_id is not None else None,
            names.get(row.canvasser_id),
        )
        for row in rows
    ]


def _queue_position(raw: Any) -> visit_queries.QueuePosition | None:
    """A decoded cursor back to its position; cursor_invalid when malformed."""
    if raw is None:
        return None
    try:
        return visit_queries.parse_queue_position(raw)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


def _unit_of_level(ref: str, field: str, levels: tuple[str, ...], hint: str) -> Unit:
    unit = ensure_unit_in_scope(get_unit_by_ref(ref))
    if unit.level not in levels:
        raise ApiError("validation_failed", errors={field: [hint]})
    return unit


@bp.get("/visits")
@requires("visits.read")
def list_visits() -> Response:
    query = parse_query(VisitListQuery())
    after = _queue_position(decode_cursor("visits", query["cursor"]))
    group: Unit | None = None
    if query["group"]:
        group = _unit_of_level(query["group"], "group", ("group",), "Name a residential group.")
    group_id = group.id if group is not None else None
    if query["ward"]:
        unit = _unit_of_level(
            query["ward"],
            "ward",
            ("ward", "district", "province"),
            "Name a ward (or a unit above); use `group` for a residential group.",
        )
        if unit.level == "ward":
            wards = visit_queries.WardSet(ids=(unit.id,), paths=None)
        else:
            wards = visit_queries.wards_under([unit.path])
    elif group is not None and group.parent_id is not None:
        # A group's visits are all in its ward: read that ward's queue only.
        wards = visit_queries.WardSet(ids=(group.parent_id,), paths=None)
    else:
        wards = visit_queries.wards_under(visit_queries.scope_paths(current_scope()))
    canvasser_id = None
    if query["canvasser"]:
        canvasser_id = visit_queries.user_id(query["canvasser"])
        if canvasser_id is None:  # nobody by that name: nothing of theirs to show
            return jsonify(page([], kind="visits", last_position=None, has_more=False))
    since, until = local_range(query["from_"], query["to"], _timezone())
    filters = visit_queries.QueueFilters(
        group_id=group_id,
        canvasser_id=canvasser_id,
        outcome=query["outcome"],
        review_status=query["review_status"],
        flag=query["flag"],
        since=since,
        until=until,
    )
    rows, has_more = visit_queries.queue_page(wards, filters, after, query["limit"])
    last = visit_queries.queue_position(rows[-1]) if rows else None
    return jsonify(
        page(dump_visit_rows(rows), kind="visits", last_position=last, has_more=has_more)
    )


def _detail(visit_id: str) -> dict[str, Any]:
    """The visit, who reviewed it, and its history (every version, oldest first)."""
    found = visit_queries.visit_with_ward_path(visit_id)
    if found is None or not current_scope().covers(found[1]):
        raise ApiError("not_found")
    shown = dump_visit_rows([found[0]], dump_reviewed_visit)[0]
    shown["history"] = [
        dump_revision(rev, json.loads(rev.data or "{}"), json.loads(rev.changed))
        for rev in visit_queries.visit_revisions(visit_id)
    ]
    return shown


@bp.get("/visits/<visit_id>")
@requires("visits.read")
def get_visit(visit_id: str) -> Response:
    return jsonify(_detail(visit_id))


# --- review ------------------------------------------------------------------------------


def _visible_targets(
    ids: Sequence[str], loaded: dict[str, review_store.LoadedTarget], bulk: bool
) -> None:
    """404 unless every id is a visit in the caller's wards (unknown and out of scope look
    the same, so ids of other wards cannot be probed)."""
    scope = current_scope()
    missing = [i for i in ids if i not in loaded or not scope.covers(loaded[i].ward_path)]
    if missing:
        raise ApiError("not_found", details={"ids": missing} if bulk else None)


def _review(ids: Sequence[str], action: str, comment: str | None, *, bulk: bool) -> None:
    """Review these visits in one transaction, all or nothing."""
    principal = current_principal()
    now = utcnow()
    address = client_address()
    with write_transaction():
        loaded = review_store.load_targets(ids)
        _visible_targets(ids, loaded, bulk)
        households = {t.target.household_id for t in loaded.values()}
        befores = [figures.snapshot(households, _timezone())]
        if db.session.get_bind().dialect.name == "postgresql":
            # Read again under the households' locks: the state this review replaces. (On
            # SQLite the write transaction has held the database since its start.)
            loaded = review_store.load_targets(ids, lock=True)
            _visible_targets(ids, loaded, bulk)
            moved = {t.target.household_id for t in loaded.values()} - households
            if moved:  # a merge moved a visit meanwhile: measure its new household too
                befores.append(figures.snapshot(moved, _timezone()))
        try:
            plan = plan_review(
                [loaded[i].target for i in ids],
                action,
                comment,
                now=now,
                reviewer=principal.username,
                client_address=address,
            )
        except SyncError as exc:
            raise ApiError(exc.code, errors=exc.errors, details=exc.details) from None
        review_store.apply_review(plan)
        recounted = review_store.recount_households(plan.recount_household_ids, now)
        db.session.flush()
        for before in befores:
            figures.settle(before)
        audit.record_many(plan.audit_rows)
        changes.stamp({"visit": plan.visit_ids, "household": recounted})


@bp.post("/visits/<visit_id>/review")
@requires("visits.write")
def review_visit(visit_id: str) -> Response:
    body = parse_body(ReviewSchema())
    _review([visit_id], body["action"], body["comment"], bulk=False)
    return jsonify(_detail(visit_id))


@bp.post("/visits/review")
@requires("visits.write")
def review_visits() -> Response:
    body = parse_body(BulkReviewSchema())
    ids = list(dict.fromkeys(body["ids"]))  # a repeated id is reviewed once
    _review(ids, body["action"], body["comment"], bulk=True)
    rows = visit_queries.visits_by_ids(ids)
    return jsonify(
        {
            "updated": len(rows),
            "review_status": rows[0].review_status if rows else None,
            "items": dump_visit_rows(rows, dump_reviewed_visit),
        }
    )
