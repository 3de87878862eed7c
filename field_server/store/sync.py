"""Push persistence: load what a batch can touch, write the plan back, in bulk.

``load_push_context`` runs a fixed handful of set-based queries whatever the batch size
(the ledger, units, households with their merge chains, visits, revisions, possible
duplicates, the canvasser's recent visit times); ``write_push`` writes the plan with one
executemany per table and stamps the change sequence. Never one round trip per mutation.

The inserts bypass SQLAlchemy's per-row parameter processing (which cost more than the
inserts themselves): the statement is compiled once per table and column set, and rows go
to the driver's executemany as plain values, converted by the columns' own bind processors
only where a type has one (times, booleans), and once per distinct object for the batch's
shared timestamp. Everything stays bound parameters. On PostgreSQL each table's rows go as
one JSON parameter to one ``INSERT ... SELECT FROM json_populate_recordset``: one statement
for the batch, where an executemany (pipelined, but still one execution per row) cost
several times more on the server.

On PostgreSQL the lookups by key are shaped so that an index probe per key is the only
plan (``_probe``): with an ``IN`` list of hundreds of keys, a table without statistics yet
(a freshly filled database) was scanned whole for every push, a cost growing with the table.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    BindParameter,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import UserDefinedType

from domain.hlc import parse_hlc
from domain.push import (
    HouseholdState,
    PushContext,
    PushPlan,
    RevisionInfo,
    UnitInfo,
    VisitState,
    normalised_address,
)
from domain.records import HOUSEHOLD_FIELDS, VISIT_FIELDS, Counters
from domain.review import queue_rank
from domain.stats import difference
from domain.validation import NUL, is_unit_ref, is_uuid, parse_time

from ..extensions import db
from ..models import (
    Conflict,
    Device,
    DeviceMutation,
    Household,
    Revision,
    Unit,
    UTCDateTime,
    Visit,
    table,
)
from . import changes, figures
from .batching import chunks

H = table(Household)
V = table(Visit)
U = table(Unit)


# Built once, as the other reads below that every push makes.
_LOCK_DEVICE = select(Device).where(Device.device_id == bindparam("device_id")).with_for_update()


def lock_device(device_id: str) -> Device:
    """The device row, locked for this transaction (pushes of one device queue here)."""
    device: Device = db.session.execute(_LOCK_DEVICE, {"device_id": device_id}).scalar_one()
    return device


def get_device(device_id: str) -> Device | None:
    """The device row, read (``GET /sync/status``)."""
    return db.session.get(Device, device_id)


# --- loading -----------------------------------------------------------------------------


# What a batch names is looked up before the planner checks it: only well-formed values
# are, since a malformed one can match nothing, and PostgreSQL refuses some outright as
# query parameters (a NUL character) that one bad mutation must not turn into a failed push.


def _uuid(value: Any) -> str | None:
    return value if is_uuid(value) else None


def _unit_ref(value: Any) -> str | None:
    return value if is_unit_ref(value) else None


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


@functools.lru_cache(maxsize=32)
def _probe(table: Table, key: str, extra: tuple[str, ...] = ()) -> Select[Any]:
    """PostgreSQL: the rows of ``table`` whose ``key`` is one of the array ``:values`` (and
    each column named in ``extra`` equal to the parameter of its name), one index probe per
    value: a LATERAL subquery behind an OFFSET 0 fence cannot be turned into a scan of the
    whole table joined to the values, whatever the statistics say. No rows for a value
    found nowhere; a row once per value naming it (the values are distinct)."""
    column = table.c[key]
    # Text without the column's length: a cast to VARCHAR(n)[] would cut a longer value
    # short, and the cut value could then match a row the whole one does not.
    element = String() if isinstance(column.type, String) else column.type
    wanted = (
        func.unnest(bindparam("values", type_=postgresql.ARRAY(element)))
        .table_valued("value")
        .render_derived()
        .alias("wanted")
    )
    conditions = [column == wanted.c.value, *(table.c[name] == bindparam(name) for name in extra)]
    found = select(table).where(*conditions).offset(0).lateral("found")
    return select(*found.c).select_from(wanted.join(found, true()))


@functools.lru_cache(maxsize=32)
def _probe_locked(table: Table, key: str, extra: tuple[str, ...] = ()) -> Select[Any]:
    """``_probe`` FOR UPDATE, the rows locked in key order (built once: small pushes ran
    this build as often as the query)."""
    statement = _probe(table, key, extra)
    return statement.order_by(statement.selected_columns[key]).with_for_update()


def _rows_by_key(
    table: Table,
    key: str,
    values: Iterable[Any],
    *,
    lock: bool = False,
    **equal: Any,
) -> list[Any]:
    """The rows of ``table`` whose ``key`` is among ``values`` (and whose ``equal`` columns
    hold those values), in chunks; ``lock``: FOR UPDATE, taken in key order (PostgreSQL)."""
    rows: list[Any] = []
    if _is_postgresql():
        statement = (_probe_locked if lock else _probe)(table, key, tuple(sorted(equal)))
        for chunk in chunks(sorted(values) if lock else values):
            rows += db.session.execute(statement, {"values": chunk, **equal}).all()
        return rows
    statement = _listed(table, key, tuple(sorted(equal)))
    for chunk in chunks(values):
        rows += db.session.execute(statement, {"values": chunk, **equal}).all()
    return rows


@functools.lru_cache(maxsize=32)
def _listed(table: Table, key: str, extra: tuple[str, ...] = ()) -> Select[Any]:
    """SQLite: ``_probe`` as an ``IN`` list (SQLite probes the index for each value), built
    once and bound at execution."""
    values: BindParameter[Any] = bindparam("values", expanding=True)
    return select(table).where(
        table.c[key].in_(values), *(table.c[name] == bindparam(name) for name in extra)
    )


def _unit_info(row: Any) -> UnitInfo:
    return UnitInfo(
        id=row.id,
        ref=f"{row.scheme}:{row.code}",
        level=row.level,
        parent_id=row.parent_id,
        path=row.path,
    )


_UNITS_BY_CODE = select(U).where(
    U.c.scheme == bindparam("scheme"), U.c.code.in_(bindparam("codes", expanding=True))
)
_UNITS_BY_ID = select(U).where(U.c.id.in_(bindparam("ids", expanding=True)))


def _load_units(refs: set[str], ids: set[int]) -> tuple[dict[str, UnitInfo], dict[int, UnitInfo]]:
    rows: list[Any] = []
    pairs = [r.split(":", 1) for r in refs if r.count(":") == 1]
    by_scheme: dict[str, list[str]] = {}
    for scheme, code in pairs:
        by_scheme.setdefault(scheme, []).append(code)
    for scheme, codes in by_scheme.items():
        for chunk in chunks(codes):
            rows += db.session.execute(_UNITS_BY_CODE, {"scheme": scheme, "codes": chunk}).all()
    for id_chunk in chunks(ids):
        rows += db.session.execute(_UNITS_BY_ID, {"ids": id_chunk}).all()
    infos = [_unit_info(r) for r in rows]
    return {u.ref: u for u in infos}, {u.id: u for u in infos}


def _household_state(row: Any, units: dict[int, UnitInfo]) -> HouseholdState:
    ward = units.get(row.ward_id)
    group = units.get(row.group_id) if row.group_id else None
    data = {
        "ward": ward.ref if ward else None,
        "group": group.ref if group else None,
        **{name: getattr(row, name) for name in HOUSEHOLD_FIELDS if name not in ("ward", "group")},
    }
    first = (row.first_lat, row.first_lon) if row.first_lat is not None else None
    return HouseholdState(
        id=row.id,
        ward_id=row.ward_id,
        group_id=row.group_id,
        version=row.version,
        data=data,
        address_norm=row.address_norm,
        first_pos=first,
        merged_into=row.merged_into,
        counters=Counters(**{name: getattr(row, name) for name in Counters.__dataclass_fields__}),
    )


def _visit_state(row: Any) -> VisitState:
    return VisitState(
        id=row.id,
        household_id=row.household_id,
        ward_id=row.ward_id,
        group_id=row.group_id,
        canvasser_id=row.canvasser_id,
        device_id=row.device_id,
        version=row.version,
        data={name: getattr(row, name) for name in VISIT_FIELDS},
        review_status=row.review_status,
        voided=row.voided,
        flags=json.loads(row.flags),
        order_key=(row.order_ms, row.order_counter, row.order_node),
        hlc=row.hlc,
        void_reason=row.void_reason,
    )


def load_push_context(
    *,
    device_id: str,
    last_mutation_id: int,
    user_id: int,
    username: str,
    raws: list[dict[str, Any]],
    scope_paths: tuple[str, ...],
) -> PushContext:
    # The ward paths read below are those the push's counters follow (figures.measure).
    figures.hold_tree()
    first = raws[0].get("mutation_id", 0) if raws else last_mutation_id + 1
    last = raws[-1].get("mutation_id", 0) if raws else first
    ledger: dict[int, tuple[str, dict[str, Any]]] = {}
    if first <= last_mutation_id:
        rows = db.session.execute(
            select(
                DeviceMutation.mutation_id, DeviceMutation.content_hash, DeviceMutation.result
            ).where(
                DeviceMutation.device_id == device_id,
                DeviceMutation.mutation_id.between(first, min(last, last_mutation_id)),
            )
        ).all()
        ledger = {r.mutation_id: (r.content_hash, json.loads(r.result)) for r in rows}

    household_ids: set[str] = set()
    visit_ids: set[str] = set()
    unit_refs: set[str] = set()
    new_addresses: set[str] = set()
    times: list[datetime] = []
    for raw in raws:
        kind, record_id = raw.get("type"), _uuid(raw.get("id"))
        data: dict[str, Any] = raw["data"] if isinstance(raw.get("data"), dict) else {}
        if kind == "household.upsert" and record_id:
            household_ids.add(record_id)
            unit_refs.update(
                r for r in (_unit_ref(data.get("ward")), _unit_ref(data.get("group"))) if r
            )
            address = data.get("address")
            if isinstance(address, str) and NUL not in address:
                new_addresses.add(normalised_address(address))
        elif isinstance(kind, str) and kind.startswith("visit.") and record_id:
            visit_ids.add(record_id)
            if _uuid(data.get("household_id")):
                household_ids.add(data["household_id"])
            # Within the campaign's calendar, so the window below never leaves datetime's.
            if (when := parse_time(data.get("visited_at"))) is not None:
                times.append(when)

    visit_rows = _rows_by_key(V, "id", visit_ids)
    household_ids.update(r.household_id for r in visit_rows)

    household_rows: dict[str, Any] = {}
    wanted = set(household_ids)
    # On PostgreSQL two pushes to one household must not both derive its counters from the
    # visits each saw: lock the households (in id order, so no two pushes wait crosswise)
    # before their visits are read. SQLite's writers run one at a time anyway.
    lock = _is_postgresql()
    while wanted:  # follow merge chains to their survivors
        found = _rows_by_key(H, "id", wanted, lock=lock)
        household_rows.update({r.id: r for r in found})
        wanted = {r.merged_into for r in found if r.merged_into} - set(household_rows)

    visit_rows += _rows_by_key(V, "household_id", household_rows)

    unit_ids = {r.ward_id for r in household_rows.values()}
    unit_ids |= {r.group_id for r in household_rows.values() if r.group_id}
    units_by_ref, units_by_id = _load_units(unit_refs, unit_ids)

    revisions: dict[tuple[str, str], list[RevisionInfo]] = {}
    for entity, ids in (("household", household_rows), ("visit", visit_ids)):
        for rev in _rows_by_key(table(Revision), "entity_id", ids, entity=entity):
            revisions.setdefault((entity, rev.entity_id), []).append(
                RevisionInfo(
                    version=rev.version,
                    previous=json.loads(rev.data),
                    changed=tuple(json.loads(rev.changed)),
                    author_role=rev.author_role,
                    hlc=parse_hlc(rev.hlc) if rev.hlc else None,
                )
            )

    address_index: dict[tuple[int, str], str] = {}
    ward_ids = {u.id for u in units_by_ref.values() if u.level == "ward"}
    if new_addresses and ward_ids and _is_postgresql():
        for ward_id in sorted(ward_ids):  # a batch names one ward, or a few
            for row in _rows_by_key(H, "address_norm", new_addresses, ward_id=ward_id):
                if row.merged_into is None:
                    address_index.setdefault((row.ward_id, row.address_norm), row.id)
    elif new_addresses and ward_ids:
        for chunk in chunks(new_addresses):
            rows = db.session.execute(
                select(H.c.id, H.c.ward_id, H.c.address_norm).where(
                    H.c.ward_id.in_(ward_ids),
                    H.c.address_norm.in_(chunk),
                    H.c.merged_into.is_(None),
                )
            ).all()
            for row in rows:
                address_index.setdefault((row.ward_id, row.address_norm), row.id)

    canvasser_times: list[datetime] = []
    if times:
        margin = timedelta(minutes=2)
        canvasser_times = list(
            db.session.execute(
                select(V.c.visited_at).where(
                    V.c.canvasser_id == user_id,
                    V.c.voided.is_(False),
                    V.c.visited_at.between(min(times) - margin, max(times) + margin),
                )
            ).scalars()
        )

    return PushContext(
        device_id=device_id,
        user_id=user_id,
        username=username,
        last_mutation_id=last_mutation_id,
        ledger=ledger,
        scope_paths=scope_paths,
        units_by_ref=units_by_ref,
        units_by_id=units_by_id,
        households={r.id: _household_state(r, units_by_id) for r in household_rows.values()},
        visits={r.id: _visit_state(r) for r in visit_rows},
        revisions=revisions,
        address_index=address_index,
        canvasser_times=canvasser_times,
    )


# --- writing -----------------------------------------------------------------------------


def _household_row(state: HouseholdState) -> dict[str, Any]:
    counters = state.counters
    return {
        "id": state.id,
        "ward_id": state.ward_id,
        "group_id": state.group_id,
        "address": state.data["address"],
        "address_norm": state.address_norm,
        "lat": state.data.get("lat"),
        "lon": state.data.get("lon"),
        "first_lat": state.first_pos[0] if state.first_pos else None,
        "first_lon": state.first_pos[1] if state.first_pos else None,
        "head_name": state.data.get("head_name"),
        "phone": state.data.get("phone"),
        "version": state.version,
        **{name: getattr(counters, name) for name in Counters.__dataclass_fields__},
        "merged_into": state.merged_into,
    }


_JSON_LISTS: dict[tuple[str, ...], str] = {}


def _json_list(values: list[str]) -> str:
    """JSON of a short list of names. The few that recur in nearly every row (a creation's
    field list, a visit's flags) are encoded once per process."""
    key = tuple(values)
    text = _JSON_LISTS.get(key)
    if text is None:
        text = json.dumps(values)
        if len(_JSON_LISTS) < 1024:
            _JSON_LISTS[key] = text
    return text


def _visit_row(state: VisitState) -> dict[str, Any]:
    return {
        "id": state.id,
        "household_id": state.household_id,
        "ward_id": state.ward_id,
        "group_id": state.group_id,
        "canvasser_id": state.canvasser_id,
        "device_id": state.device_id,
        **{name: state.data.get(name) for name in VISIT_FIELDS if name != "household_id"},
        "hlc": state.hlc,
        "order_ms": state.order_key[0],
        "order_counter": state.order_key[1],
        "order_node": state.order_key[2],
        "version": state.version,
        "review_status": state.review_status,
        "flags": _json_list(state.flags),
        "queue_rank": queue_rank(
            state.flags, state.review_status, state.data.get("priority_subjects")
        ),
        "voided": state.voided,
        "void_reason": state.void_reason,
    }


_Process = Callable[[Any], Any]
# (dialect, table, columns) -> (SQL, positional?, parameter names in order, bind processors)
_INSERTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, bool, list[str], list[Any]]] = {}


def _compiled_insert(
    dialect: Any, table: Table, columns: tuple[str, ...]
) -> tuple[str, bool, list[str], list[Any]]:
    key = (dialect.name, table.name, columns)
    if key not in _INSERTS:
        compiled = insert(table).values({c: bindparam(c) for c in columns}).compile(dialect=dialect)
        names = list(compiled.positiontup or ()) if compiled.positional else list(columns)
        processors = [table.c[name].type.bind_processor(dialect) for name in names]
        _INSERTS[key] = (str(compiled), compiled.positional, names, processors)
    return _INSERTS[key]


def _once_per_object(process: _Process) -> _Process:
    """A bind processor that converts a run of the same object (the batch's ``now`` in
    every row) once. Made per call: it keeps state."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[1] = process(value)
            last[0] = value
        return last[1]

    return convert


def _insert_many(table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows that all have the same keys, in one statement: on PostgreSQL one INSERT of a JSON
    record set (``_recordset_insert``), elsewhere (or for values JSON cannot carry) one
    driver executemany."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql" and _recordset_written(connection, table, rows):
        return
    sql, positional, names, processors = _compiled_insert(connection.dialect, table, tuple(rows[0]))
    values: list[Any] = list(map(itemgetter(*names), rows))
    converted = [(i, _once_per_object(p)) for i, p in enumerate(processors) if p is not None]
    if converted:
        rows_as_lists = [list(v) for v in values]
        for index, convert in converted:
            for value in rows_as_lists:
                value[index] = convert(value[index])
        values = [tuple(v) for v in rows_as_lists]
    if positional:
        connection.exec_driver_sql(sql, values)
    else:
        connection.exec_driver_sql(sql, [dict(zip(names, v, strict=True)) for v in values])


_TZINFO = attrgetter("tzinfo")


@functools.lru_cache(maxsize=64)
def _time_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.c if isinstance(c.type, UTCDateTime))


def _recordset_written(connection: Any, table: Table, rows: list[dict[str, Any]]) -> bool:
    """PostgreSQL: the rows as one JSON record set, encoded by orjson as they are; False
    when JSON cannot carry a value as it is (a whole number past 64 bits, which a float
    column takes), and the batch then goes the executemany way.

    The columns' bind conversions are not needed here: PostgreSQL reads JSON numbers into
    float columns and true/false into booleans (anything else it refuses), and an aware
    time in any offset into a timestamptz. A naive time is the one value it would take
    silently, in the session's zone, so it is refused here as the column type refuses it."""
    for name in _time_columns(table):
        # filter(None): a time is never false, so only the NULLs are left out.
        if name in rows[0] and None in map(_TZINFO, filter(None, map(itemgetter(name), rows))):
            raise ValueError(f"naive datetime given to a UTC column ({name})")
    try:
        records = orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return False
    statement = _recordset_insert(connection.dialect, table, tuple(rows[0]))
    connection.exec_driver_sql(statement, {"records": records})
    return True


class _RowOf(UserDefinedType[Any]):
    """The row type of a table, for ``CAST(NULL AS <table>)`` (PostgreSQL)."""

    cache_ok = True

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get_col_spec(self, **kw: Any) -> str:
        return self.table_name


@functools.lru_cache(maxsize=64)
def _recordset_insert(dialect: Any, table: Table, columns: tuple[str, ...]) -> str:
    """PostgreSQL: one INSERT of every row, given as one JSON array of objects (``:records``)
    whose values the table's own column types take in (``json_populate_recordset``): times
    in RFC 3339 with their offset, floats in their shortest exact form, text as it is (no
    NUL reaches here: the planner refuses it, as PostgreSQL's text cannot hold it)."""
    records = func.json_populate_recordset(
        cast(null(), _RowOf(dialect.identifier_preparer.format_table(table))),
        cast(bindparam("records", type_=Text()), postgresql.JSON()),
    ).table_valued(*columns)
    statement = insert(table).from_select(list(columns), select(*records.c))
    return str(statement.compile(dialect=dialect))


def _bulk_update(table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany: every row updated by primary key with the same set of columns."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != "id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({c: bindparam(c) for c in columns})
    )
    db.session.execute(statement, [{"_id": r["id"], **{c: r[c] for c in columns}} for r in rows])


def write_push(
    ctx: PushContext,
    plan: PushPlan,
    device: Device | None,
    now: datetime,
    *,
    figures_before: figures.Contributions,
    timezone: str,
) -> None:
    """Write a plan (a push's, or a correction's with no device), stamp what changed, and
    add to the figures what it changed there (``figures_before`` is ``figures.measure`` of
    the context taken before planning)."""
    households = ctx.households.values()
    new_households = [
        _household_row(h)
        | {
            "created_by_device": ctx.device_id,
            "created_at": now,
            "updated_at": now,
            "change_seq": None,
        }
        for h in households
        if h.new
    ]
    changed_households = [
        _household_row(h) | {"updated_at": now, "change_seq": None}
        for h in households
        if not h.new and (h.dirty or h.id in plan.counters_changed)
    ]
    visits = ctx.visits.values()
    new_visits = [
        _visit_row(v) | {"received_at": now, "updated_at": now, "change_seq": None}
        for v in visits
        if v.new
    ]
    changed_visits = [
        _visit_row(v) | {"updated_at": now, "change_seq": None}
        for v in visits
        if not v.new and v.dirty
    ]
    # Every pulled row this writes carries the transaction's position (store/changes.py),
    # taken now that the plan is made, and written with the rows rather than after them.
    stamped = new_households + changed_households + new_visits + changed_visits
    if stamped:
        position = changes.take_position()
        for row in stamped:
            row["change_seq"] = position

    # Parents before children: households, then visits, revisions, conflicts, the ledger.
    _insert_many(H, new_households)
    _bulk_update(H, changed_households)
    _insert_many(V, new_visits)
    _bulk_update(V, changed_visits)
    _insert_many(
        table(Revision),
        [
            r
            | {
                # A creation's previous values: none.
                "data": json.dumps(r["data"], ensure_ascii=False, default=str)
                if r["data"]
                else "{}",
                "changed": _json_list(r["changed"]),
            }
            for r in plan.revisions
        ],
    )
    if plan.conflicts:
        db.session.execute(
            insert(table(Conflict)),
            [
                c | {"fields": json.dumps(c["fields"], ensure_ascii=False, default=str)}
                for c in plan.conflicts
            ],
        )
    _insert_many(
        table(DeviceMutation),
        [
            r
            | {
                "result": orjson.dumps(r["result"], option=orjson.OPT_NON_STR_KEYS).decode(),
                "payload": json.dumps(r["payload"], ensure_ascii=False)
                if r["payload"] is not None
                else None,
            }
            for r in plan.ledger_rows
        ],
    )
    figures.apply(difference(figures.measure(ctx, timezone), figures_before))
    opened: dict[int, int] = {}
    for conflict in plan.conflicts:
        if conflict.get("status", "open") == "open":
            opened[conflict["ward_id"]] = opened.get(conflict["ward_id"], 0) + 1
    figures.adjust_open_conflicts(opened)
    if device is not None:
        device.last_mutation_id = plan.last_mutation_id
        device.last_push_at = now
        device.last_seen_at = now
        db.session.flush()
