"""Pull: the changes in a device's scope after a position of the change sequence.

A position is (change_seq, entity rank, key): rows are served in that order, so a page may
end in the middle of one transaction's changes and the next page goes on from the exact row.
Only rows below the watermark read in the page's snapshot are served (store/changes.py):
every position below it is final, so a cursor never passes a change committed later.
Each row carries only its latest position, so a record appears once per advance with its
latest state. Scope: the caller's units (groups only, for a group assignment), those still in
their grace period, the households there, all their visits, and the caller's assignments.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Dialect

from domain.records import (
    HOUSEHOLD_KEYS,
    HOUSEHOLD_REFS,
    VISIT_KEYS,
    VISIT_REFS,
    VISIT_TIMES,
    rfc3339,
)

from ..extensions import db
from ..models import Assignment, Device, Household, Unit, User, Visit, table
from .changes import PULLED_MODELS, watermark
from .engine import begin_read_snapshot
from .units import Scope, parent_refs, scope_condition

RANKS = {"unit": 0, "assignment": 1, "household": 2, "visit": 3}
ENTITIES = tuple(RANKS)
START: tuple[int, int, Any] = (-1, -1, "")

# Households and visits are read as plain tuples in the order their records show them
# (domain/records.py), with the unit and user ids in the places of the refs shown instead.
# What this writes is described by schemas/sync.py (PullResponseSchema) and the record
# schemas; tests/api/test_sync_pull.py checks every kind of change against them.
_STORED = {"ward": "ward_id", "group": "group_id", "canvasser": "canvasser_id"}
_H = {key: i for i, key in enumerate(HOUSEHOLD_KEYS)}
_V = {key: i for i, key in enumerate(VISIT_KEYS)}
_V_TIMES = tuple(_V[key] for key in VISIT_TIMES)


@functools.lru_cache(maxsize=256)
def _flags(text: str) -> tuple[str, ...]:
    """A visit's stored flags: a handful of distinct JSON texts across thousands of rows
    (a page decodes 500), so each is decoded once."""
    return tuple(json.loads(text))


def _flags_list(value: Any) -> Any:
    """The stored flags (JSON text) as the list the API shows; a fresh list per record, so
    one record's list is never another's."""
    return list(_flags(value)) if isinstance(value, str) else value


@contextmanager
def read_snapshot() -> Iterator[int]:
    """One read snapshot for everything a pull page reads (its changes and the device's
    last_mutation_id), ended when the page is read; it yields the snapshot's watermark
    (store/changes.py), read first: on PostgreSQL the snapshot is taken by that very
    statement, so the transactions that end between the snapshot and the look at
    pg_stat_activity, which hold the watermark back for this page, are as few as can be."""
    begin_read_snapshot()
    try:
        yield watermark()
    finally:
        db.session.rollback()


# PostgreSQL plans the page queries from the tables' statistics. A table filled since it
# was made has none until autovacuum analyses it (up to a minute or more later), and then
# the planner guesses a ward holds a handful of households and reads the visits of every one
# of them for each page (0.36 s a page of 500, against 2 ms once analysed). So the first
# push that finds the households or visits grown past this size without statistics
# analyses them itself, after it has committed.
ANALYSE_FROM_BYTES = 512 * 1024
_UNANALYSED = text(
    "SELECT relname FROM pg_class "
    "WHERE oid IN ('households'::regclass, 'visits'::regclass) AND reltuples < 0 "
    "AND pg_relation_size(oid) >= :size"
)
# Databases (by URL) whose pulled tables this process has seen analysed: never again.
_analysed: set[str] = set()


def analyse_if_unanalysed() -> bool:
    """Analyse the households and visits tables when they have grown without statistics
    (PostgreSQL; a no-op elsewhere); True if this call analysed them. Outside any write
    transaction: ANALYZE takes no lock a writer waits for, SKIP_LOCKED passes a table
    autovacuum is analysing, and one process at a time does it (an advisory lock)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    url = db.engine.url.render_as_string(hide_password=True)
    if url in _analysed:
        return False
    try:
        tables = list(db.session.execute(_UNANALYSED, {"size": ANALYSE_FROM_BYTES}).scalars())
        if not tables:
            if not db.session.execute(
                text(
                    "SELECT 1 FROM pg_class WHERE oid IN ('households'::regclass, "
                    "'visits'::regclass) AND reltuples < 0"
                )
            ).first():
                _analysed.add(url)  # both have statistics: autovacuum keeps them now
            return False
        if not db.session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext('field_server.analyse'))")
        ).scalar_one():
            return False  # another process is at it
        db.session.execute(text("ANALYZE (SKIP_LOCKED) households, visits"))
        db.session.commit()
        return True
    finally:
        db.session.rollback()


@dataclass(frozen=True)
class PullScope:
    user_id: int
    units: Scope  # the unit subtrees (and their ancestors, for units)
    ward_ids: frozenset[int]  # wards wholly in scope
    group_ids: frozenset[int]  # groups in scope (households of those groups only)

    def fingerprint(self) -> str:
        text = ",".join(f"{i}:{p}" for i, p in sorted(self.units.roots))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def pull_scope(user_id: int, roots: Sequence[tuple[int, str]]) -> PullScope:
    scope = Scope(everything=False, roots=tuple(roots))
    ward_ids: set[int] = set()
    group_ids: set[int] = set()
    if roots:
        units = table(Unit)
        rows = db.session.connection().execute(
            select(units.c.id, units.c.level, units.c.parent_id).where(
                or_(*[units.c.path.startswith(path) for _, path in roots]),
                units.c.level.in_(("ward", "group")),
            )
        )
        found = [(id_, level, parent_id) for id_, level, parent_id in rows]
        ward_ids = {id_ for id_, level, _ in found if level == "ward"}
        group_ids = {
            id_ for id_, level, parent in found if level == "group" and parent not in ward_ids
        }
    return PullScope(user_id, scope, frozenset(ward_ids), frozenset(group_ids))


# The page's small lookups, built once (their keys bound at execution) and run on the
# session's connection as Core statements: the ORM's layer, and a statement built and keyed
# anew each time, cost more than these queries themselves.
_D = table(Device)
_LAST_MUTATION_ID = select(_D.c.last_mutation_id).where(_D.c.device_id == bindparam("device_id"))
_UN, _US = table(Unit), table(User)
# What the page's records name, in one statement (kind, id, text): 0, a unit's id and its
# 'scheme:code'; 1, a user's id and username; 2, one of the caller's own devices. Only
# those devices are named in a pull: any other device id would let its holder try to claim
# that tablet (docs/sync-protocol.md).
_NAMED = union_all(
    select(
        literal_column("0").label("kind"),
        _UN.c.id,
        (_UN.c.scheme + ":" + _UN.c.code).label("text"),
    ).where(_UN.c.id.in_(bindparam("unit_ids", expanding=True))),
    select(literal_column("1"), _US.c.id, _US.c.username).where(
        _US.c.id.in_(bindparam("user_ids", expanding=True))
    ),
    select(literal_column("2"), cast(null(), Integer), _D.c.device_id).where(
        _D.c.device_id.in_(bindparam("device_ids", expanding=True)),
        _D.c.user_id == bindparam("user_id"),
    ),
)


def last_mutation_id(device_id: str) -> int:
    """The device's last acknowledged mutation, read in the pull's snapshot."""
    value = db.session.connection().execute(_LAST_MUTATION_ID, {"device_id": device_id}).scalar()
    return 0 if value is None else value


def _compare(rank: int, last_rank: int) -> int:
    return (rank > last_rank) - (rank < last_rank)


def _after(seq: Any, key: Any, order: int, name: str) -> Any:
    """Positions after a bound one (``name``_seq, ``name``_key) of an entity ranked
    ``order`` (-1, 0, 1) against the bound position's entity."""
    bound_seq = bindparam(f"{name}_seq", type_=BigInteger())
    if order > 0:
        return seq >= bound_seq
    if order < 0:
        return seq > bound_seq
    bound_key = bindparam(f"{name}_key", type_=key.type)
    # The first term is implied by the second; it gives the planner an index range.
    return and_(seq >= bound_seq, or_(seq > bound_seq, and_(seq == bound_seq, key > bound_key)))


def _up_to(seq: Any, key: Any, order: int, name: str) -> Any:
    """Positions up to and including a bound one: the complement of _after."""
    bound_seq = bindparam(f"{name}_seq", type_=BigInteger())
    if order > 0:
        return seq < bound_seq
    if order < 0:
        return seq <= bound_seq
    bound_key = bindparam(f"{name}_key", type_=key.type)
    return and_(seq <= bound_seq, or_(seq < bound_seq, key <= bound_key))


def _not_indexed(column: Any, dialect: str) -> Any:
    """The column as an expression no index serves, on SQLite: its planner would otherwise
    read a whole ward through the ward index and sort it, for every page (quadratic in the
    ward's size, and a full ward per incremental pull), instead of walking the change_seq
    index from the cursor and stopping after ``limit`` rows. PostgreSQL's planner weighs
    both by statistics and is left alone."""
    if dialect != "sqlite":
        return column
    return column.concat("") if isinstance(column.type, String) else column + 0


def _household_in_scope(scope: PullScope, dialect: str) -> Any:
    clauses = []
    if scope.ward_ids:
        clauses.append(_not_indexed(Household.ward_id, dialect).in_(scope.ward_ids))
    if scope.group_ids:
        clauses.append(_not_indexed(Household.group_id, dialect).in_(scope.group_ids))
    return or_(*clauses) if clauses else Household.id.is_(None)


def _in_scope(query: Any, scope: PullScope, rank: int, dialect: str) -> Any:
    if rank == 0:
        condition = scope_condition(scope.units)
        return query if condition is None else query.where(condition)
    if rank == 1:
        return query.where(Assignment.user_id == scope.user_id)
    if rank == 2:
        return query.where(_household_in_scope(scope, dialect))
    # Joined, not `household_id IN (in-scope households)`: that list is built from every
    # household in scope for each page, where the join looks up only the page's households.
    return query.join(Household, Household.id == Visit.household_id).where(
        _household_in_scope(scope, dialect)
    )


def _model(rank: int) -> Any:
    """The model of an entity rank (PULLED_MODELS holds them as plain types)."""
    return PULLED_MODELS[ENTITIES[rank]]


def _position_columns(rank: int) -> tuple[Any, Any]:
    model = _model(rank)
    return model.change_seq, model.id


# Statements are built once per scope and cursor shape (a device keeps both from page to
# page): building the expressions cost more than running the queries. The scope's ids are
# bound values inside the statement; positions are bound at execution.


def _positions(dialect: str, scope: PullScope, last_rank: int) -> list[Any]:
    """Each entity's positions in scope after the cursor, as (rank, change_seq, integer
    key, text key): the arms of one UNION ALL (units and assignments have integer ids,
    households and visits text ones)."""
    arms = []
    for rank in range(len(ENTITIES)):
        seq, key = _position_columns(rank)
        whole = rank < RANKS["household"]
        shown: tuple[Any, ...] = (
            literal_column(str(rank)).label("rank"),
            seq.label("seq"),
            (key if whole else cast(null(), Integer)).label("int_key"),
            (cast(null(), String) if whole else key).label("text_key"),
        )
        arm = _in_scope(select(*shown), scope, rank, dialect)
        arms.append(arm.where(_after(seq, key, _compare(rank, last_rank), "since")))
    return arms


@functools.lru_cache(maxsize=1024)
def _merged_keys_statement(dialect: str, scope: PullScope, last_rank: int, count: int) -> Any:
    """The first ``count`` positions of all four entities after the cursor and below the
    watermark, in one statement (one statement per entity cost a round trip each).

    SQLite runs it as a merge of the entities' change_seq index walks that stops after
    ``count`` rows, in page order. PostgreSQL would rather read and sort every position
    after the cursor, so each entity there keeps its own walk of the change_seq index,
    ordered by change_seq alone and cut at ``count`` (ordering by the key as well made it
    read and sort every row after the cursor on a database without statistics), and
    ``_next_keys`` orders the keys of the last change_seq itself."""
    below = bindparam("watermark", type_=BigInteger())
    arms = [
        arm.where(arm.selected_columns.seq < below) for arm in _positions(dialect, scope, last_rank)
    ]
    if dialect == "sqlite":
        order: list[Any] = [literal_column(name) for name in ("seq", "rank", "int_key", "text_key")]
        return union_all(*arms).order_by(*order).limit(count)
    walks = [select(arm.order_by(arm.selected_columns.seq).limit(count).subquery()) for arm in arms]
    return union_all(*walks).order_by(literal_column("seq")).limit(count)


@functools.lru_cache(maxsize=1024)
def _group_statement(dialect: str, scope: PullScope, last_rank: int) -> Any:
    """All positions after the cursor at one change_seq (``group_seq``), of every entity."""
    group = bindparam("group_seq", type_=BigInteger())
    return union_all(
        *(
            arm.where(arm.selected_columns.seq == group)
            for arm in _positions(dialect, scope, last_rank)
        )
    )


def _next_keys(
    connection: Any, scope: PullScope, last_rank: int, params: dict[str, Any], count: int
) -> list[tuple[int, int, Any]]:
    """The first ``count`` positions (change_seq, rank, key) after the cursor, in order. On
    PostgreSQL the first ``count`` by change_seq alone hold every position before the last
    change_seq among them; all those at that last one are read too, and the first ``count``
    of the union in (change_seq, rank, key) order are the answer."""
    dialect = connection.dialect.name
    merged = _merged_keys_statement(dialect, scope, last_rank, count)
    found = [_position(row) for row in _driver_rows(connection, merged, params)]
    if dialect != "postgresql":
        return found  # in page order already
    if len(found) < count:
        return sorted(found)
    group = _group_statement(dialect, scope, last_rank)
    rest = _driver_rows(connection, group, {**params, "group_seq": found[-1][0]})
    return sorted(set(found).union(map(_position, rest)))[:count]


def _driver_rows(connection: Any, statement: Any, params: dict[str, Any]) -> list[Any]:
    """A page's keys or its households' and visits' rows, as the driver's plain tuples: the
    statement runs as any other, but its rows are taken from the DBAPI cursor, without
    SQLAlchemy's row objects, which cost more than reading the rows did. Only for columns
    that need no conversion on the way out but a boolean's 0/1 (``_dump`` writes the visits'
    ``voided`` itself)."""
    result = connection.execute(statement, params)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _position(row: Any) -> tuple[int, int, Any]:
    rank, seq, int_key, text_key = row
    return seq, rank, int_key if text_key is None else text_key


def _rfc3339_text(column: Any) -> Any:
    """PostgreSQL: a timestamptz as the text rfc3339() writes (UTC, a Z, microseconds only
    when there are some), by the database: parsing it into a datetime only to format it
    again cost more. Spelled with to_char, whose patterns hold whatever the session's
    DateStyle (a timestamp's own text follows it)."""
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    micro = func.to_char(utc, "US")
    return type_coerce(
        func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
        + case((micro == "000000", ""), else_="." + micro)
        + "Z",
        String(),
    )


@functools.lru_cache(maxsize=16)
def _columns(dialect: str, rank: int) -> tuple[Any, ...]:
    """What a page shows of one entity: households and visits in their records' key order."""
    stored = table(_model(rank))
    if rank == 2:
        return tuple(stored.c[_STORED.get(key, key)] for key in HOUSEHOLD_KEYS)
    if rank == 3:
        columns: list[ColumnElement[Any]] = [stored.c[_STORED.get(key, key)] for key in VISIT_KEYS]
        if dialect == "sqlite":
            # SQLite keeps a time as text: turned into RFC 3339 by _time_text directly,
            # never parsed into a datetime only to be formatted again.
            columns = [
                type_coerce(c, String()) if key in VISIT_TIMES else c
                for key, c in zip(VISIT_KEYS, columns, strict=True)
            ]
        else:
            columns = [
                _rfc3339_text(c).label(key) if key in VISIT_TIMES else c
                for key, c in zip(VISIT_KEYS, columns, strict=True)
            ]
        return tuple(columns)
    return tuple(stored.c)


@functools.lru_cache(maxsize=1024)
def _rows_statement(dialect: str, scope: PullScope, rank: int, since: int, until: int) -> Any:
    """The full rows of one entity's records on the page: those in scope from the cursor to
    the page's last position. In one snapshot that range holds exactly the keys the page
    was cut from, and reading it walks the change_seq index like the keys query, where a
    lookup by primary key of each record (an `IN` list of hundreds of ids) cost more."""
    seq, key = _position_columns(rank)
    query = _in_scope(select(*_columns(dialect, rank)), scope, rank, dialect)
    return query.where(_after(seq, key, since, "since"), _up_to(seq, key, until, "until"))


def _as_written(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=4)
def _time_text(dialect: Dialect) -> Callable[[Any], str | None]:
    """How a visit's time column, as _rows_statement reads it, becomes RFC 3339 text."""
    if dialect.name != "sqlite":
        return _as_written  # written by the database (_rfc3339_text)
    column_type = table(Visit).c.received_at.type
    parse: Any = column_type.dialect_impl(dialect).result_processor(dialect, None)

    def text(value: str | None) -> str | None:
        # The stored text is UTC without a zone, 'YYYY-MM-DD HH:MM:SS' with or without
        # '.ffffff' (both are written); rfc3339() leaves out a zero fraction. Anything
        # else is parsed and formatted the slow way, as the column type would.
        if value is None:
            return None
        if value[4:5] == "-" and value[10:11] == " " and value[13:14] == ":":
            if len(value) == 19:
                return f"{value[:10]}T{value[11:]}Z"
            if len(value) == 26 and value[19] == "." and value[20:].isdigit():
                if value.endswith("000000"):
                    return f"{value[:10]}T{value[11:19]}Z"
                return f"{value[:10]}T{value[11:]}Z"
        parsed: Any = parse(value) if parse else value
        return rfc3339(parsed)

    return text


def pull_page(
    scope: PullScope, position: tuple[int, int, Any], limit: int, below: int
) -> tuple[list[dict[str, Any]], tuple[int, int, Any], bool]:
    """(changes, position after the last one, has_more), of the positions below ``below``
    (the watermark ``read_snapshot`` gave).

    Two steps: the next ``limit + 1`` positions of all four entities (keys only, one
    statement: ``_next_keys``) to find where the page ends, then the full rows of just the
    page's records. Fetching ``limit + 1`` full rows of all four entities to keep a quarter
    of them cost more than the queries did.
    """
    # Core statements on the session's connection (its snapshot), not ORM objects: a page
    # is read-only and building objects costs more than the query.
    connection = db.session.connection()
    dialect = connection.dialect
    seq, last_rank, last_key = position
    params: dict[str, Any] = {"since_seq": seq, "watermark": below}
    if last_rank >= 0:
        params["since_key"] = last_key
    keys = _next_keys(connection, scope, last_rank, params, limit + 1)
    page_keys, has_more = keys[:limit], len(keys) > limit
    new_position = page_keys[-1] if page_keys else position
    end_seq, end_rank, end_key = new_position

    rows: dict[tuple[int, Any], Any] = {}
    for rank in {r for _, r, _ in page_keys}:
        since, until = _compare(rank, last_rank), _compare(rank, end_rank)
        params = {"since_seq": seq, "until_seq": end_seq}
        if since == 0:
            params["since_key"] = last_key
        if until == 0:
            params["until_key"] = end_key
        query = _rows_statement(dialect.name, scope, rank, since, until)
        # Households and visits are plain tuples from the driver (see _driver_rows); units
        # and assignments are rows the dump reads by name. Every id is the first column.
        if rank >= RANKS["household"]:
            found_rows: Any = _driver_rows(connection, query, params)
        else:
            found_rows = connection.execute(query, params)
        rows.update({(rank, row[0]): row for row in found_rows})
    missing = [(rank, key) for _, rank, key in page_keys if (rank, key) not in rows]
    for rank in {r for r, _ in missing}:
        # Only when the database orders keys unlike Python (a collation ignoring case or
        # dashes): the range then differs from the page, so read the rest by primary key.
        stored = table(_model(rank))
        wanted = [key for r, key in missing if r == rank]
        query = select(*_columns(dialect.name, rank)).where(stored.c.id.in_(wanted))
        rows.update(((rank, row.id), row) for row in connection.execute(query).all())
    page = [(ENTITIES[rank], rows[rank, key]) for _, rank, key in page_keys]
    return _dump(page, _time_text(dialect), scope.user_id), new_position, has_more


def _dump(
    page: list[tuple[str, Any]], time_text: Callable[[Any], str | None], user_id: int
) -> list[dict]:
    parents = parent_refs([row for entity, row in page if entity == "unit"])
    unit_ids: set[int] = set()
    user_ids: set[int] = set()
    device_ids: set[str] = set()
    v_device = _V["device_id"]
    for entity, row in page:
        if entity == "assignment":
            unit_ids.add(row.unit_id)
        elif entity == "household":
            unit_ids.add(row[_H["ward"]])
            if row[_H["group"]]:
                unit_ids.add(row[_H["group"]])
        elif entity == "visit":
            unit_ids.add(row[_V["ward"]])
            if row[_V["group"]]:
                unit_ids.add(row[_V["group"]])
            user_ids.add(row[_V["canvasser"]])
            device_ids.add(row[v_device])
    refs: dict[int, str] = {}
    usernames: dict[int, str] = {}
    own_devices: set[str] = set()
    if unit_ids or user_ids or device_ids:
        named = {
            "unit_ids": sorted(unit_ids),
            "user_ids": sorted(user_ids),
            "device_ids": sorted(device_ids),
            "user_id": user_id,
        }
        for kind, id_, text_ in db.session.connection().execute(_NAMED, named):
            if kind == 0:
                refs[id_] = text_
            elif kind == 1:
                usernames[id_] = text_
            else:
                own_devices.add(text_)
    shown: dict[str, Callable[[Any], Any]] = {
        "ward": refs.__getitem__,
        "group": refs.get,
        "canvasser": usernames.get,
    }
    household_refs = [(_H[key], shown[key]) for key in HOUSEHOLD_REFS]
    visit_refs = [(_V[key], shown[key]) for key in VISIT_REFS]
    h_id, h_version, h_merged = _H["id"], _H["version"], _H["merged_into"]
    v_id, v_version, v_flags, v_voided = _V["id"], _V["version"], _V["flags"], _V["voided"]

    changes: list[dict] = []
    append = changes.append
    for entity, row in page:
        if entity == "visit":
            if row[v_voided]:
                append({"entity": "visit", "op": "delete", "id": row[v_id]})
                continue
            values = list(row)
            for i, show in visit_refs:
                values[i] = show(values[i])
            for i in _V_TIMES:
                values[i] = time_text(values[i])
            values[v_flags] = _flags_list(values[v_flags])
            values[v_voided] = False  # SQLite's driver gives 0
            if values[v_device] not in own_devices:
                values[v_device] = None
            append(
                {
                    "entity": "visit",
                    "op": "upsert",
                    "id": row[v_id],
                    "version": row[v_version],
                    "data": dict(zip(VISIT_KEYS, values, strict=True)),
                }
            )
        elif entity == "household":
            if row[h_merged]:
                append(
                    {
                        "entity": "household",
                        "op": "merge",
                        "id": row[h_id],
                        "data": {"into": row[h_merged]},
                    }
                )
                continue
            values = list(row)
            for i, show in household_refs:
                values[i] = show(values[i])
            append(
                {
                    "entity": "household",
                    "op": "upsert",
                    "id": row[h_id],
                    "version": row[h_version],
                    "data": dict(zip(HOUSEHOLD_KEYS, values, strict=True)),
                }
            )
        elif entity == "unit":
            append(
                {
                    "entity": "unit",
                    "op": "upsert",
                    "id": f"{row.scheme}:{row.code}",
                    "version": row.version,
                    "data": {
                        "scheme": row.scheme,
                        "code": row.code,
                        "name": row.name,
                        "level": row.level,
                        "parent": parents.get(row.parent_id),
                        "adult_population": row.adult_population,
                        "target_rate": row.target_rate,
                    },
                }
            )
        else:
            append(
                {
                    "entity": "assignment",
                    "op": "upsert",
                    "id": str(row.id),
                    "version": row.version,
                    "data": {
                        "id": str(row.id),
                        "unit": refs.get(row.unit_id),
                        "starts_at": rfc3339(row.starts_at),
                        "ends_at": rfc3339(row.ends_at),
                    },
                }
            )
    return changes
