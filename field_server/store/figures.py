"""The figures of docs/figures.md kept as counters, and read back.

Writes: whatever changes households or visits measures the households it touches before
and after (``snapshot``/``settle``, or ``measure`` on a push's context) and adds the
difference to ``unit_day_figures`` and ``unit_figures`` for the household's group, ward and
every unit above, in the same transaction. The arithmetic is domain/stats.py.

On PostgreSQL, ``snapshot`` locks the households (in id order, so two writers never wait on
each other crosswise) before reading their visits, so a concurrent writer cannot measure a
state that is about to change. Before the counter rows, ``apply`` takes the change
sequence's lock (store/changes.py, which every such write takes anyway for its position),
then upserts the rows in (unit, day) order: every writer takes the shared locks in the same
order (households, sequence, counters), so the hot rows at province level never deadlock.

Reads: a unit's totals are sums over its rows up to ``to`` (state) or within ``[from, to]``
(flow): a few dozen rows per unit whatever the number of visits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from domain.push import PushContext
from domain.records import COUNT_FIELDS, Counters
from domain.stats import (
    DAY_FIGURES,
    FLOW_FIGURES,
    STATE_FIGURES,
    UNDATED_FIGURES,
    Deltas,
    UnitNode,
    VisitFigureFacts,
    add_into,
    difference,
    effective_populations,
    effective_target_rate,
    household_contribution,
    totals,
)

from ..extensions import db
from ..models import Conflict, Household, Unit, UnitDayFigures, UnitFigures, Visit, table
from . import changes as changes_sequence
from .batching import chunks

H = table(Household)
V = table(Visit)
U = table(Unit)
DAY = table(UnitDayFigures)
UNDATED = table(UnitFigures)

COUNTERS = tuple(Counters.__dataclass_fields__)  # a household's own derived counters
# (unit id, day) -> deltas for the dated rows; (unit id, None) for the undated row.
Contributions = dict[tuple[int, str | None], Deltas]


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
        out: Contributions = {}
        for chain, rows in self.by_chain.items():
            for day, deltas in rows.items():
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
    paths = _ward_paths(wanted)
    out: Contributions = {}
    for ward_id, delta in wanted.items():
        for unit_id in _chain(paths[ward_id], None):
            add_into(out, (unit_id, None), {"open_conflicts": delta})
    apply(out)


# --- writing -----------------------------------------------------------------------------


def _upsert(table: Table, keys: tuple[str, ...], names: tuple[str, ...]) -> Any:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in names},
    )


def apply(changes: Contributions) -> None:
    """Add these deltas to the counter rows, in (unit, day) order."""
    if not changes:
        return
    changes_sequence.hold_sequence()
    dated = sorted((k, v) for k, v in changes.items() if k[1] is not None)
    undated = sorted((k[0], v) for k, v in changes.items() if k[1] is None)
    if dated:
        db.session.execute(
            _upsert(DAY, ("unit_id", "day"), DAY_FIGURES),
            [
                {"unit_id": unit_id, "day": day, **{n: deltas.get(n, 0) for n in DAY_FIGURES}}
                for (unit_id, day), deltas in dated
            ],
        )
    if undated:
        db.session.execute(
            _upsert(UNDATED, ("unit_id",), UNDATED_FIGURES),
            [
                {"unit_id": unit_id, **{n: deltas.get(n, 0) for n in UNDATED_FIGURES}}
                for unit_id, deltas in undated
            ],
        )


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
            add_into(out, (row.unit_id, None), {n: getattr(row, n) for n in UNDATED_FIGURES})
    return out


def rebuild(progress: Callable[[int, int], None] | None = None, *, timezone: str) -> Recount:
    """Replace every counter row with a recount, and repair the households' own counters."""
    result = recount(progress=progress, timezone=timezone)
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


@dataclass(frozen=True)
class UnitSums:
    state: dict[str, int]
    flow: dict[str, int]
    undated: dict[str, int]


@lru_cache(maxsize=1)
def _sums_statements() -> tuple[Any, Any]:
    """The two grouped reads of ``sums``, built once: building 23 CASE expressions per
    request cost more than running the query."""
    in_range = DAY.c.day >= bindparam("start")
    columns = [func.sum(DAY.c[n]).label(n) for n in STATE_FIGURES]
    columns += [func.sum(case((in_range, DAY.c[n]), else_=0)).label(n) for n in FLOW_FIGURES]
    ids: Any = bindparam("ids", expanding=True)
    dated = (
        select(DAY.c.unit_id, *columns)
        .where(DAY.c.unit_id.in_(ids), DAY.c.day <= bindparam("end"))
        .group_by(DAY.c.unit_id)
    )
    undated = select(UNDATED.c.unit_id, *(UNDATED.c[n] for n in UNDATED_FIGURES)).where(
        UNDATED.c.unit_id.in_(ids)
    )
    return dated, undated


def sums(unit_ids: Iterable[int], start: date | None, end: date) -> dict[int, UnitSums]:
    """Per unit: state figures summed up to ``end``, flow figures within [start, end], and
    the undated figures. One grouped query over a few rows per unit and day."""
    ids = list(set(unit_ids))
    params = {"start": start.isoformat() if start else "0000-00-00", "end": end.isoformat()}
    out = {i: UnitSums({}, {}, {}) for i in ids}
    dated, undated = _sums_statements()
    state_at = range(1, 1 + len(STATE_FIGURES))
    flow_at = range(1 + len(STATE_FIGURES), 1 + len(STATE_FIGURES) + len(FLOW_FIGURES))
    for chunk in chunks(ids):
        for row in db.session.execute(dated, {**params, "ids": chunk}).all():
            sums_of = out[row[0]]
            sums_of.state.update(
                zip(STATE_FIGURES, (int(row[i] or 0) for i in state_at), strict=True)
            )
            sums_of.flow.update(zip(FLOW_FIGURES, (int(row[i] or 0) for i in flow_at), strict=True))
        for row in db.session.execute(undated, {"ids": chunk}).all():
            out[row[0]].undated.update(zip(UNDATED_FIGURES, map(int, row[1:]), strict=True))
    return out


def daily_rows(unit_id: int, end: date) -> list[tuple[str, int, int, int]]:
    """(day, visits, installed_during, installed delta) of every day up to ``end``."""
    return [
        (row.day, int(row.visits), int(row.installed_during), int(row.installed))
        for row in db.session.execute(
            select(DAY.c.day, DAY.c.visits, DAY.c.installed_during, DAY.c.installed)
            .where(DAY.c.unit_id == unit_id, DAY.c.day <= end.isoformat())
            .order_by(DAY.c.day)
        ).all()
    ]


def siblings(unit: Unit) -> list[Unit]:
    """The units a unit is ranked among: its parent's children (a top unit: the top units
    of its scheme), itself included, by id."""
    if unit.parent_id is None:
        statement = select(Unit).where(Unit.parent_id.is_(None), Unit.scheme == unit.scheme)
    else:
        statement = select(Unit).where(Unit.parent_id == unit.parent_id)
    return list(db.session.execute(statement.order_by(Unit.id)).scalars())


def children(unit: Unit) -> list[Unit]:
    """The unit's children, by id."""
    statement = select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.id)
    return list(db.session.execute(statement).scalars())


def unit_refs(unit_ids: Iterable[int]) -> dict[int, str]:
    """``scheme:code`` of each unit id (to name the units a recount found wrong)."""
    out: dict[int, str] = {}
    for chunk in chunks(unit_ids):
        rows = db.session.execute(select(U.c.id, U.c.scheme, U.c.code).where(U.c.id.in_(chunk)))
        out.update({row.id: f"{row.scheme}:{row.code}" for row in rows})
    return out


def first_day(unit_id: int) -> str | None:
    return db.session.execute(
        select(func.min(DAY.c.day)).where(DAY.c.unit_id == unit_id)
    ).scalar_one_or_none()


def unit_nodes(units: Iterable[Unit]) -> list[UnitNode]:
    """Every unit at or under these units: the nodes their adult populations are summed
    from. Siblings (the usual call) are read as their parent's subtree, in one query."""
    units = list(units)
    if not units:
        return []
    parents = {u.parent_id for u in units}
    if len(parents) == 1 and None not in parents:
        prefixes = [units[0].path.rstrip("/").rsplit("/", 1)[0] + "/"]
    else:
        prefixes = sorted({u.path for u in units})
    rows = db.session.execute(
        select(U.c.id, U.c.parent_id, U.c.level, U.c.adult_population, U.c.target_rate).where(
            or_(*(U.c.path.startswith(prefix) for prefix in prefixes))
        )
    ).all()
    return [UnitNode(*row) for row in rows]


def totals_for(
    units: list[Unit], start: date | None, end: date, campaign_rate: float
) -> dict[int, dict[str, Any]]:
    """The docs/figures.md ``totals`` of each unit (by id): counters summed for [start, end], with
    adult populations summed up from below where a unit has none of its own."""
    nodes = {n.id: n for n in unit_nodes(units)}
    populations = effective_populations(nodes.values())
    summed = sums([u.id for u in units], start, end)
    out = {}
    for unit in units:
        node = nodes[unit.id]
        s = summed[unit.id]
        out[unit.id] = totals(
            state=s.state,
            flow=s.flow,
            undated=s.undated,
            adult_population=populations.get(unit.id),
            target_rate=effective_target_rate(node, campaign_rate),
        )
    return out
