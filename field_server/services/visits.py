"""Visits for supervisors: the review queue, one visit with its history, the review (single
and bulk, all or nothing) and the supervisor's correction.

Reads resolve the wards, groups and canvassers of a whole page with one query each. The
review writes with a handful of set-based statements whatever the number of visits, and
keeps the figures and the households' counters right in the same write; a correction goes
through the push planner (domain/push.py ``plan_correction``) and ``store.sync.write_push``
like a tablet's edit, so tablets pull both.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from domain.push import plan_correction
from domain.review import local_range, plan_review

from ..errors import ApiError
from ..models import Unit
from ..store import figures, visit_queries
from ..store import review as review_store
from ..store import sync as sync_store
from .context import Caller, Page
from .scoping import unit_in_scope
from .writes import Write, run_write


@dataclass(slots=True)
class VisitRecord:
    """A visit as the supervision APIs show it: its stored fields, its last review, its
    ward, group and canvasser by name (the schemas choose the keys and their order).

    Built positionally from the row, stored fields first: the review queue builds up to
    1,000 of these per page."""

    id: str
    version: int
    household_id: str
    visited_at: datetime
    outcome: str
    adults: int | None
    smartphones: int | None
    installed_before: int | None
    installed_during: int | None
    priority_subjects: int | None
    priority_installed: int | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    notes: str | None
    come_back_at: datetime | None
    device_id: str
    review_status: str
    review_comment: str | None
    voided: bool
    received_at: datetime
    reviewed_at: datetime | None
    reviewed_by: str | None
    flags: tuple[str, ...]  # stored as JSON text
    ward: str  # scheme:code
    group: str | None  # scheme:code
    canvasser: str | None  # username


@dataclass(frozen=True)
class RevisionInfo:
    """One version of a visit: the fields it changed, their values before, who, when."""

    version: int
    changed: list[str]
    previous: dict[str, Any]
    author: str | None
    author_role: str
    at: datetime


@dataclass(slots=True)
class VisitDetail(VisitRecord):
    """A visit with every version of it, oldest first."""

    history: list[RevisionInfo]


@dataclass(frozen=True)
class BulkReview:
    """A bulk review's answer: the visits in the order of the ids, after the review."""

    updated: int
    review_status: str | None
    items: list[VisitRecord]


_RECORD_FIELDS = tuple(f.name for f in fields(VisitRecord))
# The fields read from the row as stored: all those before ``flags``.
_read_stored = operator.attrgetter(*_RECORD_FIELDS[: _RECORD_FIELDS.index("flags")])
# VisitRecord, called positionally with the stored values spread: mypy cannot count what an
# attrgetter of many names returns, so this is its constructor untyped (test_visit_queue
# checks every record against the schema).
_new_record: Callable[..., VisitRecord] = VisitRecord


@functools.lru_cache(maxsize=256)
def _flags(text: str | None) -> tuple[str, ...]:
    """A visit's stored flags: a handful of distinct JSON texts across a page, each decoded
    once."""
    return tuple(json.loads(text or "[]"))


def visit_records(rows: Sequence[Any]) -> list[VisitRecord]:
    """Stored visit rows as shown, with one query for all their wards and groups and one
    for all their canvassers (never one per row)."""
    refs = visit_queries.unit_refs([r.ward_id for r in rows] + [r.group_id for r in rows])
    names = visit_queries.usernames(r.canvasser_id for r in rows)
    return [
        _new_record(
            *_read_stored(row),
            _flags(row.flags),
            refs.get(row.ward_id, ""),
            refs.get(row.group_id) if row.group_id is not None else None,
            names.get(row.canvasser_id),
        )
        for row in rows
    ]


# --- the review queue ----------------------------------------------------------------------


def _queue_position(raw: Any) -> visit_queries.QueuePosition | None:
    """A decoded cursor back to its position; cursor_invalid when malformed."""
    if raw is None:
        return None
    try:
        return visit_queries.parse_queue_position(raw)
    except (TypeError, ValueError):
        raise ApiError("cursor_invalid") from None


def _unit_of_level(caller: Caller, ref: str, field: str, levels: Iterable[str], hint: str) -> Unit:
    unit = unit_in_scope(caller, ref)
    if unit.level not in levels:
        raise ApiError("validation_failed", errors={field: [hint]})
    return unit


def queue_page(
    caller: Caller,
    *,
    ward: str | None,
    group: str | None,
    canvasser: str | None,
    outcome: str | None,
    review_status: str | None,
    flag: str | None,
    since: date | None,
    until: date | None,
    after: Any,
    limit: int,
    timezone: str,
) -> Page:
    """A page of the review queue (flagged and priority visits first, then newest first) in
    the caller's units, or under ``ward``; ``since``/``until`` are campaign-local dates,
    both included. ``after`` is the decoded cursor's position."""
    position = _queue_position(after)
    group_unit: Unit | None = None
    if group:
        group_unit = _unit_of_level(caller, group, "group", ("group",), "Name a residential group.")
    if ward:
        unit = _unit_of_level(
            caller,
            ward,
            "ward",
            ("ward", "district", "province"),
            "Name a ward (or a unit above); use `group` for a residential group.",
        )
        if unit.level == "ward":
            wards = visit_queries.WardSet(ids=(unit.id,), paths=None)
        else:
            wards = visit_queries.wards_under([unit.path])
    elif group_unit is not None and group_unit.parent_id is not None:
        # A group's visits are all in its ward: read that ward's queue only.
        wards = visit_queries.WardSet(ids=(group_unit.parent_id,), paths=None)
    else:
        wards = visit_queries.wards_under(visit_queries.scope_paths(caller.scope))
    canvasser_id = None
    if canvasser:
        canvasser_id = visit_queries.user_id(canvasser)
        if canvasser_id is None:  # nobody by that name: nothing of theirs to show
            return Page([], None, False)
    start, end = local_range(since, until, timezone)
    filters = visit_queries.QueueFilters(
        group_id=group_unit.id if group_unit is not None else None,
        canvasser_id=canvasser_id,
        outcome=outcome,
        review_status=review_status,
        flag=flag,
        since=start,
        until=end,
    )
    rows, has_more = visit_queries.queue_page(wards, filters, position, limit)
    last = visit_queries.queue_position(rows[-1]) if rows else None
    return Page(visit_records(rows), last, has_more)


# --- one visit -----------------------------------------------------------------------------


def _visible_record(caller: Caller, visit_id: str) -> VisitRecord:
    """The visit as shown; 404 when unknown or outside the caller's units."""
    found = visit_queries.visit_with_ward_path(visit_id)
    if found is None or not caller.scope.covers(found[1]):
        raise ApiError("not_found")
    return visit_records([found[0]])[0]


def visit_detail(caller: Caller, visit_id: str) -> VisitDetail:
    """The visit, who reviewed it, and its history; 404 when unknown or outside the
    caller's units."""
    record = _visible_record(caller, visit_id)
    history = [
        RevisionInfo(
            version=rev.version,
            changed=json.loads(rev.changed),
            previous=json.loads(rev.data or "{}"),
            author=rev.author,
            author_role=rev.author_role,
            at=rev.at,
        )
        for rev in visit_queries.visit_revisions(visit_id)
    ]
    return VisitDetail(**{name: getattr(record, name) for name in _RECORD_FIELDS}, history=history)


# --- review --------------------------------------------------------------------------------


def _visible_targets(
    caller: Caller, ids: Sequence[str], loaded: dict[str, review_store.LoadedTarget], bulk: bool
) -> None:
    """404 unless every id is a visit in the caller's wards (unknown and out of scope look
    the same, so ids of other wards cannot be probed)."""
    missing = [i for i in ids if i not in loaded or not caller.scope.covers(loaded[i].ward_path)]
    if missing:
        raise ApiError("not_found", details={"ids": missing} if bulk else None)


def _review(
    caller: Caller,
    ids: Sequence[str],
    action: str,
    comment: str | None,
    *,
    now: datetime,
    timezone: str,
    bulk: bool,
) -> None:
    """Review these visits in one write, all or nothing."""

    def work(write: Write) -> None:
        loaded = review_store.load_targets(ids)
        _visible_targets(caller, ids, loaded, bulk)
        households = {t.target.household_id for t in loaded.values()}
        write.measure(households)
        locked = review_store.reload_locked(ids)
        if locked is not None:
            loaded = locked
            _visible_targets(caller, ids, loaded, bulk)
            # A merge moved a visit meanwhile: measure its new household too.
            write.measure({t.target.household_id for t in loaded.values()} - households)
        plan = plan_review(
            [loaded[i].target for i in ids],
            action,
            comment,
            now=now,
            reviewer=caller.username,
            client_address=caller.address,
        )
        review_store.apply_review(plan)
        recounted = review_store.recount_households(plan.recount_household_ids, now)
        write.audit_many(plan.audit_rows)
        write.touch("visit", plan.visit_ids)
        write.touch("household", recounted)

    run_write(caller, now, work, timezone=timezone)


def review_visit(
    caller: Caller,
    visit_id: str,
    *,
    action: str,
    comment: str | None,
    now: datetime,
    timezone: str,
) -> VisitDetail:
    """Approve, reject, flag or reset one visit; the visit as its detail shows it after."""
    _review(caller, [visit_id], action, comment, now=now, timezone=timezone, bulk=False)
    return visit_detail(caller, visit_id)


def review_visits(
    caller: Caller,
    ids: Sequence[str],
    *,
    action: str,
    comment: str | None,
    now: datetime,
    timezone: str,
) -> BulkReview:
    """Review up to 1,000 visits at once, all or nothing (an id given twice is reviewed
    once)."""
    unique = list(dict.fromkeys(ids))
    _review(caller, unique, action, comment, now=now, timezone=timezone, bulk=True)
    rows = visit_queries.visits_by_ids(unique)
    return BulkReview(
        updated=len(rows),
        review_status=rows[0].review_status if rows else None,
        items=visit_records(rows),
    )


# --- correction ----------------------------------------------------------------------------


def correct_visit(
    caller: Caller,
    visit_id: str,
    *,
    base_version: int,
    data: dict[str, Any],
    now: datetime,
    timezone: str,
) -> VisitRecord:
    """A supervisor's correction of a visit's data, planned and written as a tablet's edit
    would be (a new version with a supervisor's revision, counters and figures kept right);
    ``version_conflict`` when the visit moved past ``base_version``."""

    def work(write: Write) -> None:
        found = visit_queries.visit_with_ward_path(visit_id)
        if found is None or not caller.scope.covers(found[1]):
            raise ApiError("not_found")
        context = sync_store.load_push_context(
            device_id=found[0].device_id,
            last_mutation_id=0,
            # Only a push's new visits and ledger rows name the user; a correction has none.
            user_id=caller.user_id if caller.user_id is not None else 0,
            username=caller.username,
            raws=[{"type": "visit.update", "id": visit_id, "data": {}}],
            scope_paths=(),
        )
        before = figures.measure(context, timezone)
        plan, state = plan_correction(
            context,
            visit_id,
            base_version,
            data,
            now=now,
            author=caller.username,
            author_role=caller.role,
        )
        sync_store.write_push(context, plan, None, now, figures_before=before, timezone=timezone)
        if plan.revisions:
            write.audit(
                "visit.correct",
                visit_id,
                {"fields": plan.revisions[-1]["changed"], "version": state.version},
            )

    run_write(caller, now, work, timezone=timezone)
    return _visible_record(caller, visit_id)
