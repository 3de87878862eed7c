"""The SQL of `field-server purge` (services/purge.py): personal data of the households whose
last activity is older than a cutoff, and of everything kept beside them.

A household's last activity is the latest of its own creation and update and of its visits'
receipt, update and review. The households are walked in pages by id (memory stays flat
whatever their number); each page is a handful of set-based statements:

- households and visits: one UPDATE each (domain/purge.py lists the columns);
- revisions and conflicts of those records: read, scrubbed in domain/purge.py, written back
  with one executemany, only the rows that held something personal.

Then two passes of their own: rejected payloads older than the cutoff, and the audit rows
of reviews and conflict resolutions of purged records.

A purged household keeps an empty address and, as its normalised address, its own id: no
two purged households look alike to the duplicate rules (domain/duplicates.py), no new
address can equal it, and it marks the household as purged for the audit pass.

Rows tablets pull are marked with change position PENDING while the purge runs and given
one real position at its very end (``stamp_pending``): no list of millions of ids is held in
memory.

With ``apply=False`` every statement that would write is a count instead (the dry run), so
the dry run's counts are the purge's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from domain import purge as rules

from ..extensions import db
from ..models import AuditEntry, Conflict, DeviceMutation, Household, Revision, Visit, table
from .changes import take_position

H = table(Household)
V = table(Visit)
R = table(Revision)
C = table(Conflict)
DM = table(DeviceMutation)
A = table(AuditEntry)

PAGE = 500  # households per page: the IN lists stay far below SQLite's variable limit
PENDING = -1  # change position of a row purged by the running transaction

# Told after every page: households looked at, households purged so far.
Progress = Callable[[int, int], None]


@dataclass
class PurgeCounts:
    """Rows that held personal data and were (or, in a dry run, would be) purged."""

    households: int = 0
    visits: int = 0
    revisions: int = 0
    conflicts: int = 0
    rejections: int = 0
    audit_rows: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# The visits looked at for a household's activity, apart from any visits of the query
# that asks (the audit pass joins visits to households).
_ACTIVE = V.alias("active_visit")


def _inactive_household(cutoff: datetime) -> ColumnElement[bool]:
    recent = or_(
        _ACTIVE.c.received_at >= cutoff,
        _ACTIVE.c.updated_at >= cutoff,
        _ACTIVE.c.reviewed_at >= cutoff,
    )
    return and_(
        H.c.created_at < cutoff,
        H.c.updated_at < cutoff,
        ~exists().where(_ACTIVE.c.household_id == H.c.id, recent),
    )


def _household_has_personal() -> ColumnElement[bool]:
    return or_(
        H.c.head_name.is_not(None),
        H.c.phone.is_not(None),
        H.c.address != "",
        H.c.address_norm != H.c.id,
        *(H.c[name].is_not(None) for name in ("lat", "lon", "first_lat", "first_lon")),
    )


def _visit_has_personal() -> ColumnElement[bool]:
    return or_(*(V.c[name].is_not(None) for name in rules.VISIT_COLUMNS))


def _visit_inactive(cutoff: datetime) -> ColumnElement[bool]:
    # Checked again on the row itself: on PostgreSQL a review committed while the purge
    # waited for the row is seen here, and that visit keeps its comment.
    return and_(
        V.c.received_at < cutoff,
        V.c.updated_at < cutoff,
        or_(V.c.reviewed_at.is_(None), V.c.reviewed_at < cutoff),
    )


def _count(statement: Any) -> int:
    return int(db.session.execute(statement).scalar_one())


def _page_of_households(after: str, cutoff: datetime, lock: bool) -> tuple[list[str], list[str]]:
    """The next PAGE households after ``after`` (by id; empty at the end), and the inactive
    ones among them (locked with ``lock``: a dry run only reads)."""
    page = list(
        db.session.execute(
            select(H.c.id).where(H.c.id > after).order_by(H.c.id).limit(PAGE)
        ).scalars()
    )
    if not page:
        return [], []
    inactive = select(H.c.id).where(H.c.id.in_(page), _inactive_household(cutoff))
    if lock and db.session.get_bind().dialect.name == "postgresql":
        # Lock them (in id order, as pushes do), then look again with a fresh statement:
        # a push that added a visit before we held the lock is seen now, and one after
        # waits for this transaction. SQLite's write transaction holds everything already.
        locked = list(db.session.execute(inactive.order_by(H.c.id).with_for_update()).scalars())
        inactive = select(H.c.id).where(H.c.id.in_(locked), _inactive_household(cutoff))
    return page, list(db.session.execute(inactive).scalars())


def _purge_households(ids: list[str], cutoff: datetime, apply: bool) -> int:
    where = and_(H.c.id.in_(ids), _household_has_personal(), _inactive_household(cutoff))
    if not apply:
        return _count(select(func.count()).select_from(H).where(where))
    cleared = dict.fromkeys(c for c in rules.HOUSEHOLD_COLUMNS if not c.startswith("address"))
    result = db.session.execute(
        update(H)
        .where(where)
        .values(**cleared, address="", address_norm=H.c.id, change_seq=PENDING)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _purge_visits(household_ids: list[str], cutoff: datetime, apply: bool) -> int:
    where = and_(
        V.c.household_id.in_(household_ids), _visit_has_personal(), _visit_inactive(cutoff)
    )
    if not apply:
        return _count(select(func.count()).select_from(V).where(where))
    result = db.session.execute(
        update(V)
        .where(where)
        .values(**dict.fromkeys(rules.VISIT_COLUMNS), change_seq=PENDING)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _write_scrubbed(tbl: Any, column: str, rows: list[tuple[Any, str]], apply: bool) -> int:
    """Write the scrubbed JSON of ``rows`` (primary key, new text): one executemany."""
    if apply and rows:
        pk = next(iter(tbl.primary_key.columns))
        db.session.execute(
            update(tbl)
            .where(pk == bindparam("_pk"))
            .values({column: bindparam("_text")})
            .execution_options(synchronize_session=False),
            [{"_pk": key, "_text": text} for key, text in rows],
        )
    return len(rows)


def _of_records(tbl: Any, household_ids: list[str]) -> ColumnElement[bool]:
    """Rows of ``tbl`` (revisions or conflicts: both name a record by entity and
    entity_id) that belong to these households or to their visits."""
    visit_ids = select(V.c.id).where(V.c.household_id.in_(household_ids))
    return or_(
        and_(tbl.c.entity == "household", tbl.c.entity_id.in_(household_ids)),
        and_(tbl.c.entity == "visit", tbl.c.entity_id.in_(visit_ids)),
    )


def _purge_revisions(household_ids: list[str], apply: bool) -> int:
    found = db.session.execute(
        select(R.c.id, R.c.data).where(_of_records(R, household_ids), R.c.data != "{}")
    ).all()
    rows = [(r.id, text) for r in found if (text := rules.scrub_revision(r.data)) is not None]
    return _write_scrubbed(R, "data", rows, apply)


def _purge_conflicts(household_ids: list[str], apply: bool) -> int:
    found = db.session.execute(
        select(C.c.id, C.c.kind, C.c.fields).where(_of_records(C, household_ids))
    ).all()
    rows = [
        (r.id, text) for r in found if (text := rules.scrub_conflict(r.kind, r.fields)) is not None
    ]
    return _write_scrubbed(C, "fields", rows, apply)


def purge_households(cutoff: datetime, apply: bool, progress: Progress | None) -> PurgeCounts:
    """Every inactive household's personal data, its visits', and what their revisions
    and conflicts keep of it, page by page."""
    counts = PurgeCounts()
    after, looked = "", 0
    while True:
        page, ids = _page_of_households(after, cutoff, lock=apply)
        if not page:
            return counts
        looked += len(page)
        if ids:
            counts.households += _purge_households(ids, cutoff, apply)
            counts.visits += _purge_visits(ids, cutoff, apply)
            counts.revisions += _purge_revisions(ids, apply)
            counts.conflicts += _purge_conflicts(ids, apply)
        if progress is not None:
            progress(looked, counts.households)
        after = page[-1]


def purge_rejections(cutoff: datetime, apply: bool) -> int:
    """Rejected payloads received (and, when re-applied, resolved) before the cutoff,
    reduced to what is not personal; page by page over the ledger's key."""
    done = 0
    after: tuple[str, int] = ("", 0)
    where = and_(
        DM.c.payload.is_not(None),
        DM.c.received_at < cutoff,
        or_(DM.c.resolved_at.is_(None), DM.c.resolved_at < cutoff),
    )
    while True:
        found = db.session.execute(
            select(DM.c.device_id, DM.c.mutation_id, DM.c.payload)
            .where(
                where,
                tuple_(DM.c.device_id, DM.c.mutation_id)
                > tuple_(literal(after[0]), literal(after[1])),
            )
            .order_by(DM.c.device_id, DM.c.mutation_id)
            .limit(PAGE)
        ).all()
        if not found:
            return done
        rows = [
            (r, text)
            for r in found
            if (text := rules.scrub_rejected_payload(r.payload)) is not None
        ]
        if apply and rows:
            db.session.execute(
                update(DM)
                .where(
                    DM.c.device_id == bindparam("_device"),
                    DM.c.mutation_id == bindparam("_mutation"),
                )
                .values(payload=bindparam("_text"))
                .execution_options(synchronize_session=False),
                [
                    {"_device": r.device_id, "_mutation": r.mutation_id, "_text": text}
                    for r, text in rows
                ],
            )
        done += len(rows)
        after = (found[-1].device_id, found[-1].mutation_id)


def _purged_targets(rows: Sequence[Any], cutoff: datetime) -> set[str]:
    """The audit rows' targets (visit ids of reviews, conflict ids of resolutions) whose
    household is purged: inactive since the cutoff (this purge, or the dry run's), or
    purged before (its normalised address is its id: see the module docstring)."""
    purged_household = or_(
        and_(H.c.address_norm == H.c.id, H.c.address == ""), _inactive_household(cutoff)
    )
    visits = [r.target for r in rows if r.action == "visit.review" and r.target]
    conflicts = [r.target for r in rows if r.action == "conflict.resolve" and r.target]
    found: set[str] = set()
    if visits:
        found.update(
            db.session.execute(
                select(V.c.id)
                .join(H, H.c.id == V.c.household_id)
                .where(V.c.id.in_(visits), purged_household)
            ).scalars()
        )
    if conflicts:
        on_household = select(C.c.id).join(
            H, and_(C.c.entity == "household", C.c.entity_id == H.c.id)
        )
        on_visit = (
            select(C.c.id)
            .join(V, and_(C.c.entity == "visit", C.c.entity_id == V.c.id))
            .join(H, H.c.id == V.c.household_id)
        )
        for query in (on_household, on_visit):
            found.update(
                db.session.execute(query.where(C.c.id.in_(conflicts), purged_household)).scalars()
            )
    return found


def purge_audit(cutoff: datetime, apply: bool) -> int:
    """Reviews' comments and resolutions' personal values in the audit rows of purged
    records (written before the cutoff, as everything about them was)."""
    done, after = 0, 0
    while True:
        found = db.session.execute(
            select(A.c.id, A.c.action, A.c.target, A.c.details)
            .where(
                A.c.id > after,
                A.c.action.in_(rules.AUDIT_ACTIONS),
                A.c.at < cutoff,
                A.c.details.is_not(None),
            )
            .order_by(A.c.id)
            .limit(PAGE)
        ).all()
        if not found:
            return done
        purged = _purged_targets(found, cutoff)
        rows = [
            (r.id, text)
            for r in found
            if r.target in purged and (text := rules.scrub_audit(r.action, r.details)) is not None
        ]
        done += _write_scrubbed(A, "details", rows, apply)
        after = found[-1].id


def stamp_pending() -> int | None:
    """Give the rows purged by this transaction one change position, so tablets pull them
    (and replace the personal data they still hold); the position, or None if none."""
    pending = [
        tbl
        for tbl in (H, V)
        if db.session.execute(select(tbl.c.id).where(tbl.c.change_seq == PENDING).limit(1)).first()
    ]
    if not pending:
        return None
    position = take_position()
    for tbl in pending:
        db.session.execute(
            update(tbl)
            .where(tbl.c.change_seq == PENDING)
            .values(change_seq=position)
            .execution_options(synchronize_session=False)
        )
    return position
