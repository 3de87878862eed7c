"""A ward's dashboard tables and follow-up lists for its supervisor (docs/web.md): the
canvassers' table (visits, installs, flagged visits, last visit and last sync per
canvasser), the households to visit again ("not home", "come back" with the time agreed)
and the priority households (quarantine, testing) whose priority subjects do not all have
the app yet; and a canvasser's own progress.

The canvassers' table is one grouped read of the ward's visits
(store/canvasser_figures.py) merged with the ward's devices list (services/devices.py).

Both are read through the supervision operations' own reads (the review queue's filtered
page, the households' page), in the caller's scope, so they show nothing another page
would not. Neither has a dedicated store query yet: the revisit list checks each candidate
household's latest visit (at most ``limit`` small reads), and the priority list walks the
ward's households by address, at most ``MAX_HOUSEHOLDS_SCANNED`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ApiError
from ..models import Unit
from ..store import canvasser_figures, visit_queries
from ..store.engine import begin_read_snapshot
from . import devices, households, rejections, visits
from .context import Caller
from .scoping import unit_in_scope

REVISIT_OUTCOMES = ("not_home", "come_back")
MAX_HOUSEHOLDS_SCANNED = 20_000
PAGE = 1000


@dataclass(frozen=True)
class Revisit:
    """A household whose latest visit found nobody home or agreed to come back."""

    household_id: str
    visit_id: str
    outcome: str
    visited_at: datetime
    come_back_at: datetime | None
    canvasser: str | None
    group: str | None
    notes: str | None


@dataclass(frozen=True)
class FollowUp:
    revisits: list[Revisit]
    revisits_more: bool  # more candidates than were looked at
    priority: list[households.HouseholdRecord]
    priority_more: bool  # more households than were scanned, or than ``limit`` shown
    addresses: dict[str, str]  # household id -> address, for the revisits


def _ward(caller: Caller, ref: str) -> Unit:
    unit = unit_in_scope(caller, ref)
    if unit.level != "ward":
        raise ApiError("validation_failed", errors={"ward": ["Name a ward."]})
    return unit


# --- the canvassers' table --------------------------------------------------------------------

MAX_DEVICES = 1000  # a ward's tablets, read in pages of this size


@dataclass(frozen=True)
class CanvasserRow:
    """One canvasser of a ward: their visits there (store/canvasser_figures.py gives each
    figure's meaning), their tablets not revoked, and when one of those last synced."""

    username: str
    visits: int
    installs: int
    flagged: int
    by_flag: dict[str, int]
    last_visit: datetime | None
    tablets: int
    last_sync: datetime | None


def ward_canvassers(caller: Caller, ward: str, *, now: datetime) -> list[CanvasserRow]:
    """Every canvasser of the ward, by username: those with a visit in it and those with a
    tablet not revoked signed in for it (no visit yet: zeros). For admin, the ward's district
    officer and its supervisor; 404 outside the caller's units, 422 for a unit that is not
    a ward; 403 for a canvasser (their own progress is ``own_progress``)."""
    if caller.role == "canvasser":
        raise ApiError("forbidden")
    unit = _ward(caller, ward)
    begin_read_snapshot()
    figures = {row.username: row for row in canvasser_figures.ward_canvassers(unit.id)}
    synced: dict[str, list[datetime | None]] = {}
    after: Any = None
    while True:
        page = devices.list_devices(caller, ward=ward, after=after, limit=MAX_DEVICES, now=now)
        for device in page.items:
            if not device.revoked:
                synced.setdefault(device.owner, []).append(device.last_seen)
        if not page.has_more:
            break
        after = page.last
    rows = []
    for username in sorted(figures.keys() | synced.keys()):
        found = figures.get(username)
        times = synced.get(username, [])
        rows.append(
            CanvasserRow(
                username=username,
                visits=found.visits if found else 0,
                installs=found.installs if found else 0,
                flagged=found.flagged if found else 0,
                by_flag=dict(found.by_flag) if found else {},
                last_visit=found.last_visit if found else None,
                tablets=len(times),
                last_sync=max((t for t in times if t is not None), default=None),
            )
        )
    return rows


def follow_up(caller: Caller, ward: str, *, limit: int, timezone: str) -> FollowUp:
    """The ward's revisit list (households whose latest visit, not voided, was "not home"
    or "come back"; the agreed times first, earliest first, then the oldest visits) and its
    priority households not yet covered (``priority_installed`` below
    ``priority_subjects``), each at most ``limit`` long."""
    _ward(caller, ward)
    begin_read_snapshot()
    candidates: dict[str, visits.VisitRecord] = {}
    more = False
    for outcome in REVISIT_OUTCOMES:
        found = visits.queue_page(
            caller,
            ward=ward,
            group=None,
            canvasser=None,
            outcome=outcome,
            review_status=None,
            flag=None,
            since=None,
            until=None,
            after=None,
            limit=limit,
            timezone=timezone,
        )
        more = more or found.has_more
        for record in found.items:
            if record.voided or record.review_status == "rejected":
                continue
            known = candidates.get(record.household_id)
            if known is None or record.visited_at > known.visited_at:
                candidates[record.household_id] = record
    revisits = []
    for household_id, record in candidates.items():
        latest = _latest_visit(household_id)
        if latest is not None and latest != record.id:
            continue  # visited again since, with another outcome or later
        revisits.append(
            Revisit(
                household_id=household_id,
                visit_id=record.id,
                outcome=record.outcome,
                visited_at=record.visited_at,
                come_back_at=record.come_back_at,
                canvasser=record.canvasser,
                group=record.group,
                notes=record.notes,
            )
        )
    revisits.sort(key=_revisit_order)
    priority, priority_more, addresses = _priority(caller, ward, limit, set(candidates))
    return FollowUp(revisits[:limit], more, priority, priority_more, addresses)


def _revisit_order(r: Revisit) -> tuple[Any, ...]:
    return (r.come_back_at is None, r.come_back_at or r.visited_at, r.visited_at)


def _latest_visit(household_id: str) -> str | None:
    """The id of the household's latest visit that counts (not voided, not rejected)."""
    for row in visit_queries.visits_of_household(household_id):
        if not row.voided and row.review_status != "rejected":
            return str(row.id)
    return None


def _priority(
    caller: Caller, ward: str, limit: int, wanted: set[str]
) -> tuple[list[households.HouseholdRecord], bool, dict[str, str]]:
    shown: list[households.HouseholdRecord] = []
    addresses: dict[str, str] = {}
    after: Any = None
    scanned = 0
    while True:
        page = households.list_households(caller, ward=ward, text=None, after=after, limit=PAGE)
        scanned += len(page.items)
        for h in page.items:
            if h.id in wanted:
                addresses[h.id] = h.address
            if (h.priority_subjects or 0) > (h.priority_installed or 0):
                shown.append(h)
        if not page.has_more:
            return shown[:limit], len(shown) > limit, addresses
        if scanned >= MAX_HOUSEHOLDS_SCANNED:
            return shown[:limit], True, addresses
        after = page.last


# --- a canvasser's own progress -------------------------------------------------------------

MAX_OWN_VISITS = 20_000
MAX_OWN_REJECTIONS = 200


@dataclass(frozen=True)
class OwnProgress:
    """What a canvasser recorded: visits (not voided) by outcome and by review state, the
    people who installed the app during them, and their own rejected records not yet
    re-applied (newest first). Only their own records, read in their own scope."""

    visits: int
    installed: int
    by_outcome: dict[str, int]
    by_review: dict[str, int]
    rejections: list[rejections.Rejection]
    complete: bool  # False when there were more than the caps


def own_progress(caller: Caller, *, now: datetime, timezone: str) -> OwnProgress:
    """The caller's own visits and rejected records (a canvasser's progress page)."""
    begin_read_snapshot()
    by_outcome: dict[str, int] = {}
    by_review: dict[str, int] = {}
    count = installed = 0
    after: Any = None
    complete = True
    while True:
        found = visits.queue_page(
            caller,
            ward=None,
            group=None,
            canvasser=caller.username,
            outcome=None,
            review_status=None,
            flag=None,
            since=None,
            until=None,
            after=after,
            limit=PAGE,
            timezone=timezone,
        )
        for v in found.items:
            if v.voided:
                continue
            count += 1
            installed += v.installed_during or 0
            by_outcome[v.outcome] = by_outcome.get(v.outcome, 0) + 1
            by_review[v.review_status] = by_review.get(v.review_status, 0) + 1
        if not found.has_more:
            break
        if count >= MAX_OWN_VISITS:
            complete = False
            break
        after = found.last
    own: list[rejections.Rejection] = []
    after = None
    for _ in range(MAX_OWN_REJECTIONS // 50):
        page = rejections.list_rejections(caller, ward=None, after=after, limit=50, now=now)
        own += [r for r in page.items if r.canvasser == caller.username]
        if not page.has_more:
            break
        after = page.last
    else:
        complete = False
    return OwnProgress(count, installed, by_outcome, by_review, own, complete)
