"""Duplicate households (API §5): the near-duplicate suggestions behind the supervisors'
/duplicates page (GET /duplicates), and merging one household into another
(POST /households/{id}/merge). Suggestions never merge anything by themselves."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from domain.conflicts import MergeSide, check_merge, duplicate_pair
from domain.duplicates import listing
from domain.records import SyncError
from schemas.conflicts import DuplicateListQuery, MergeSchema, dump_suggestion
from schemas.records import dump_household

from ..auth.scope import current_principal, current_scope, ensure_unit_in_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..extensions import db
from ..models import Household, Unit, utcnow
from ..paging import decode_cursor, page
from ..parsing import parse_body, parse_query
from ..store import audit, changes, figures
from ..store import conflicts as conflict_store
from ..store import duplicates as duplicate_store
from ..store import merges as merge_store
from ..store.engine import write_transaction
from ..store.units import get_unit_by_ref
from . import bp


def _timezone() -> str:
    return str(current_app.config["TIMEZONE"])


def _shown(households: list[Household]) -> dict[str, dict[str, Any]]:
    refs = duplicate_store.unit_refs(
        {h.ward_id for h in households} | {h.group_id for h in households if h.group_id}
    )
    return {
        h.id: dump_household(h, refs[h.ward_id], refs.get(h.group_id) if h.group_id else None)
        for h in households
    }


# --- GET /duplicates -----------------------------------------------------------------------


@bp.get("/duplicates")
@requires("conflicts.read")
def list_duplicates() -> Response:
    query = parse_query(DuplicateListQuery())
    ward = ensure_unit_in_scope(get_unit_by_ref(query["ward"]))
    if ward.level != "ward":
        raise ApiError("validation_failed", errors={"ward": ["Name a ward."]})
    after = decode_cursor("duplicates", query["cursor"])
    if after is not None and (not isinstance(after, list) or len(after) != 4):
        raise ApiError("cursor_invalid")
    found = duplicate_store.ward_duplicates(ward.id)
    rows = listing(found.candidates, found.open_pairs, found.settled_pairs)
    if after is not None:
        try:
            rows = [row for row in rows if row.key > after]
        except TypeError:
            raise ApiError("cursor_invalid") from None
    limit = query["limit"]
    chosen, has_more = rows[:limit], len(rows) > limit
    ids = sorted({i for row in chosen for i in (row.suggestion.a, row.suggestion.b)})
    shown = _shown(list(duplicate_store.households_by_id(ids).values()))
    payload = [dump_suggestion(row.suggestion, shown, row.conflict_id) for row in chosen]
    last = chosen[-1].key if chosen else None
    return jsonify(page(payload, kind="duplicates", last_position=last, has_more=has_more))


# --- POST /households/{id}/merge -----------------------------------------------------------


def _visible_household(household_id: str) -> Household | None:
    household = db.session.get(Household, household_id)
    if household is None:
        return None
    ward = db.session.get(Unit, household.ward_id)
    return household if ward is not None and current_scope().covers(ward.path) else None


@bp.post("/households/<household_id>/merge")
@requires("households.merge")
def merge_household(household_id: str) -> Response:
    body = parse_body(MergeSchema())
    principal = current_principal()
    now = utcnow()
    with write_transaction():
        source = _visible_household(household_id)
        if source is None:
            raise ApiError("not_found")
        into = _visible_household(body["into"])
        # Unknown, out of scope and in another ward look alike: ids cannot be probed.
        if into is None or into.ward_id != source.ward_id:
            raise ApiError(
                "validation_failed", errors={"into": ["No household with this id in this ward."]}
            )
        ids = sorted({source.id, into.id})
        before = figures.snapshot(
            ids, _timezone()
        )  # locks both (PostgreSQL) before reading them again
        rows = merge_store.households_locked(ids)
        source, into = rows[source.id], rows[into.id]
        try:
            check_merge(
                MergeSide(source.id, source.ward_id, source.merged_into),
                MergeSide(into.id, into.ward_id, into.merged_into),
            )
        except SyncError as exc:
            raise ApiError(exc.code, errors=exc.errors) from None
        merged = merge_store.merge(source, into, now)
        figures.settle(before)
        pair = frozenset(ids)
        settled = [
            c.id
            for c in conflict_store.open_duplicates_of(ids)
            if duplicate_pair(conflict_store.fields_of(c)) == pair
        ]
        conflict_store.close_many(settled, status="resolved", at=now, by=principal.username)
        figures.adjust_open_conflicts({source.ward_id: -len(settled)})
        changes.stamp({"household": ids, "visit": merged.moved_visits})
        audit.record(
            action="household.merge",
            actor=principal.username,
            target=source.id,
            client_address=client_address(),
            at=now,
            details={
                "into": into.id,
                "visits_moved": len(merged.moved_visits),
                "conflicts_resolved": settled,
            },
        )
    db.session.expire_all()
    survivor = db.session.get(Household, body["into"])
    return jsonify(_shown([survivor])[survivor.id])
