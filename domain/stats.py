"""The arithmetic of the figures (docs/figures.md): what one household adds to its units' counters,
and the totals, rates and ranks built from those counters. Pure: no I/O, no clock.

The server keeps the figures as counters per unit and local day (the store adds and
subtracts what this module computes), so that a ward's figures cost the same at a thousand
visits as at a million. Two kinds of figure:

- *flow* figures count visits dated on a day (visits, outcomes, review states, installs
  made during the visit): a visit adds to the row of its own day;
- *state* figures describe the households as of the end of a day (households visited,
  adults counted, smartphones, installed...): a household adds, on each day one of its
  visits is dated, the change that day made to its state, so the state as of day D is the
  sum of the rows up to D.

Whatever changes a household or its visits, the store measures the household before and
after and writes the difference, so the counters always equal a full recomputation (which
``stats verify`` does with the same functions, from scratch).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .records import COUNT_FIELDS, OUTCOMES, REVIEW_STATES, VisitFacts, complete_counts
from .rules import derive_counters

STATE_FIGURES = (
    "households_visited",
    "adults_counted",
    "smartphones",
    "installed",
    "installed_during_campaign",
    "priority_subjects",
    "priority_installed",
)
FLOW_FIGURES = (
    "visits",
    "installed_during",
    *(f"outcome_{outcome}" for outcome in OUTCOMES),
    *(f"review_{state}" for state in REVIEW_STATES),
)
DAY_FIGURES = STATE_FIGURES + FLOW_FIGURES
UNDATED_FIGURES = ("households", "open_conflicts")
# A unit's figures as read back, in this order: the undated ones, then the state ones (as of
# a day), then the flow ones (within a range). A tuple, not mappings by name: the national
# view reads 63 provinces', and three dictionaries each cost nearly what their totals do.
TOTAL_FIGURES = UNDATED_FIGURES + DAY_FIGURES
Figures = tuple[int, ...]
NO_FIGURES: Figures = (0,) * len(TOTAL_FIGURES)
RATE_DECIMALS = 6
MAX_DAILY_DAYS = 1000  # the longest daily series one /stats answer holds

Deltas = dict[str, int]


@dataclass(frozen=True)
class VisitFigureFacts:
    """What the figures need to know of one visit."""

    id: str
    day: str  # the local date of visited_at, YYYY-MM-DD
    order_key: tuple[int, int, str]
    outcome: str
    counts: Mapping[str, int | None]  # the six counts (None where not given)
    review_status: str
    voided: bool

    @property
    def counting(self) -> bool:
        return not self.voided and self.review_status != "rejected"

    def facts(self) -> VisitFacts:
        return VisitFacts(
            id=self.id,
            order_key=self.order_key,
            counts=complete_counts(self.counts),
            counting=self.counting,
        )


@dataclass(frozen=True)
class HouseholdContribution:
    """What one household adds to each of its units: undated figures, and per day."""

    undated: Deltas
    days: dict[str, Deltas]


def _state(visits: Sequence[VisitFigureFacts]) -> Deltas:
    """The state figures of a household given its visits dated up to some day."""
    counting = [v for v in visits if v.counting]
    if not counting:
        return {}
    facts = [v.facts() for v in counting]
    counters = derive_counters(facts)
    state = {"households_visited": 1}
    if counters.adults is None:
        return state
    with_counts = [f for f in facts if f.counts is not None]
    first = min(with_counts, key=lambda f: (tuple(f.order_key), f.id)).counts
    assert first is not None  # with_counts holds only facts with counts
    installed = counters.installed or 0
    state.update(
        adults_counted=counters.adults,
        smartphones=counters.smartphones or 0,
        installed=installed,
        installed_during_campaign=max(0, installed - first["installed_before"]),
        priority_subjects=counters.priority_subjects or 0,
        priority_installed=counters.priority_installed or 0,
    )
    return state


_OUTCOME_KEYS = {outcome: f"outcome_{outcome}" for outcome in OUTCOMES}
_REVIEW_KEYS = {state: f"review_{state}" for state in REVIEW_STATES}


def _day_of(visit: VisitFigureFacts) -> str:
    return visit.day


def household_contribution(
    merged: bool, visits: Iterable[VisitFigureFacts]
) -> HouseholdContribution:
    """What a household adds to the counters of its group, ward and every unit above.

    Runs for every household a write touches, twice (before and after): kept to plain
    dictionary work, and a household of one visit (most of them) is worked out once per
    distinct visit. The answer is shared: callers must not change it."""
    visits = sorted(visits, key=_day_of)
    if len(visits) == 1:
        (v,) = visits
        counts = tuple(v.counts.get(name) for name in COUNT_FIELDS)
        return _one_visit(merged, v.day, v.outcome, counts, v.review_status, v.voided)
    return _contribution(merged, visits)


@functools.lru_cache(maxsize=4096)
def _one_visit(
    merged: bool,
    day: str,
    outcome: str,
    counts: tuple[int | None, ...],
    review_status: str,
    voided: bool,
) -> HouseholdContribution:
    visit = VisitFigureFacts(
        "",
        day,
        (0, 0, ""),
        outcome,
        dict(zip(COUNT_FIELDS, counts, strict=True)),
        review_status,
        voided,
    )
    return _contribution(merged, [visit])


def _contribution(merged: bool, visits: list[VisitFigureFacts]) -> HouseholdContribution:
    days: dict[str, Deltas] = {}
    for visit in visits:
        row = days.get(visit.day)
        if row is None:
            row = days[visit.day] = {}
        if visit.voided:
            continue
        key = _REVIEW_KEYS[visit.review_status]
        row[key] = row.get(key, 0) + 1
        if visit.review_status == "rejected":
            continue
        row["visits"] = row.get("visits", 0) + 1
        key = _OUTCOME_KEYS[visit.outcome]
        row[key] = row.get(key, 0) + 1
        during = visit.counts.get("installed_during")
        if during:
            row["installed_during"] = row.get("installed_during", 0) + during

    previous: Deltas = {}
    last = len(visits) - 1
    for index, visit in enumerate(visits):
        if index < last and visits[index + 1].day == visit.day:
            continue  # the state at a day's end: after its last visit
        state = _state(visits[: index + 1])
        if state != previous:
            row = days[visit.day]
            for name in STATE_FIGURES:
                delta = state.get(name, 0) - previous.get(name, 0)
                if delta:
                    row[name] = row.get(name, 0) + delta
            previous = state
    return HouseholdContribution(
        undated={} if merged else {"households": 1},
        days={day: row for day, row in days.items() if row},
    )


def add_into(total: dict[Any, Deltas], key: Any, deltas: Mapping[str, int], sign: int = 1) -> None:
    """Add (or with sign -1 subtract) deltas into total[key], dropping what becomes zero."""
    row = total.setdefault(key, {})
    for name, value in deltas.items():
        updated = row.get(name, 0) + sign * value
        if updated:
            row[name] = updated
        else:
            row.pop(name, None)
    if not row:
        del total[key]


def difference(after: Mapping[Any, Deltas], before: Mapping[Any, Deltas]) -> dict[Any, Deltas]:
    """after - before, key by key, without the keys where nothing changed."""
    out: dict[Any, Deltas] = {}
    for key, deltas in after.items():
        add_into(out, key, deltas)
    for key, deltas in before.items():
        add_into(out, key, deltas, -1)
    return out


# --- totals, rates and ranks -------------------------------------------------------------


def rate(numerator: int, denominator: int | None) -> float | None:
    """A fraction (not a percentage), rounded to 6 decimals; None when it has no meaning."""
    if not denominator:
        return None
    return round(numerator / denominator, RATE_DECIMALS)


def gap_to_target(
    target_rate: float | None, adult_population: int | None, installed: int
) -> int | None:
    """ceil(target_rate x adult_population) - installed, never below 0. Decimal keeps
    0.6 x 9200 at 5520 exactly (binary floats make it 5520.000000000001)."""
    if target_rate is None or adult_population is None:
        return None
    numerator, denominator = _decimal_ratio(target_rate)
    target = -(-numerator * adult_population // denominator)  # the ceiling, in integers
    return max(0, target - installed)


@functools.lru_cache(maxsize=256)
def _decimal_ratio(target_rate: float) -> tuple[int, int]:
    """The rate as written (0.6 is 3/5, not the binary float's ratio), as integers: a
    country's answer computes 64 gaps, and a Decimal each cost more than the rest of them."""
    return Decimal(str(target_rate)).as_integer_ratio()


def competition_ranks(values: Mapping[Any, float | None]) -> dict[Any, int]:
    """Ranks by value, highest first; equal values share a rank (1, 2, 2, 4); unknown
    values come last, sharing the rank after every known one."""
    known = sorted((v for v in values.values() if v is not None), reverse=True)
    first_place: dict[float, int] = {}
    for place, value in enumerate(known, start=1):
        first_place.setdefault(value, place)
    last = len(known) + 1
    return {
        key: (first_place[value] if value is not None else last) for key, value in values.items()
    }


_AT = {name: index for index, name in enumerate(TOTAL_FIGURES)}
_OUTCOMES_AT = slice(_AT[f"outcome_{OUTCOMES[0]}"], _AT[f"outcome_{OUTCOMES[-1]}"] + 1)
_REVIEWS_AT = slice(_AT[f"review_{REVIEW_STATES[0]}"], _AT[f"review_{REVIEW_STATES[-1]}"] + 1)


def figure(values: Figures, name: str) -> int:
    """One figure of a unit's ``Figures`` by its name."""
    return values[_AT[name]]


def totals(
    values: Figures,
    *,
    adult_population: int | None,
    target_rate: float | None,
) -> dict[str, Any]:
    """The `totals` object of docs/figures.md from a unit's summed counters (``values``, in
    TOTAL_FIGURES order)."""
    (
        households,
        open_conflicts,
        households_visited,
        adults,
        smartphones,
        installed,
        installed_during_campaign,
        priority_subjects,
        priority_installed,
        visits,
    ) = values[:10]
    return {
        "households": households,
        "households_visited": households_visited,
        "visits": visits,
        "adults_counted": adults,
        "smartphones": smartphones,
        "installed": installed,
        "installed_during_campaign": installed_during_campaign,
        "adult_population": adult_population,
        "target_rate": target_rate,
        "coverage": rate(installed, adult_population),
        "coverage_of_counted": rate(installed, adults),
        "coverage_of_smartphones": rate(installed, smartphones),
        "gap_to_target": gap_to_target(target_rate, adult_population, installed),
        "priority_subjects": priority_subjects,
        "priority_installed": priority_installed,
        "by_outcome": dict(zip(OUTCOMES, values[_OUTCOMES_AT], strict=True)),
        "review": dict(zip(REVIEW_STATES, values[_REVIEWS_AT], strict=True)),
        "open_conflicts": open_conflicts,
    }


@dataclass(frozen=True)
class UnitNode:
    id: int
    parent_id: int | None
    level: str
    adult_population: int | None
    target_rate: float | None


def summed_population(populations: Iterable[int | None]) -> int | None:
    """The adult population of units taken together: the sum of the known ones (None when
    none is known)."""
    known = [p for p in populations if p is not None]
    return sum(known) if known else None


def effective_populations(nodes: Iterable[UnitNode]) -> dict[int, int | None]:
    """Each unit's adult population: its own, or the sum of its children's (None when
    neither it nor any unit below it knows one)."""
    nodes = list(nodes)
    children: dict[int | None, list[UnitNode]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    out: dict[int, int | None] = {}

    # Deepest first, so every child is known before its parent (trees are 4 levels deep).
    for node in sorted(nodes, key=lambda n: LEVEL_DEPTH_ORDER.get(n.level, 4)):
        if node.adult_population is not None:
            out[node.id] = node.adult_population
            continue
        out[node.id] = summed_population(out.get(c.id) for c in children.get(node.id, []))
    return out


# Levels from the bottom of the tree up: a unit's children are always on an earlier level.
LEVEL_DEPTH_ORDER = {"group": 0, "ward": 1, "district": 2, "province": 3}


@dataclass(frozen=True)
class PopulationDifference:
    """A unit whose stored effective adult population is not what its subtree gives."""

    unit_id: int
    stored: int | None
    expected: int | None


def population_differences(
    nodes: Iterable[UnitNode], stored: Mapping[int, int | None]
) -> list[PopulationDifference]:
    """Every unit of ``nodes`` (a whole subtree) whose stored effective population differs
    from the one summed up from its own and its children's, by unit id."""
    expected = effective_populations(nodes)
    return [
        PopulationDifference(unit_id, stored.get(unit_id), want)
        for unit_id, want in sorted(expected.items())
        if stored.get(unit_id) != want
    ]


def effective_target_rate(node: UnitNode, campaign_rate: float) -> float | None:
    """A ward's own target rate (None when unknown); above and below ward level its own
    when set, else the campaign's."""
    return target_rate_of(node.level, node.target_rate, campaign_rate)


def target_rate_of(level: str, own: float | None, campaign_rate: float) -> float | None:
    """``effective_target_rate`` of a unit's level and own rate (a country's answer ranks
    63 provinces: no node built for each)."""
    if level == "ward" or own is not None:
        return own
    return campaign_rate


# --- the daily series ----------------------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    """One day of a unit's daily series."""

    date: date
    visits: int
    installed_during: int
    cumulative_installed: int  # the state ``installed`` at the day's end


def first_series_day(start: date | None, end: date, first_known: str | None) -> date:
    """Where the daily series starts: ``start`` when given, else the unit's first day with
    a visit (``end`` when it has none, or only later ones), at most MAX_DAILY_DAYS back."""
    if start is not None:
        return start
    first = (
        date.fromisoformat(first_known) if first_known and first_known <= end.isoformat() else end
    )
    return max(first, end - timedelta(days=MAX_DAILY_DAYS - 1))


def daily_series(
    rows: Iterable[tuple[str, int, int, int]], first: date, end: date
) -> list[DayFigures]:
    """One row per day of [first, end], zero-filled, from the counter rows (day, visits,
    installed_during, installed delta) of every day up to ``end``; cumulative_installed
    starts from everything installed before ``first``."""
    rows = list(rows)
    by_day = {day: (visits, during, installed) for day, visits, during, installed in rows}
    cumulative = sum(installed for day, _, _, installed in rows if day < first.isoformat())
    out = []
    day = first
    while day <= end:
        visits, during, installed = by_day.get(day.isoformat(), (0, 0, 0))
        cumulative += installed
        out.append(DayFigures(day, visits, during, cumulative))
        day += timedelta(days=1)
    return out


# --- checking the counters -----------------------------------------------------------------


@dataclass(frozen=True)
class CounterDifference:
    """A stored counter that is not what a recount from the visits gives."""

    unit_id: int | str  # a unit's id; a scheme for its country's day rows
    day: str | None  # None: the undated row
    figure: str
    stored: int
    expected: int


def counter_differences(
    expected: Mapping[tuple[Any, str | None], Mapping[str, int]],
    stored: Mapping[tuple[Any, str | None], Mapping[str, int]],
) -> list[CounterDifference]:
    """Every counter that differs, by unit (or scheme, for a country's day rows), day
    (undated first) and figure."""
    out = []
    for key in sorted(set(expected) | set(stored), key=lambda k: (k[0], k[1] or "")):
        want, have = expected.get(key, {}), stored.get(key, {})
        for name in sorted(set(want) | set(have)):
            if want.get(name, 0) != have.get(name, 0):
                out.append(
                    CounterDifference(key[0], key[1], name, have.get(name, 0), want.get(name, 0))
                )
    return out
