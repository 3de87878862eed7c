"""The change sequence tablets pull by: positions, and the watermark a pull reads below.

Every write transaction that changes something a tablet can pull stamps every row it
touched with one *position* (``change_seq``). A pull serves the rows in scope after its
cursor and below the *watermark*, in position order (store/pull.py). Two rules make the
cursor never skip a row committed late: every position at or above the watermark may still
be handed out or committed, and none below it ever will be.

- SQLite: writers are serialised (``BEGIN IMMEDIATE``), so the position is the next value
  of the one-row ``change_counter`` table, and every committed position is final: no
  watermark.
- PostgreSQL: the position is the transaction's own id (``pg_current_xact_id()``, which
  takes no lock, so writers never wait for each other here) plus a per-database shift
  (``change_xid_shift``, see below); the watermark is the oldest transaction id still
  running in the pull's snapshot (``pg_snapshot_xmin(pg_current_snapshot())``) plus the same
  shift (transactions of other databases of the cluster left out, see ``_WATERMARK``). Any
  transaction still running, or starting later, has an id at or above it, so its rows sort
  after every cursor handed out below it. A transaction that stays open holds the watermark
  back: pulls see nothing newer until it ends (docs/sync-protocol.md, "On the server").

The shift keeps positions above every position written before: the migration that brought
in transaction ids set it above the last counter value (old cursors stay valid), and a
database restored onto another PostgreSQL cluster, whose transaction ids start again lower,
is noticed by the first position or watermark each process takes, which raises the shift
(``_check_shift``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite

from ..extensions import db
from ..models import Assignment, ChangeCounter, Household, Model, Unit, Visit, table

PULLED_MODELS: dict[str, type[Model]] = {
    "unit": Unit,
    "assignment": Assignment,
    "household": Household,
    "visit": Visit,
}

# Above every position: the watermark where there is none (SQLite).
NO_WATERMARK = 2**63 - 1

# Test seam: called just before the position is taken (a test holds a transaction open here
# to commit it late on purpose). Empty in production.
before_stamp: list[Callable[[], None]] = []

# The shift is 0 without its row (a database emptied by hand, or by the tests).
_POSITION = text(
    "SELECT CAST(CAST(pg_current_xact_id() AS text) AS bigint) "
    "+ COALESCE((SELECT shift FROM change_xid_shift WHERE id = 1), 0)"
)
# The snapshot's xmin would do (its oldest running transaction), but transaction ids are
# the whole cluster's: a long transaction in another database would hold this one's pulls
# back too. So the running transactions that pg_stat_activity shows, read after the snapshot
# was taken, in another database are left out. One that ended meanwhile, or that this role
# may not see, or a prepared one, is not shown there and still counts: it may be this
# database's, and rows it committed after the snapshot are not in the page.
_WATERMARK = text(
    "SELECT CAST(CAST(COALESCE("
    "(SELECT min(running.xid) FROM pg_snapshot_xip(pg_current_snapshot()) AS running(xid) "
    "WHERE CAST(running.xid AS xid) NOT IN (SELECT backend_xid FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())), "
    "pg_snapshot_xmax(pg_current_snapshot())) AS text) AS bigint) "
    "+ COALESCE((SELECT shift FROM change_xid_shift WHERE id = 1), 0)"
)
# Raise the shift when the next transaction id, shifted, would not be above every stamped
# position (``highest``); never lower it.
_RAISE_SHIFT = text(
    "INSERT INTO change_xid_shift (id, shift) "
    "SELECT 1, :highest + 1 - now.xid "
    "FROM (SELECT CAST(CAST(pg_current_xact_id() AS text) AS bigint) AS xid) AS now "
    "WHERE now.xid + COALESCE((SELECT shift FROM change_xid_shift WHERE id = 1), 0) "
    "<= :highest "
    "ON CONFLICT (id) DO UPDATE SET shift = GREATEST(change_xid_shift.shift, excluded.shift)"
)

# Engines (by URL) whose shift this process has checked (_check_shift).
_checked: set[str] = set()
_checking = threading.Lock()


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _check_shift() -> None:
    """Once per process and database: make sure the next transaction ids, shifted, land
    above every position already stamped. Only a database restored onto another cluster
    (transaction ids started again) needs the shift raised; then the first process to look
    raises it, before it hands out or reads below anything, in its own transaction."""
    url = db.engine.url.render_as_string(hide_password=True)
    if url in _checked:
        return
    with _checking:
        if url in _checked:
            return
        with db.engine.begin() as connection:
            highest = max(
                connection.execute(select(func.max(table(model).c.change_seq))).scalar() or 0
                for model in PULLED_MODELS.values()
            )
            connection.execute(_RAISE_SHIFT, {"highest": highest})
        _checked.add(url)


def take_position() -> int:
    """The position of this transaction's changes, for a transaction that writes the
    stamped rows itself (a push puts it in the rows it inserts and updates anyway, sparing
    an UPDATE of every row). On SQLite it takes the counter, so it is taken as late as
    possible, after any slow work; on PostgreSQL it is the same for the whole transaction
    and takes no lock."""
    for hook in before_stamp:
        hook()
    if _is_postgresql():
        _check_shift()
        return int(db.session.execute(_POSITION).scalar_one())
    statement = (
        sqlite.insert(ChangeCounter)
        .values(id=1, value=1)
        .on_conflict_do_update(
            index_elements=[ChangeCounter.id], set_={"value": ChangeCounter.value + 1}
        )
        .returning(ChangeCounter.value)
    )
    return int(db.session.execute(statement).scalar_one())


def watermark() -> int:
    """The first position a pull must not serve yet, read in the pull's snapshot: every
    position below it is committed (or rolled back) for good."""
    if not _is_postgresql():
        return NO_WATERMARK
    _check_shift()
    return int(db.session.execute(_WATERMARK).scalar_one())


def stamp(touched: Mapping[str, Iterable[object]]) -> int | None:
    """Stamp every touched row (entity name -> primary keys) with the transaction's
    position; the position, or None when nothing was touched."""
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
