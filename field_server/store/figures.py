"""The figures of docs/figures.md kept as counters, and read back.

Writes: whatever changes households or visits measures the households it touches before
and after (``snapshot``/``settle``, or ``measure`` on a push's context) and adds the
difference to ``unit_day_figures`` and ``unit_figures`` for the household's group, ward and
every unit above, in the same transaction. The arithmetic is domain/stats.py.

On PostgreSQL, ``snapshot`` locks the households (in id order, so two writers never wait on
each other crosswise) before reading their visits, so a concurrent writer cannot measure a
state that is about to change. ``apply`` then adds to the rows of the households' groups
and wards in place, in (unit, day) order: only writers in the same ward share those. The
rows of a district or a province are shared by every writer below it, so a writer adds to
them in place only when it holds that unit's fold lock (a transaction-level advisory lock,
taken with ``pg_try_advisory_xact_lock``, which never waits); when another transaction holds
it, the writer appends its deltas to ``figure_deltas`` instead, and the next writer to hold
the lock folds them into the rows. So writers in different wards never wait for each other,
and a unit's deltas not yet folded are few (as many as the writes made while one
transaction held its lock). Reads add them in. (The change
sequence takes no lock either: store/changes.py.) ``rebuild`` locks the three tables first,
so no write adds to the rows it replaces. A unit moved by `units import` takes what its rows
hold from its old ancestors to its new ones (``move_counters``), holding the tree's lock
alone (``lock_tree``), which every write holds shared (``hold_tree``) from before it reads
the paths its counters follow: a move and a write never cross.

Reads: a unit's totals are sums over its rows up to ``to`` (state) or within ``[from, to]``
(flow), and its deltas not folded yet: a few dozen rows per unit whatever the number of
visits. Its undated row also holds every dated figure summed over all days, and the last
day they cover, so figures from the first day to a ``to`` past that day (as of today, the
usual question) read that one row. A unit's adult population (its own, else the sum of
its children's) is read from its own row (``effective_population``, kept by
``refresh_populations`` whenever units change), never summed over its subtree, so a /stats
answer reads the unit, its siblings and its children and nothing below them: the same cost
for a province of 600 wards as for a district of 20.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Table,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from domain.push import PushContext
from domain.records import COUNT_FIELDS, Counters
from domain.stats import (
    DAY_FIGURES,
    FLOW_FIGURES,
    LEVEL_DEPTH_ORDER,
    NO_FIGURES,
    STATE_FIGURES,
    TOTAL_FIGURES,
    UNDATED_FIGURES,
    Deltas,
    Figures,
    PopulationDifference,
    UnitNode,
    VisitFigureFacts,
    add_into,
    difference,
    household_contribution,
    population_differences,
    target_rate_of,
    totals,
)

from ..extensions import db
from ..models import (
    Conflict,
    CountryDayFigures,
    FigureDelta,
    Household,
    Unit,
    UnitDayFigures,
    UnitFigures,
    Visit,
    table,
)
from .batching import chunks

H = table(Household)
V = table(Visit)
U = table(Unit)
DAY = table(UnitDayFigures)
UNDATED = table(UnitFigures)
DELTAS = table(FigureDelta)
COUNTRY = table(CountryDayFigures)

COUNTERS = tuple(Counters.__dataclass_fields__)  # a household's own derived counters
# What a unit's undated row holds (TOTAL_FIGURES): its undated figures, and its dated ones
# summed over all days (with ``last_day``, the last day they cover).
# (unit id, day) -> deltas for the dated rows; (unit id, None) for the undated row.
Contributions = dict[tuple[int, str | None], Deltas]
# What a country's day rows hold: its top units' day rows summed, for the daily series.
COUNTRY_FIGURES = ("visits", "installed_during", "installed")
# (scheme, day) -> deltas of COUNTRY_FIGURES
CountryDays = dict[tuple[str, str | None], Deltas]  # (no undated row: days only)


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(when: datetime | str, timezone: str) -> str:
    """The campaign-local date of a time, as YYYY-MM-DD (``timezone``: the campaign's)."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return when.astimezone(_zone(timezone)).date().isoformat()


def _chain(path: str, group_id: int | None) -> tuple[int, ...]:
    """The units a household counts in: every unit on its ward's path, and its group."""
    ids = tuple(int(part) for part in path.strip("/").split("/") if part)
    return ids + ((group_id,) if group_id is not None else ())


def _ward_paths(ward_ids: Iterable[int]) -> dict[int, str]:
    paths: dict[int, str] = {}
    for chunk in chunks(set(ward_ids)):
        paths.update(db.session.execute(select(U.c.id, U.c.path).where(U.c.id.in_(chunk))).all())
    return paths


def _facts(
    visit_id: str,
    data: Mapping[str, Any],
    review_status: str,
    voided: bool,
    order_key: tuple[int, int, str],
    timezone: str,
) -> VisitFigureFacts:
    return VisitFigureFacts(
        id=visit_id,
        day=local_day(data["visited_at"], timezone),
        order_key=order_key,
        outcome=data["outcome"],
        counts={name: data.get(name) for name in COUNT_FIELDS},
        review_status=review_status,
        voided=voided,
    )


def _row_facts(row: Any, timezone: str) -> VisitFigureFacts:
    return _facts(
        row.id,
        row._mapping,
        row.review_status,
        row.voided,
        (row.order_ms, row.order_counter, row.order_node),
        timezone,
    )


class _Tally:
    """Households' contributions summed per chain of units first (most households of a
    batch share one ward and group), then spread over each chain's units once."""

    def __init__(self) -> None:
        self.by_chain: dict[tuple[int, ...], dict[str | None, Deltas]] = {}

    def add(self, chain: tuple[int, ...], merged: bool, visits: list[VisitFigureFacts]) -> None:
        contribution = household_contribution(merged, visits)
        rows = self.by_chain.setdefault(chain, {})
        if contribution.undated:
            add_into(rows, None, contribution.undated)
        for day, deltas in contribution.days.items():
            add_into(rows, day, deltas)

    def result(self) -> Contributions:
        """Per (unit, day) and per (unit, None): the undated figures, and the dated ones
        summed over all days."""
        out: Contributions = {}
        for chain, rows in self.by_chain.items():
            all_days: dict[str | None, Deltas] = {}
            for day, deltas in rows.items():
                if day is not None:
                    add_into(all_days, None, deltas)
            for day, deltas in [*rows.items(), *all_days.items()]:
                for unit_id in chain:
                    add_into(out, (unit_id, day), deltas)
        return out


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The households' contributions to the figures at one moment."""

    household_ids: list[str]
    timezone: str
    contributions: Contributions = field(default_factory=dict)


def _measure_rows(household_ids: list[str], lock: bool, timezone: str) -> Contributions:
    if lock:  # a write's first measure: the paths it reads must hold until it commits
        hold_tree()
    households: list[Any] = []
    for chunk in chunks(household_ids):
        statement = select(H.c.id, H.c.ward_id, H.c.group_id, H.c.merged_into).where(
            H.c.id.in_(chunk)
        )
        if lock and db.session.get_bind().dialect.name == "postgresql":
            statement = statement.order_by(H.c.id).with_for_update()
        households += db.session.execute(statement).all()
    visits: dict[str, list[VisitFigureFacts]] = {}
    for chunk in chunks(household_ids):
        rows = db.session.execute(select(V).where(V.c.household_id.in_(chunk))).all()
        for row in rows:
            visits.setdefault(row.household_id, []).append(_row_facts(row, timezone))
    paths = _ward_paths(h.ward_id for h in households)
    tally = _Tally()
    for h in households:
        chain = _chain(paths[h.ward_id], h.group_id)
        tally.add(chain, h.merged_into is not None, visits.get(h.id, []))
    return tally.result()


def snapshot(household_ids: Iterable[str], timezone: str) -> Snapshot:
    """Lock these households and measure what they add to the figures now. Call before
    changing them (or their visits) in a write transaction; then ``settle``."""
    ids = sorted(set(household_ids))
    return Snapshot(ids, timezone, _measure_rows(ids, lock=True, timezone=timezone))


def settle(before: Snapshot) -> None:
    """After the change is flushed: measure the same households again and add the
    difference to the counters."""
    db.session.flush()
    after = _measure_rows(before.household_ids, lock=False, timezone=before.timezone)
    apply(difference(after, before.contributions))


def measure(ctx: PushContext, timezone: str) -> Contributions:
    """What the households of a push's context add to the figures, from the context's own
    state (before planning, and again after: ``write_push`` settles the difference)."""
    by_household: dict[str, list[VisitFigureFacts]] = {}
    for visit in ctx.visits.values():
        by_household.setdefault(visit.household_id, []).append(
            _facts(
                visit.id,
                visit.data,
                visit.review_status,
                visit.voided,
                visit.order_key,
                timezone,
            )
        )
    paths = {unit_id: unit.path for unit_id, unit in ctx.units_by_id.items()}
    # The store loads every ward a push touches; read any it did not in one query.
    paths.update(_ward_paths({h.ward_id for h in ctx.households.values()} - set(paths)))
    tally = _Tally()
    for household in ctx.households.values():
        chain = _chain(paths[household.ward_id], household.group_id)
        tally.add(chain, household.merged_into is not None, by_household.get(household.id, []))
    return tally.result()


def adjust_open_conflicts(ward_deltas: Mapping[int, int]) -> None:
    """Add to the open conflicts of wards (and every unit above them)."""
    wanted = {ward: delta for ward, delta in ward_deltas.items() if delta}
    if not wanted:
        return
    hold_tree()
    paths = _ward_paths(wanted)
    out: Contributions = {}
    for ward_id, delta in wanted.items():
        for unit_id in _chain(paths[ward_id], None):
            add_into(out, (unit_id, None), {"open_conflicts": delta})
    apply(out)


def move_counters(unit_id: int, old_ancestors: Iterable[int], new_ancestors: Iterable[int]) -> None:
    """A unit (a ward or above) moved with everything below it: what its counters hold,
    which is everything its households add, leaves the ancestors it left and reaches those
    it joined, in the moving transaction. Its own rows and those of the ancestors it keeps
    (the province of a ward moved to another of its districts) do not change."""
    old, new = set(old_ancestors), set(new_ancestors)
    leaving, joining = sorted(old - new), sorted(new - old)
    if not leaving and not joining:
        return
    dated_rows, undated_rows = _sources(_dialect())  # on PostgreSQL, with its deltas
    dated = (
        select(dated_rows.c.day, *(func.sum(dated_rows.c[n]) for n in DAY_FIGURES))
        .where(dated_rows.c.unit_id == unit_id)
        .group_by(dated_rows.c.day)
    )
    undated = _undated_sums(undated_rows, undated_rows.c.unit_id == unit_id)
    read = [(day, DAY_FIGURES, values) for day, *values in db.session.execute(dated)]
    read += [(None, TOTAL_FIGURES, values) for _, _, *values in db.session.execute(undated)]
    held: Contributions = {}
    for day, names, values in read:
        add_into(held, day, {n: int(v) for n, v in zip(names, values, strict=True) if v})
    changes: Contributions = {}
    for day, deltas in held.items():
        for ancestor in leaving:
            add_into(changes, (ancestor, day), deltas, -1)
        for ancestor in joining:
            add_into(changes, (ancestor, day), deltas)
    apply(changes)  # add_into left out every key whose deltas came to nothing


# --- writing -----------------------------------------------------------------------------


def _insert(table: Table, dialect: str) -> Any:
    """An INSERT of this dialect, which can say ON CONFLICT."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# The upserts are built once per dialect: every push runs them, and building one (its SET
# clause of 22 to 24 columns) cost more than a small push's execution of it.
@lru_cache(maxsize=4)
def _upsert(dialect: str, table: Table, keys: tuple[str, ...], names: tuple[str, ...]) -> Any:
    statement = _insert(table, dialect)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in names},
    )


# The first key of the two-key advisory locks that say who folds a unit's deltas ("FOLD"):
# the only other two-key lock of the application is the tree's (below), so a unit's id can
# be the second.
_FOLD_LOCKS = 0x464F4C44
# The tree's lock ("TREE", 0): a write holds it shared from before it reads the ward paths
# its counters follow to its commit, and a units import takes it alone to move a unit
# (``lock_tree``), so no write adds along a path that a move changes under it.
_TREE_LOCK = {"kind": 0x54524545, "key": 0}
_SHARED_LEVELS = tuple(
    level for level, depth in LEVEL_DEPTH_ORDER.items() if depth > LEVEL_DEPTH_ORDER["ward"]
)


def hold_tree() -> None:
    """PostgreSQL: hold the tree's lock shared until the transaction ends (writes hold it
    together and never wait for each other on it; a move waits for them, and they for a
    move). Call before reading the ward paths that a write's counters follow. SQLite runs
    one writer at a time: nothing to do."""
    if _dialect() != "postgresql":
        return
    session = db.session()
    current = session.get_transaction()
    if current is not None and session.info.get("tree_held_by") is current:
        return  # held since earlier in this transaction: no second round trip
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:kind, :key)"), _TREE_LOCK)
    session.info["tree_held_by"] = session.get_transaction()


def lock_tree() -> None:
    """PostgreSQL: take the tree's lock alone until the transaction ends, once every write
    that read paths before has committed (``move_counters`` then reads what they added)."""
    if _dialect() == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:kind, :key)"), _TREE_LOCK)


def _claim_shared(unit_ids: Iterable[int]) -> tuple[set[int], set[int]]:
    """Among these units, those above the ward (whose rows writers in different wards
    share): the ones this transaction may add to in place (it holds, or has just taken, their
    fold lock) and the ones another transaction holds (append to them). One statement, and
    it never waits: ``pg_try_advisory_xact_lock`` answers at once."""
    rows = db.session.execute(
        text(
            "SELECT id, pg_try_advisory_xact_lock(:kind, id) FROM units "
            "WHERE id = ANY(:ids) AND level = ANY(:levels) ORDER BY id"
        ),
        {"kind": _FOLD_LOCKS, "ids": sorted(set(unit_ids)), "levels": list(_SHARED_LEVELS)},
    ).all()
    return {i for i, mine in rows if mine}, {i for i, mine in rows if not mine}


def _later_day(table: Table, new: Any) -> Any:
    """The later of a row's ``last_day`` and a new one, either possibly null (SQLite's
    max() of a null is null, PostgreSQL's GREATEST skips it: spelled out for both)."""
    old = table.c.last_day
    return case((new.is_(None), old), (old.is_(None), new), (old >= new, old), else_=new)


@lru_cache(maxsize=2)
def _undated_upsert(dialect: str) -> Any:
    statement = _insert(UNDATED, dialect)
    return statement.on_conflict_do_update(
        index_elements=["unit_id"],
        set_={
            **{n: UNDATED.c[n] + statement.excluded[n] for n in TOTAL_FIGURES},
            "last_day": _later_day(UNDATED, statement.excluded.last_day),
        },
    )


def _last_days(changes: Contributions) -> dict[int, str]:
    """Per unit, the last day its dated changes are for."""
    out: dict[int, str] = {}
    for unit_id, day in changes:
        if day is not None and day > out.get(unit_id, ""):
            out[unit_id] = day
    return out


def _undated_rows(changes: Contributions, unit_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The undated rows to add for these units, in unit order, each with its last day: a
    unit whose dated rows changed gets one even when its totals did not (a visit moved to
    a later day)."""
    last = _last_days(changes)
    return [
        {
            "unit_id": unit_id,
            "last_day": last.get(unit_id),
            **{n: changes.get((unit_id, None), {}).get(n, 0) for n in TOTAL_FIGURES},
        }
        for unit_id in sorted(set(unit_ids))
    ]


def _add_in_place(changes: Contributions) -> None:
    dated = sorted((k, v) for k, v in changes.items() if k[1] is not None)
    if dated:
        db.session.execute(
            _upsert(_dialect(), DAY, ("unit_id", "day"), DAY_FIGURES),
            [
                {"unit_id": unit_id, "day": day, **{n: deltas.get(n, 0) for n in DAY_FIGURES}}
                for (unit_id, day), deltas in dated
            ],
        )
    if changes:
        rows = _undated_rows(changes, (k[0] for k in changes))
        db.session.execute(_undated_upsert(_dialect()), rows)


def _undated_sums(rows: Any, where: Any, names: Sequence[str] = TOTAL_FIGURES) -> Any:
    """Per unit among ``rows`` (undated rows, or undated deltas), the latest last day and
    the sum of each of ``names`` (by default every figure an undated row holds)."""
    return (
        select(rows.c.unit_id, func.max(rows.c.last_day), *(func.sum(rows.c[n]) for n in names))
        .where(where)
        .group_by(rows.c.unit_id)
    )


@lru_cache(maxsize=1)
def _fold_statement() -> Any:
    """Move the deltas of some units (``ids``) into their rows: one statement, the deleted
    rows feeding both upserts, grouped so that no row is upserted twice."""
    moved = (
        delete(DELTAS)
        .where(DELTAS.c.unit_id.in_(bindparam("ids", expanding=True)))
        .returning(*DELTAS.c)
        .cte("moved")
    )

    def folded(target: Table, keys: tuple[str, ...], names: tuple[str, ...], dated: bool) -> Any:
        rows = (
            select(*(moved.c[k] for k in keys), *(func.sum(moved.c[n]) for n in names))
            .where(moved.c.day.is_not(None) if dated else moved.c.day.is_(None))
            .group_by(*(moved.c[k] for k in keys))
        )
        statement = postgresql.insert(target).from_select([*keys, *names], rows)
        return statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={n: target.c[n] + statement.excluded[n] for n in names},
        )

    dated = folded(DAY, ("unit_id", "day"), DAY_FIGURES, dated=True).cte("dated")
    rows = _undated_sums(moved, moved.c.day.is_(None))
    undated = postgresql.insert(UNDATED).from_select(["unit_id", "last_day", *TOTAL_FIGURES], rows)
    return undated.on_conflict_do_update(
        index_elements=["unit_id"],
        set_={
            **{n: UNDATED.c[n] + undated.excluded[n] for n in TOTAL_FIGURES},
            "last_day": _later_day(UNDATED, undated.excluded.last_day),
        },
    ).add_cte(dated)


def apply(changes: Contributions) -> None:
    """Add these deltas to the counter rows, in (unit, day) order (module docstring). On
    PostgreSQL the rows of a district or a province another writer is adding to are not
    touched: the deltas are appended for it (or a later writer) to fold."""
    if not changes:
        return
    _apply_country(country_days(changes))
    appended: list[tuple[tuple[int, str | None], Deltas]] = []
    if db.session.get_bind().dialect.name == "postgresql":
        mine, others = _claim_shared(unit_id for unit_id, _ in changes)
        if mine:  # what others appended meanwhile, into rows only this transaction touches
            db.session.execute(_fold_statement(), {"ids": sorted(mine)})
        if others:
            appended = [(k, v) for k, v in changes.items() if k[0] in others]
            changes = {k: v for k, v in changes.items() if k[0] not in others}
    _add_in_place(changes)
    if appended:
        added = dict(appended)
        rows = [
            {
                "unit_id": unit_id,
                "day": day,
                "last_day": None,
                **{n: deltas.get(n, 0) for n in TOTAL_FIGURES},
            }
            for (unit_id, day), deltas in appended
            if day is not None
        ]
        rows += [{"day": None, **row} for row in _undated_rows(added, (key[0] for key in added))]
        db.session.execute(DELTAS.insert(), rows)


# The first key of the advisory locks that say who folds a scheme's country rows ("CNTY"),
# the second the scheme's hashtext (two schemes that share one only share their folder).
_COUNTRY_FOLD_LOCKS = 0x434E5459
_TOP_AMONG = select(U.c.id, U.c.scheme).where(
    U.c.id.in_(bindparam("ids", expanding=True)), U.c.parent_id.is_(None)
)


def country_days(changes: Contributions) -> CountryDays:
    """What these changes add to the country day rows: the dated changes of top units
    (every household counts in exactly one), per scheme and day."""
    dated = sorted({unit_id for unit_id, day in changes if day is not None})
    schemes: dict[int, str] = {}
    for chunk in chunks(dated):
        schemes.update(db.session.execute(_TOP_AMONG, {"ids": chunk}).all())
    out: CountryDays = {}
    for (unit_id, day), deltas in changes.items():
        scheme = schemes.get(unit_id)
        if scheme is not None and day is not None:
            add_into(out, (scheme, day), {n: deltas[n] for n in COUNTRY_FIGURES if n in deltas})
    return out


# COUNTRY_FIGURES only: no input reaches this SQL.
_COUNTRY_FOLD = text(
    "WITH moved AS (DELETE FROM country_day_figures WHERE scheme = ANY(:schemes) AND part <> 0 "  # noqa: S608
    "RETURNING scheme, day, visits, installed_during, installed) "
    "INSERT INTO country_day_figures (scheme, day, part, visits, installed_during, installed) "
    "SELECT scheme, day, 0, sum(visits), sum(installed_during), sum(installed) FROM moved "
    "GROUP BY scheme, day ON CONFLICT (scheme, day, part) DO UPDATE SET "
    + ", ".join(f"{n} = country_day_figures.{n} + excluded.{n}" for n in COUNTRY_FIGURES)
)
_COUNTRY_CLAIM = text(
    "SELECT s, pg_try_advisory_xact_lock(:kind, hashtext(s)) "
    "FROM unnest(CAST(:schemes AS text[])) AS s ORDER BY s"
)


def _apply_country(days: CountryDays) -> None:
    """Add to the country rows. Every writer of a scheme adds to the same rows (today's):
    on PostgreSQL a writer adds in place only while it holds the scheme's fold lock (taken
    without waiting, folding what others appended first), and otherwise appends its deltas
    as a part of its own, as ``apply`` does for a district or a province."""
    if not days:
        return
    rows = [
        {"scheme": scheme, "day": day, "part": 0, **{n: deltas.get(n, 0) for n in COUNTRY_FIGURES}}
        for (scheme, day), deltas in sorted(days.items())
    ]
    add = _upsert(_dialect(), COUNTRY, ("scheme", "day", "part"), COUNTRY_FIGURES)
    if _dialect() != "postgresql":
        db.session.execute(add, rows)
        return
    schemes = sorted({scheme for scheme, _ in days})
    claimed = db.session.execute(_COUNTRY_CLAIM, {"kind": _COUNTRY_FOLD_LOCKS, "schemes": schemes})
    mine = {scheme for scheme, held in claimed if held}
    if mine:
        db.session.execute(_COUNTRY_FOLD, {"schemes": sorted(mine)})
        db.session.execute(add, [row for row in rows if row["scheme"] in mine])
    others = [row for row in rows if row["scheme"] not in mine]
    if others:  # a part of this transaction's own: no other writer touches it
        part = db.session.execute(text("SELECT txid_current()")).scalar_one()
        db.session.execute(add, [{**row, "part": part} for row in others])


def lock_for_rebuild() -> None:
    """On PostgreSQL, keep every writer from adding to the figures until this transaction
    ends (``rebuild`` replaces them all from a recount: a write that commits after the
    recount read its households must add to the new rows, not to the old ones)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(
                "LOCK TABLE unit_day_figures, unit_figures, figure_deltas, country_day_figures "
                "IN EXCLUSIVE MODE"
            )
        )


# --- adult populations (kept whenever units change) -----------------------------------------


# Past this many units to refresh (a country's import), one pass over the whole tree a level
# at a time is cheaper than a pair of statements per 500 units: on a freshly filled
# PostgreSQL database (no statistics yet) each of those scanned the whole table, 36 s in all
# for 63,000 units.
WHOLE_TREE_FROM = 5000


def _refresh(where: Any, children_of: Any) -> None:
    """Set the effective population of the units ``where`` selects from their own and their
    children's rows (the children's must be final: callers go from the bottom of the tree
    up). ``children_of`` selects their children, read once and grouped, never once per
    unit. Only rows whose value changes are written (a country's 52,000 groups mostly have
    none of their own and no children)."""
    own = U.c.adult_population
    db.session.execute(
        update(U)
        .where(where, own.is_not(None), U.c.effective_population.is_distinct_from(own))
        .values(effective_population=own)
    )
    child = U.alias("child")
    sums = (
        select(child.c.parent_id, func.sum(child.c.effective_population).label("total"))
        .where(children_of(child))
        .group_by(child.c.parent_id)
        .subquery()
    )
    db.session.execute(
        update(U)
        .where(
            where,
            U.c.id == sums.c.parent_id,
            own.is_(None),
            U.c.effective_population.is_distinct_from(sums.c.total),
        )
        .values(effective_population=sums.c.total)
    )
    # Without a population of its own and without children (its last one moved away).
    has_child = select(child.c.id).where(child.c.parent_id == U.c.id).exists()
    db.session.execute(
        update(U)
        .where(where, own.is_(None), U.c.effective_population.is_not(None), ~has_child)
        .values(effective_population=None)
    )


def refresh_populations(unit_ids: Iterable[int], also: Iterable[int] = ()) -> None:
    """Make the effective adult population of these units and of every unit above them
    exact again, in the caller's transaction: call after creating units, changing their
    own populations or moving them (``also``: the units a moved unit left, whose sums
    change too). A few statements per tree level, over those units only."""
    ids = set(unit_ids) | set(also)
    if not ids:
        return
    if len(ids) > WHOLE_TREE_FROM:
        refresh_all_populations()
        return
    depth_of: dict[int, int] = {}
    for chunk in chunks(ids):
        for path in db.session.execute(select(U.c.path).where(U.c.id.in_(chunk))).scalars():
            for depth, part in enumerate(path.strip("/").split("/")):
                depth_of[int(part)] = depth
    if len(depth_of) > WHOLE_TREE_FROM:
        refresh_all_populations()
        return
    for depth in sorted(set(depth_of.values()), reverse=True):
        for chunk in chunks(sorted(i for i, d in depth_of.items() if d == depth)):
            _refresh(U.c.id.in_(chunk), lambda child, ids=chunk: child.c.parent_id.in_(ids))
    _expire_populations(set(depth_of))


def refresh_all_populations() -> None:
    """Recompute every unit's effective adult population (``stats rebuild``): a level at
    a time, from the bottom of the tree up (a unit's children are on a lower level)."""
    for level in sorted(LEVEL_DEPTH_ORDER, key=LEVEL_DEPTH_ORDER.__getitem__):
        _refresh(U.c.level == level, lambda child: child.c.parent_id.is_not(None))
    _expire_populations(None)


def _expire_populations(unit_ids: set[int] | None) -> None:
    """Units already loaded in the session read the new value on their next access."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Unit) and (unit_ids is None or obj.id in unit_ids):
            db.session.expire(obj, ["effective_population"])


def population_errors(root: Unit | None = None) -> list[PopulationDifference]:
    """Units (``root`` and below, or all) whose stored effective population differs from
    the one their subtree gives, recomputed from the units' own populations."""
    statement = select(
        U.c.id,
        U.c.parent_id,
        U.c.level,
        U.c.adult_population,
        U.c.target_rate,
        U.c.effective_population,
    )
    if root is not None:
        statement = statement.where(U.c.path.startswith(root.path))
    rows = db.session.execute(statement).all()
    nodes = [UnitNode(*row[:5]) for row in rows]
    return population_differences(nodes, {row.id: row.effective_population for row in rows})


# --- recounting (stats verify / rebuild) ---------------------------------------------------


def _subtree_ward_ids(root: Unit | None) -> list[int] | None:
    if root is None:
        return None
    return list(
        db.session.execute(
            select(U.c.id).where(U.c.path.startswith(root.path), U.c.level == "ward")
        ).scalars()
    )


def _household_batches(ward_ids: list[int] | None, size: int = 2000) -> Iterator[Sequence[Any]]:
    """All households (of these wards), in id order, a batch at a time."""
    last = ""
    while True:
        statement = select(
            H.c.id, H.c.ward_id, H.c.group_id, H.c.merged_into, *(H.c[n] for n in COUNTERS)
        )
        statement = statement.where(H.c.id > last).order_by(H.c.id).limit(size)
        if ward_ids is not None:
            statement = statement.where(H.c.ward_id.in_(ward_ids))
        rows = db.session.execute(statement).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


@dataclass
class Recount:
    contributions: Contributions
    household_counter_errors: list[str]


def recount(
    root: Unit | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    timezone: str,
) -> Recount:
    """The figures recomputed from the visits alone (under ``root`` when given): what the
    counters should hold, and the households whose own stored counters are wrong.
    ``progress`` is called after each batch with the households and visits read so far."""
    from domain.rules import derive_counters

    ward_ids = _subtree_ward_ids(root)
    paths: dict[int, str] = {}
    tally = _Tally()
    wrong: list[str] = []
    read_households = read_visits = 0
    for households in _household_batches(ward_ids):
        ids = [h.id for h in households]
        visits: dict[str, list[VisitFigureFacts]] = {}
        rows = db.session.execute(select(V).where(V.c.household_id.in_(ids))).all()
        read_households += len(households)
        read_visits += len(rows)
        for row in rows:
            visits.setdefault(row.household_id, []).append(_row_facts(row, timezone))
        missing = {h.ward_id for h in households} - set(paths)
        paths.update(_ward_paths(missing))
        for h in households:
            facts = visits.get(h.id, [])
            tally.add(_chain(paths[h.ward_id], h.group_id), h.merged_into is not None, facts)
            derived = derive_counters(f.facts() for f in facts)
            if any(getattr(h, n) != getattr(derived, n) for n in COUNTERS):
                wrong.append(h.id)
        if progress is not None:
            progress(read_households, read_visits)
    out = tally.result()
    conflicts = select(Conflict.ward_id, func.count()).where(Conflict.status == "open")
    if ward_ids is not None:
        conflicts = conflicts.where(Conflict.ward_id.in_(ward_ids))
    counts = dict(db.session.execute(conflicts.group_by(Conflict.ward_id)).all())
    missing = set(counts) - set(paths)
    paths.update(_ward_paths(missing))
    for ward_id, count in counts.items():
        for unit_id in _chain(paths[ward_id], None):
            add_into(out, (unit_id, None), {"open_conflicts": count})
    if root is not None:  # the units above root also count what lies outside it
        keep = set(_subtree_unit_ids(root))
        out = {k: v for k, v in out.items() if k[0] in keep}
    return Recount(out, wrong)


def _subtree_unit_ids(root: Unit) -> list[int]:
    return list(db.session.execute(select(U.c.id).where(U.c.path.startswith(root.path))).scalars())


def stored(root: Unit | None = None) -> Contributions:
    """What the counter rows hold now (under ``root`` when given)."""
    out: Contributions = {}
    keep = set(_subtree_unit_ids(root)) if root is not None else None
    for row in db.session.execute(select(DAY)).all():
        if keep is None or row.unit_id in keep:
            add_into(out, (row.unit_id, row.day), {n: getattr(row, n) for n in DAY_FIGURES})
    for row in db.session.execute(select(UNDATED)).all():
        if keep is None or row.unit_id in keep:
            add_into(out, (row.unit_id, None), {n: getattr(row, n) for n in TOTAL_FIGURES})
    for row in db.session.execute(select(DELTAS)).all():  # not folded yet (PostgreSQL)
        if keep is None or row.unit_id in keep:
            names = TOTAL_FIGURES if row.day is None else DAY_FIGURES
            add_into(out, (row.unit_id, row.day), {n: getattr(row, n) for n in names})
    return out


def stored_country() -> CountryDays:
    """What the country rows hold now, their parts summed."""
    out: CountryDays = {}
    for row in db.session.execute(select(COUNTRY)).all():
        add_into(out, (row.scheme, row.day), {n: getattr(row, n) for n in COUNTRY_FIGURES})
    return out


def rebuild(progress: Callable[[int, int], None] | None = None, *, timezone: str) -> Recount:
    """Replace every counter row with a recount, and repair the households' own counters."""
    lock_for_rebuild()
    result = recount(progress=progress, timezone=timezone)
    db.session.execute(delete(DELTAS))
    db.session.execute(delete(COUNTRY))
    db.session.execute(delete(DAY))
    db.session.execute(delete(UNDATED))
    apply(result.contributions)
    if result.household_counter_errors:
        from domain.rules import derive_counters

        for chunk in chunks(result.household_counter_errors):
            rows = db.session.execute(select(V).where(V.c.household_id.in_(chunk))).all()
            by_household: dict[str, list[Any]] = {}
            for row in rows:
                by_household.setdefault(row.household_id, []).append(
                    _row_facts(row, timezone).facts()
                )
            for household_id in chunk:
                derived = derive_counters(by_household.get(household_id, []))
                db.session.execute(
                    H.update()
                    .where(H.c.id == household_id)
                    .values({n: getattr(derived, n) for n in COUNTERS})
                )
    return result


# --- reading -----------------------------------------------------------------------------


def _dialect() -> str:
    return str(db.session.get_bind().dialect.name)


@lru_cache(maxsize=2)
def _sources(dialect: str) -> tuple[Any, Any]:
    """The dated and the undated counter rows to read: on PostgreSQL with the deltas not
    folded yet (a row or two per district or province at most, usually none); the planner
    pushes each read's unit and day conditions into both halves."""
    if dialect != "postgresql":
        return DAY, UNDATED
    dated_names = ("unit_id", "day", *DAY_FIGURES)
    undated_names = ("unit_id", "last_day", *TOTAL_FIGURES)
    dated = union_all(
        select(*(DAY.c[n] for n in dated_names)),
        select(*(DELTAS.c[n] for n in dated_names)).where(DELTAS.c.day.is_not(None)),
    ).subquery("dated")
    undated = union_all(
        select(*(UNDATED.c[n] for n in undated_names)),
        select(*(DELTAS.c[n] for n in undated_names)).where(DELTAS.c.day.is_(None)),
    ).subquery("undated")
    return dated, undated


@lru_cache(maxsize=4)
def _sums_statements(dialect: str, from_start: bool) -> tuple[Any, Any]:
    """The two grouped reads of ``sums``, built once: building 23 CASE expressions per
    request cost more than running the query. ``from_start``: the flow figures run from the
    first day too (no ``start``), so they are plain sums like the state figures."""
    dated_rows = _sources(dialect)[0]
    in_range = dated_rows.c.day >= bindparam("start")
    columns = [func.sum(dated_rows.c[n]).label(n) for n in STATE_FIGURES]
    columns += [
        func.sum(
            dated_rows.c[n] if from_start else case((in_range, dated_rows.c[n]), else_=0)
        ).label(n)
        for n in FLOW_FIGURES
    ]
    ids: Any = bindparam("ids", expanding=True)
    dated = (
        select(dated_rows.c.unit_id, *columns)
        .where(dated_rows.c.unit_id.in_(ids), dated_rows.c.day <= bindparam("end"))
        .group_by(dated_rows.c.unit_id)
    )
    return dated, _undated_read(dialect, ids)


def _undated_read(dialect: str, ids: Any, names: Sequence[str] = TOTAL_FIGURES) -> Any:
    """Per unit among ``ids``: its latest last day and ``names`` of its undated row. On
    PostgreSQL, summed with its deltas not folded yet; elsewhere the unit's one row (its
    primary key) read as it is, which costs half as much as grouping it (a country reads 63)."""
    if dialect == "postgresql":
        undated_rows = _sources(dialect)[1]
        return _undated_sums(undated_rows, undated_rows.c.unit_id.in_(ids), names)
    return select(UNDATED.c.unit_id, UNDATED.c.last_day, *(UNDATED.c[n] for n in names)).where(
        UNDATED.c.unit_id.in_(ids)
    )


def sums(unit_ids: Iterable[int], start: date | None, end: date) -> dict[int, Figures]:
    """Per unit, its ``Figures``: state figures summed up to ``end``, flow figures within
    [start, end], and the undated figures (all 0 for a unit without any). Figures from the
    first day to an ``end`` no later than the unit's last day are its undated row's totals
    (one row per unit, the usual question: as of today); the others are a grouped query
    over a few rows per unit and day."""
    ids = list(set(unit_ids))
    params = {"start": start.isoformat() if start else "0000-00-00", "end": end.isoformat()}
    out: dict[int, Figures] = dict.fromkeys(ids, NO_FIGURES)
    dated, undated = _sums_statements(_dialect(), start is None)
    by_day: list[int] = []  # the units whose dated rows must be read
    undated_count = len(UNDATED_FIGURES)
    # Rows hold the figures in TOTAL_FIGURES order (undated, then state, then flow).
    for chunk in chunks(ids):
        for row in db.session.execute(undated, {"ids": chunk}):
            unit_id, last_day = row[0], row[1]
            values = tuple(int(v or 0) for v in row[2:])
            if start is None and (last_day is None or last_day <= params["end"]):
                out[unit_id] = values
            else:  # its undated figures; the dated ones are read by day below
                out[unit_id] = values[:undated_count] + NO_FIGURES[undated_count:]
                by_day.append(unit_id)
    # (A unit without an undated row has no dated figures either: apply writes both.)
    for chunk in chunks(by_day):
        for row in db.session.execute(dated, {**params, "ids": chunk}):
            dated_values = tuple(int(v or 0) for v in row[1:])  # DAY_FIGURES order
            out[row[0]] = out[row[0]][:undated_count] + dated_values
    return out


@lru_cache(maxsize=2)
def _installed_statements(dialect: str) -> tuple[Any, Any]:
    dated_rows = _sources(dialect)[0]
    ids: Any = bindparam("ids", expanding=True)
    undated = _undated_read(dialect, ids, ("installed",))
    dated = (
        select(dated_rows.c.unit_id, func.sum(dated_rows.c.installed))
        .where(dated_rows.c.unit_id.in_(ids), dated_rows.c.day <= bindparam("end"))
        .group_by(dated_rows.c.unit_id)
    )
    return undated, dated


def installed_as_of(unit_ids: Iterable[int], end: date) -> dict[int, int]:
    """Per unit: the state ``installed`` as of the end of ``end``, all that ranking needs
    besides the population (one summed column, not the whole of ``sums``; from the undated
    row when ``end`` is past the unit's last day, as in ``sums``)."""
    ids = list(set(unit_ids))
    out = dict.fromkeys(ids, 0)
    undated, dated = _installed_statements(_dialect())
    day = end.isoformat()
    by_day: list[int] = []
    for chunk in chunks(ids):
        for unit_id, last_day, installed in db.session.execute(undated, {"ids": chunk}):
            if last_day is None or last_day <= day:
                out[unit_id] = int(installed or 0)
            else:
                by_day.append(unit_id)
    for chunk in chunks(by_day):
        rows = db.session.execute(dated, {"ids": chunk, "end": day}).all()
        out.update((unit_id, int(installed or 0)) for unit_id, installed in rows)
    return out


@lru_cache(maxsize=2)
def _daily_statement(dialect: str) -> Any:
    """The read of ``daily_rows``, built once (building it cost as much as running it)."""
    dated = _sources(dialect)[0]
    return (
        select(
            dated.c.day,
            func.sum(dated.c.visits),
            func.sum(dated.c.installed_during),
            func.sum(dated.c.installed),
        )
        .where(
            dated.c.unit_id.in_(bindparam("ids", expanding=True)),
            dated.c.day <= bindparam("end"),
        )
        .group_by(dated.c.day)
        .order_by(dated.c.day)
    )


def daily_rows(unit_ids: Sequence[int], end: date) -> list[tuple[str, int, int, int]]:
    """(day, visits, installed_during, installed delta) of every day up to ``end``, summed
    over these units (one unit, or the provinces of a country)."""
    rows = db.session.execute(
        _daily_statement(_dialect()), {"ids": list(unit_ids), "end": end.isoformat()}
    )
    return [(day, int(visits), int(during), int(got)) for day, visits, during, got in rows]


# What an answer shows and ranks of a unit: not its path, versions or times (SQLite hands
# times back as text that each row would parse; a country reads 63 such rows a request).
SHOWN = (
    U.c.id,
    U.c.scheme,
    U.c.code,
    U.c.name,
    U.c.level,
    U.c.parent_id,
    U.c.adult_population,
    U.c.target_rate,
    U.c.effective_population,
)
_BY_PARENT = select(*SHOWN).where(U.c.parent_id == bindparam("parent")).order_by(U.c.id)
# By parent alone, the scheme checked in Python: on a freshly filled PostgreSQL database (no
# statistics yet) a condition on both had it combine the parent index with the (scheme,
# code) index, reading every unit's entry (6 ms for a country, against 0.1 ms).
_TOP = select(*SHOWN).where(U.c.parent_id.is_(None)).order_by(U.c.id)


def siblings(unit: Unit) -> list[Any]:
    """The units a unit is ranked among: its parent's children (a top unit: the top units
    of its scheme), itself included, by id. Plain rows with the ``SHOWN`` columns (read-only,
    cheaper than mapped objects: a province has 62 siblings)."""
    if unit.parent_id is None:
        return top_units(unit.scheme)
    return list(db.session.execute(_BY_PARENT, {"parent": unit.parent_id}))


def top_units(scheme: str) -> list[Any]:
    """The units at the top of a scheme's tree (its provinces), by id, as plain rows."""
    return [row for row in db.session.execute(_TOP) if row.scheme == scheme]


def children(unit: Unit) -> list[Any]:
    """The unit's children, by id, as plain rows with the ``SHOWN`` columns."""
    return list(db.session.execute(_BY_PARENT, {"parent": unit.id}))


def _top_with_undated(undated: Any) -> Any:
    """Every top unit (``SHOWN``), its undated row's last day and figures (0 where it has
    none), from ``undated`` (the table, or a subquery of it): one statement for a country's
    63 provinces, where ``top_units`` then ``sums`` took two and built a row object each."""
    return (
        select(
            *SHOWN,
            undated.c.last_day,
            *(func.coalesce(undated.c[n], literal_column("0")) for n in TOTAL_FIGURES),
        )
        .select_from(U.outerjoin(undated, undated.c.unit_id == U.c.id))
        .where(U.c.parent_id.is_(None))
        .order_by(U.c.id)
    )


# PostgreSQL reads each top unit's row by its key. Joined plainly, while a few thousand
# units had figures its planner scanned and hashed all of their rows instead (2,988 of
# them: 1.0 ms, against 0.3 ms probing; past about ten thousand it probes by key itself).
# A LATERAL subquery with a LIMIT is not flattened into the join: one index probe per top
# unit whatever the table holds (tests/db/test_country_read_plan.py). SQLite probes by key.
_TOP_WITH_UNDATED = {
    "sqlite": _top_with_undated(UNDATED),
    "postgresql": _top_with_undated(
        select(UNDATED).where(UNDATED.c.unit_id == U.c.id).limit(1).lateral("undated")
    ),
}
# PostgreSQL: the top units' undated deltas not folded yet (usually none), read apart from
# their rows: grouped with them in one statement (as ``sums`` reads), the plan also sorted
# and grouped the rows, and took 2.2 ms against 1.2 ms (EXPLAIN ANALYZE, planning included).
_TOP_UNDATED_DELTAS = (
    select(
        DELTAS.c.unit_id,
        func.max(DELTAS.c.last_day),
        *(cast(func.sum(DELTAS.c[n]), BigInteger) for n in TOTAL_FIGURES),
    )
    .where(
        DELTAS.c.day.is_(None),
        DELTAS.c.unit_id.in_(select(U.c.id).where(U.c.parent_id.is_(None))),
    )
    .group_by(DELTAS.c.unit_id)
)


class ShownUnit(NamedTuple):
    """The ``SHOWN`` columns of a unit as a plain tuple: a country's answer reads each of
    its 63 provinces' several times, and a row's attribute costs ten times a tuple's."""

    id: int
    scheme: str
    code: str
    name: str
    level: str
    parent_id: int | None
    adult_population: int | None
    target_rate: float | None
    effective_population: int | None


def country_sums(
    scheme: str, start: date | None, end: date
) -> tuple[list[ShownUnit], dict[int, Figures], Figures]:
    """A scheme's top units (its provinces, by id), each one's figures as ``sums`` gives
    them, and the country's (theirs added up: every household counts in exactly one). As of
    a day no earlier than every province's last day, from the start (the usual question),
    one statement reads them all (on PostgreSQL, one more reads their deltas not folded)."""
    at = len(SHOWN)
    rows = db.session.execute(_TOP_WITH_UNDATED[_dialect()]).all()
    pending = {}
    if _dialect() == "postgresql":
        pending = {row[0]: row[1:] for row in db.session.execute(_TOP_UNDATED_DELTAS)}
    units: list[ShownUnit] = []
    values: dict[int, Figures] = {}
    by_day: list[int] = []
    day = end.isoformat()
    for row in rows:
        unit = ShownUnit._make(row[:at])
        if unit.scheme != scheme:
            continue
        units.append(unit)
        last_day, figures = row[at], row[at + 1 :]
        if unit.id in pending:  # the deltas' last day may be later than the row's
            last_day = max(filter(None, (last_day, pending[unit.id][0])), default=None)
            figures = tuple(a + b for a, b in zip(figures, pending[unit.id][1:], strict=True))
        if start is None and (last_day is None or last_day <= day):
            values[unit.id] = figures
        else:
            by_day.append(unit.id)
    values.update(sums(by_day, start, end))
    country = tuple(sum(column) for column in zip(*values.values(), strict=True))
    return units, values, country or NO_FIGURES


_COUNTRY_DAILY = (
    select(
        COUNTRY.c.day,
        *(cast(func.sum(COUNTRY.c[n]), BigInteger) for n in COUNTRY_FIGURES),
    )
    .where(COUNTRY.c.scheme == bindparam("scheme"), COUNTRY.c.day <= bindparam("end"))
    .group_by(COUNTRY.c.day)
    .order_by(COUNTRY.c.day)
)


def country_daily_rows(scheme: str, end: date) -> list[tuple[str, int, int, int]]:
    """``daily_rows`` of a scheme's whole country: its own row per day (the parts not folded
    yet summed in), not every province's."""
    rows = db.session.execute(_COUNTRY_DAILY, {"scheme": scheme, "end": end.isoformat()})
    return [(day, int(visits), int(during), int(got)) for day, visits, during, got in rows]


def unit_refs(unit_ids: Iterable[int]) -> dict[int, str]:
    """``scheme:code`` of each unit id (to name the units a recount found wrong)."""
    out: dict[int, str] = {}
    for chunk in chunks(unit_ids):
        rows = db.session.execute(select(U.c.id, U.c.scheme, U.c.code).where(U.c.id.in_(chunk)))
        out.update({row.id: f"{row.scheme}:{row.code}" for row in rows})
    return out


def totals_for(
    units: list[Unit], start: date | None, end: date, campaign_rate: float
) -> dict[int, dict[str, Any]]:
    """The docs/figures.md ``totals`` of each unit (by id): counters summed for [start, end],
    with each unit's stored effective adult population (its own, else its children's)."""
    return totals_from_sums(units, sums([u.id for u in units], start, end), campaign_rate)


def totals_from_sums(
    units: Sequence[Unit | ShownUnit], summed: Mapping[int, Figures], campaign_rate: float
) -> dict[int, dict[str, Any]]:
    """``totals_for`` from sums already read (the national view adds them up too)."""
    out = {}
    for unit in units:
        out[unit.id] = totals(
            summed[unit.id],
            adult_population=unit.effective_population,
            target_rate=target_rate_of(unit.level, unit.target_rate, campaign_rate),
        )
    return out
