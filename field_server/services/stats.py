"""Figures: a unit's stats (GET /stats), the whole country's (``scheme:*``, admins only), and
the recount behind `field-server stats verify` and `stats rebuild`.

Every figure is read from the counters of store/figures.py (a handful of grouped queries
over a few rows per unit and day: the same cost at a thousand visits as at a million), all
from one read snapshot, and every adult population from the units' stored effective
populations: an answer reads the unit, its siblings and its children, never the subtree
below them (the same cost for a ward as for a province). The recount reads every household
and visit instead; the rebuild replaces the counters (and the stored populations) with it,
as one write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from domain.stats import (
    MAX_DAILY_DAYS,
    CounterDifference,
    DayFigures,
    PopulationDifference,
    competition_ranks,
    counter_differences,
    daily_series,
    first_series_day,
    rate,
    summed_population,
    totals,
)

from ..errors import ApiError
from ..models import Unit
from ..store import figures
from ..store.engine import begin_read_snapshot
from ..store.units import parse_unit_ref
from .context import Caller, Settings
from .scoping import unit_in_scope
from .writes import Write, run_write

# Told, every batch of a recount, how many households and visits were read so far.
RecountProgress = Callable[[int, int], None]

# `scheme:*` names the whole country of a scheme (every top unit): no unit code may hold a
# `*` (units import accepts letters, digits, '.', '_' and '-'), so it never names a unit.
COUNTRY_CODE = "*"
COUNTRY_LEVEL = "country"
COUNTRY_NAME = "Cả nước"


# Tuples, not frozen dataclasses: a country's answer makes two for each of its 63
# provinces, and a frozen dataclass costs three times as much to make.
class UnitHead(NamedTuple):
    scheme: str
    code: str
    name: str
    level: str

    @classmethod
    def of(cls, unit: Unit | figures.ShownUnit) -> UnitHead:
        return cls(unit.scheme, unit.code, unit.name, unit.level)


class ChildStats(NamedTuple):
    unit: UnitHead
    totals: dict[str, Any]
    rank: int


@dataclass(frozen=True)
class UnitStats:
    """A unit's figures as of ``as_of``, its rank among its siblings (``of`` of them), its
    children's figures and ranks, and the daily series."""

    unit: UnitHead
    as_of: date
    totals: dict[str, Any]
    rank: int
    of: int
    children: list[ChildStats]
    daily: list[DayFigures]

    def as_json(self) -> dict[str, Any]:
        """The answer in its JSON form, as schemas/stats.py's StatsSchema would dump it (keys
        in its order): the API sends it as it is, since a country's 63 provinces cost more to
        dump through the schema than to compute (tests/api/test_national_stats.py checks
        that both agree)."""
        return {
            "unit": _head_json(self.unit),
            "as_of": self.as_of.isoformat(),
            "totals": self.totals,
            "rank": self.rank,
            "of": self.of,
            "children": [
                {"unit": _head_json(c.unit), "totals": c.totals, "rank": c.rank}
                for c in self.children
            ],
            "daily": [
                {
                    "date": d.date.isoformat(),
                    "visits": d.visits,
                    "installed_during": d.installed_during,
                    "cumulative_installed": d.cumulative_installed,
                }
                for d in self.daily
            ],
        }


def _head_json(head: UnitHead) -> dict[str, str]:
    return {"scheme": head.scheme, "code": head.code, "name": head.name, "level": head.level}


def unit_stats(
    caller: Caller,
    unit_ref: str,
    *,
    start: date | None,
    end: date | None,
    now: datetime,
    settings: Settings,
) -> UnitStats:
    """The figures of a unit in the caller's scope: state figures as of the end of ``end``
    (default: today, campaign-local), flow figures within [start, end]. ``scheme:*`` is the
    whole country of the scheme (admins only: 403 ``forbidden`` for anyone else)."""
    parsed = parse_unit_ref(unit_ref)
    country = parsed is not None and parsed[1] == COUNTRY_CODE
    if country and caller.role != "admin":
        raise ApiError("forbidden")
    unit = None if country else unit_in_scope(caller, unit_ref)
    end = end or now.astimezone(ZoneInfo(settings.timezone)).date()
    if start is not None and start > end:
        raise ApiError("validation_failed", errors={"from": ["`from` is after `to`."]})
    if start is not None and (end - start).days >= MAX_DAILY_DAYS:
        # The query schema refuses a long range when both ends are given; `from` alone
        # runs to today, which may be as far (the daily series has a row per day).
        raise ApiError(
            "validation_failed", errors={"from": [f"At most {MAX_DAILY_DAYS} days at once."]}
        )
    begin_read_snapshot()  # every figure from one snapshot
    if unit is None:
        assert parsed is not None  # country is only set for a parsed reference
        return _country_stats(parsed[0], start, end, settings.target_rate)

    siblings = figures.siblings(unit)
    children = figures.children(unit)
    # The unit and its children are shown: all their figures. The siblings only rank the
    # unit: their installs as of `to` and their populations give their coverage.
    shown = figures.totals_for([unit, *children], start, end, settings.target_rate)
    installed = figures.installed_as_of((s.id for s in siblings), end)
    sibling_ranks = competition_ranks(
        {s.id: rate(installed[s.id], s.effective_population) for s in siblings}
    )
    child_ranks = competition_ranks({c.id: shown[c.id]["coverage"] for c in children})
    return UnitStats(
        unit=UnitHead.of(unit),
        as_of=end,
        totals=shown[unit.id],
        rank=sibling_ranks[unit.id],
        of=len(siblings),
        children=[ChildStats(UnitHead.of(c), shown[c.id], child_ranks[c.id]) for c in children],
        daily=_daily([unit.id], start, end),
    )


def _country_stats(scheme: str, start: date | None, end: date, campaign_rate: float) -> UnitStats:
    """The whole country of a scheme: its top units (provinces) ranked as its children, and
    totals that add theirs up (every household lies under exactly one of them), and its own
    daily series. The country has no siblings: rank 1 of 1. A scheme without units is 404
    ``not_found``."""
    provinces, summed, country = figures.country_sums(scheme, start, end)
    if not provinces:
        raise ApiError("not_found")
    child_totals = figures.totals_from_sums(provinces, summed, campaign_rate)
    child_ranks = competition_ranks({i: t["coverage"] for i, t in child_totals.items()})
    country_totals = totals(
        country,
        adult_population=summed_population(p.effective_population for p in provinces),
        target_rate=campaign_rate,
    )
    return UnitStats(
        unit=UnitHead(scheme, COUNTRY_CODE, COUNTRY_NAME, COUNTRY_LEVEL),
        as_of=end,
        totals=country_totals,
        rank=1,
        of=1,
        children=[
            ChildStats(UnitHead.of(p), child_totals[p.id], child_ranks[p.id]) for p in provinces
        ],
        daily=_series(figures.country_daily_rows(scheme, end), start, end),
    )


def _daily(unit_ids: list[int], start: date | None, end: date) -> list[DayFigures]:
    """The daily series of these units (summed)."""
    return _series(figures.daily_rows(unit_ids, end), start, end)


def _series(
    rows: list[tuple[str, int, int, int]], start: date | None, end: date
) -> list[DayFigures]:
    """The daily series of these rows (every day up to ``end``, by day): without ``start``
    it begins on the first of them (a first day after ``end`` makes it start on ``end``, as
    when there is none)."""
    first_known = rows[0][0] if rows and start is None else None
    return daily_series(rows, first_series_day(start, end, first_known), end)


# --- stats verify / rebuild -----------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What a recount from the visits found: counters that differ (``names`` gives each
    unit's scheme:code) and households whose own counters differ from their visits."""

    differences: list[CounterDifference]
    names: dict[int | str, str]
    households: list[str]
    populations: list[PopulationDifference]  # stored effective adult populations

    @property
    def agrees(self) -> bool:
        return not self.differences and not self.households and not self.populations


def verify_figures(
    caller: Caller,
    unit_ref: str | None,
    *,
    settings: Settings,
    progress: RecountProgress | None = None,
) -> Verification:
    """Recount the figures (of ``unit_ref`` and the units below it, or of everything) from
    the visits and compare them with the stored counters, and the units' stored effective
    adult populations with their own and their children's. Reads only."""
    root = unit_in_scope(caller, unit_ref) if unit_ref else None
    begin_read_snapshot()
    result = figures.recount(root, progress=progress, timezone=settings.timezone)
    found = counter_differences(result.contributions, figures.stored(root))
    populations = figures.population_errors(root)
    named = {d.unit_id for d in found if isinstance(d.unit_id, int)}
    refs = figures.unit_refs(named | {p.unit_id for p in populations})
    names: dict[int | str, str] = {unit_id: ref for unit_id, ref in refs.items()}
    if root is None:  # the country rows add up every top unit: only a whole recount has them
        countries = counter_differences(
            figures.country_days(result.contributions), figures.stored_country()
        )
        names.update({d.unit_id: f"{d.unit_id}:{COUNTRY_CODE}" for d in countries})
        found += countries
    return Verification(found, names, result.household_counter_errors, populations)


@dataclass(frozen=True)
class Rebuilt:
    counters: int  # counter values that were wrong
    households: int  # households whose own counters were repaired
    populations: int  # units whose stored effective adult population was wrong


def rebuild_figures(
    caller: Caller,
    *,
    now: datetime,
    settings: Settings,
    progress: RecountProgress | None = None,
) -> Rebuilt:
    """Replace every counter with a recount from the visits, repair the households whose
    own counters differ from their visits and every unit's stored effective adult
    population: one write, audited (``figures.rebuild``)."""

    def work(write: Write) -> Rebuilt:
        before, before_country = figures.stored(), figures.stored_country()
        wrong_populations = figures.population_errors()
        result = figures.rebuild(progress=progress, timezone=settings.timezone)
        figures.refresh_all_populations()
        country = figures.country_days(result.contributions)
        rebuilt = Rebuilt(
            counters=len(counter_differences(result.contributions, before))
            + len(counter_differences(country, before_country)),
            households=len(result.household_counter_errors),
            populations=len(wrong_populations),
        )
        write.audit(
            "figures.rebuild",
            None,
            {
                "counters": rebuilt.counters,
                "households": rebuilt.households,
                "populations": rebuilt.populations,
            },
        )
        return rebuilt

    return run_write(caller, now, work)
