"""Reading visits for supervisors (docs/api-supervision.md): the review queue, one visit with its
history, and the lookups that show a page of visits without a query per row.

The queue is ordered ``queue_rank DESC, visited_at DESC, id DESC`` and paged by keyset on
those three columns, so every page reads backward range scans of ``ix_visits_queue``
(ward_id, queue_rank, visited_at, id), as fast at the millionth visit as at the first (see
``queue_page``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, literal, or_, select, tuple_, union_all

from domain.review import QUEUE_RANKS

from ..extensions import db
from ..models import Revision, Unit, User, Visit, table
from .batching import chunks
from .keyset import decode_time_key, encode_time_key, time_bound, time_key
from .units import Scope

V = table(Visit)
U = table(Unit)

# Up to this many wards, each ward is scanned on its own (one index range per rank); beyond,
# one scan of the matching rows and a sort (a province's or the country's whole queue).
MAX_WARD_BRANCHES = 100

# (queue_rank, visited_at as a bound value, id): see keyset.py
QueuePosition = tuple[int, Any, str]


@dataclass(frozen=True)
class QueueFilters:
    group_id: int | None = None
    canvasser_id: int | None = None
    outcome: str | None = None
    review_status: str | None = None
    flag: str | None = None
    since: datetime | None = None  # visited_at >= since
    until: datetime | None = None  # visited_at < until


@dataclass(frozen=True)
class WardSet:
    """The wards a queue reads: ``ids`` when they are few, else a path condition (``paths``
    None meaning every ward)."""

    ids: tuple[int, ...] | None
    paths: tuple[str, ...] | None


def wards_under(paths: Sequence[str] | None) -> WardSet:
    """The wards at or below these unit paths (None: every ward). Reads at most
    MAX_WARD_BRANCHES + 1 unit ids."""
    query = select(U.c.id).where(U.c.level == "ward")
    if paths is not None:
        if not paths:
            return WardSet(ids=(), paths=())
        query = query.where(or_(*[U.c.path.startswith(p) for p in paths]))
    ids = list(db.session.execute(query.order_by(U.c.id).limit(MAX_WARD_BRANCHES + 1)).scalars())
    if len(ids) > MAX_WARD_BRANCHES:
        return WardSet(ids=None, paths=tuple(paths) if paths is not None else None)
    return WardSet(ids=tuple(ids), paths=None)


def scope_paths(scope: Scope) -> list[str] | None:
    return None if scope.everything else [path for _, path in scope.roots]


def _conditions(filters: QueueFilters) -> list[Any]:
    found: list[Any] = []
    if filters.group_id is not None:
        found.append(V.c.group_id == filters.group_id)
    if filters.canvasser_id is not None:
        found.append(V.c.canvasser_id == filters.canvasser_id)
    if filters.outcome is not None:
        found.append(V.c.outcome == filters.outcome)
    if filters.review_status is not None:
        found.append(V.c.review_status == filters.review_status)
    if filters.flag is not None:
        # flags is a JSON list of names; a quoted name matches one whole element.
        found.append(V.c.flags.contains(f'"{filters.flag}"', autoescape=True))
    if filters.since is not None:
        found.append(V.c.visited_at >= time_bound(filters.since, V.c.visited_at))
    if filters.until is not None:
        found.append(V.c.visited_at < time_bound(filters.until, V.c.visited_at))
    return found


def queue_position(row: Any) -> list[Any]:
    """The cursor position after a row of ``queue_page``."""
    return [row.queue_rank, encode_time_key(row.visited_key), row.id]


def parse_queue_position(raw: Any) -> QueuePosition:
    """A cursor position back to a QueuePosition; ValueError when it is not one."""
    if not isinstance(raw, list) or len(raw) != 3:
        raise ValueError("position")
    rank, visited, visit_id = raw
    if isinstance(rank, bool) or not isinstance(rank, int) or not isinstance(visit_id, str):
        raise ValueError("position")
    return rank, decode_time_key(visited, V.c.visited_at), visit_id


def _after(position: QueuePosition) -> Any:
    rank, visited, visit_id = position
    # A row-value comparison, which both databases turn into one index range.
    return tuple_(V.c.queue_rank, V.c.visited_at, V.c.id) < tuple_(
        literal(rank, Integer()), visited, literal(visit_id, String())
    )


def _ordered(query: Any, columns: Any) -> Any:
    return query.order_by(columns.queue_rank.desc(), columns.visited_at.desc(), columns.id.desc())


def _rank_branches(after: QueuePosition | None) -> list[tuple[int, list[Any]]]:
    """(rank, keyset conditions) of the queue ranks still ahead of the cursor."""
    branches: list[tuple[int, list[Any]]] = []
    for rank in QUEUE_RANKS:
        if after is None or rank < after[0]:
            branches.append((rank, [V.c.queue_rank == rank]))
        elif rank == after[0]:
            _, visited, visit_id = after
            within = tuple_(V.c.visited_at, V.c.id) < tuple_(visited, literal(visit_id, String()))
            branches.append((rank, [V.c.queue_rank == rank, within]))
    return branches


def queue_page(
    wards: WardSet,
    filters: QueueFilters,
    after: QueuePosition | None,
    limit: int,
) -> tuple[list[Any], bool]:
    """One page of the review queue: (visit rows, has_more).

    One statement. With a few wards it reads one index range per ward (LIMIT n each) and
    merges them (UNION ALL; PostgreSQL: Merge Append, SQLite: a sort of those few rows).
    With a date range, each ward's range is split by queue rank too: within one rank the
    order is (visited_at, id), so the dates bound the range instead of filtering every row
    of the rank in front. Beyond MAX_WARD_BRANCHES wards, one scan in queue order."""
    conditions = _conditions(filters)
    key = time_key(V.c.visited_at, "visited_key")
    whole = [_after(after)] if after is not None else []

    if wards.ids is not None:
        dated = filters.since is not None or filters.until is not None
        splits = [keyset for _, keyset in _rank_branches(after)] if dated else [whole]
        parts = [
            _ordered(select(V, key).where(V.c.ward_id == ward_id, *keyset, *conditions), V.c).limit(
                limit + 1
            )
            for ward_id in wards.ids
            for keyset in splits
        ]
        if not parts:
            return [], False
        if len(parts) == 1:
            query = parts[0]
        else:
            subqueries = [part.subquery() for part in parts]
            merged = union_all(*[select(*sub.c) for sub in subqueries]).subquery()
            query = _ordered(select(merged), merged.c).limit(limit + 1)
    else:
        query = select(V, key).where(*whole, *conditions)
        if wards.paths is not None:
            inside = select(U.c.id).where(
                U.c.level == "ward", or_(*[U.c.path.startswith(p) for p in wards.paths])
            )
            query = query.where(V.c.ward_id.in_(inside))
        query = _ordered(query, V.c).limit(limit + 1)
    rows = list(db.session.execute(query).all())
    return rows[:limit], len(rows) > limit


def unit_refs(ids: Iterable[int | None]) -> dict[int, str]:
    """unit id -> 'scheme:code' for the wards and groups of a page, in one query."""
    wanted = {i for i in ids if i is not None}
    found: dict[int, str] = {}
    for chunk in chunks(wanted):
        rows = db.session.execute(select(U.c.id, U.c.scheme, U.c.code).where(U.c.id.in_(chunk)))
        found.update({row.id: f"{row.scheme}:{row.code}" for row in rows})
    return found


def usernames(ids: Iterable[int | None]) -> dict[int, str]:
    """user id -> username for the canvassers of a page, in one query."""
    wanted = {i for i in ids if i is not None}
    found: dict[int, str] = {}
    for chunk in chunks(wanted):
        rows = db.session.execute(select(User.id, User.username).where(User.id.in_(chunk)))
        found.update({row.id: row.username for row in rows})
    return found


def user_id(username: str) -> int | None:
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()


def visit_with_ward_path(visit_id: str) -> tuple[Any, str] | None:
    """The visit row and its ward's path, in one query (None when unknown)."""
    row = db.session.execute(
        select(V, U.c.path.label("ward_path"))
        .join(U, U.c.id == V.c.ward_id)
        .where(V.c.id == visit_id)
    ).first()
    return (row, row.ward_path) if row is not None else None


def visits_by_ids(ids: Sequence[str]) -> list[Any]:
    """Visit rows in the order of ``ids`` (unknown ones left out)."""
    found: dict[str, Any] = {}
    for chunk in chunks(ids):
        found.update(
            {row.id: row for row in db.session.execute(select(V).where(V.c.id.in_(chunk)))}
        )
    return [found[i] for i in ids if i in found]


def visits_of_household(household_id: str) -> list[Any]:
    """A household's visits, newest first."""
    return list(
        db.session.execute(
            select(V)
            .where(V.c.household_id == household_id)
            .order_by(V.c.visited_at.desc(), V.c.id.desc())
        ).all()
    )


def visit_revisions(visit_id: str) -> list[Revision]:
    """The visit's versions, oldest first."""
    return list(
        db.session.execute(
            select(Revision)
            .where(Revision.entity == "visit", Revision.entity_id == visit_id)
            .order_by(Revision.version)
        ).scalars()
    )
