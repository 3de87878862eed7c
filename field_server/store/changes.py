"""The change sequence tablets pull by, in commit order.

Every write transaction that changes something a tablet can pull ends by taking the next
position from the one-row ``change_counter`` table and stamping it on every row it touched.
Taking the position locks that row until commit, so a later position is always committed
after an earlier one, on SQLite (where writers are serialised anyway) and on PostgreSQL
(where only this final step queues): a reader that has seen position N has seen everything
at or below N, and a transaction that started early but commits late gets a later position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Assignment, ChangeCounter, Household, Model, Unit, Visit

PULLED_MODELS: dict[str, type[Model]] = {
    "unit": Unit,
    "assignment": Assignment,
    "household": Household,
    "visit": Visit,
}

# Test seam: called just before the position is taken (a test holds a transaction open here
# to commit it late on purpose). Empty in production.
before_stamp: list[Callable[[], None]] = []


def next_position() -> int:
    """Take the next position (and the counter's row lock until this transaction ends)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ChangeCounter)
        .values(id=1, value=1)
        .on_conflict_do_update(
            index_elements=[ChangeCounter.id], set_={"value": ChangeCounter.value + 1}
        )
        .returning(ChangeCounter.value)
    )
    return int(db.session.execute(statement).scalar_one())


def hold_sequence() -> None:
    """Take the counter row's lock (without moving it) until this transaction ends.

    Writers that also update other shared rows (the figures' counters) take this lock
    first, so every transaction takes the shared locks in one order: the sequence, then the
    counter rows. A transaction that takes its position later already holds the lock."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite's writers hold the one database lock from BEGIN IMMEDIATE on
    statement = (
        postgresql.insert(ChangeCounter)
        .values(id=1, value=0)
        .on_conflict_do_update(
            index_elements=[ChangeCounter.id], set_={"value": ChangeCounter.value}
        )
    )
    db.session.execute(statement)


def take_position() -> int:
    """The position for a transaction that writes the stamped rows itself (a push puts it
    in the rows it inserts and updates anyway, sparing an UPDATE of every row). Taken as
    late as possible, after any slow work: the counter's row stays locked until commit."""
    for hook in before_stamp:
        hook()
    return next_position()


def stamp(touched: Mapping[str, Iterable[object]]) -> int | None:
    """Stamp every touched row (entity name -> primary keys) with one new position."""
    keys = {entity: list(dict.fromkeys(ids)) for entity, ids in touched.items()}
    keys = {entity: ids for entity, ids in keys.items() if ids}
    if not keys:
        return None
    position = take_position()
    for entity, ids in keys.items():
        model = PULLED_MODELS[entity]
        pk = model.__mapper__.primary_key[0]
        for start in range(0, len(ids), 500):
            db.session.execute(
                update(model)
                .where(pk.in_(ids[start : start + 500]))
                .values(change_seq=position)
                .execution_options(synchronize_session=False)
            )
    return position


def current_position() -> int:
    value = db.session.get(ChangeCounter, 1)
    return int(value.value) if value else 0
