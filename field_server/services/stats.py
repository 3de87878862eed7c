"""Figures: a unit's stats (GET /stats), and the recount behind `field-server stats verify`
and `stats rebuild`.

Every figure is read from the counters of store/figures.py (a handful of grouped queries
over a few rows per unit and day: the same cost at a thousand visits as at a million), all
from one read snapshot. The recount reads every household and visit instead; the rebuild
replaces the counters with it, as one write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.stats import (
    MAX_DAILY_DAYS,
    CounterDifference,
    DayFigures,
    competition_ranks,
    counter_differences,
    daily_series,
    first_series_day,
)

from ..errors import ApiError
from ..models import Unit
from ..store import figures
from ..store.engine import begin_read_snapshot
from .context import Caller, Settings
from .scoping import unit_in_scope
from .writes import Write, run_write

# Told, every batch of a recount, how many households and visits were read so far.
RecountProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class UnitHead:
    scheme: str
    code: str
    name: str
    level: str

    @classmethod
    def of(cls, unit: Unit) -> UnitHead:
        return cls(unit.scheme, unit.code, unit.name, unit.level)


@dataclass(frozen=True)
class ChildStats:
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
    (default: today, campaign-local), flow figures within [start, end]."""
    unit = unit_in_scope(caller, unit_ref)
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

    siblings = figures.siblings(unit)
    children = figures.children(unit)
    rate = settings.target_rate
    sibling_totals = figures.totals_for(siblings, start, end, rate)
    child_totals = figures.totals_for(children, start, end, rate)
    sibling_ranks = competition_ranks({i: t["coverage"] for i, t in sibling_totals.items()})
    child_ranks = competition_ranks({i: t["coverage"] for i, t in child_totals.items()})
    first = first_series_day(start, end, figures.first_day(unit.id) if start is None else None)
    return UnitStats(
        unit=UnitHead.of(unit),
        as_of=end,
        totals=sibling_totals[unit.id],
        rank=sibling_ranks[unit.id],
        of=len(siblings),
        children=[
            ChildStats(UnitHead.of(c), child_totals[c.id], child_ranks[c.id]) for c in children
        ],
        daily=daily_series(figures.daily_rows(unit.id, end), first, end),
    )


# --- stats verify / rebuild -----------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What a recount from the visits found: counters that differ (``names`` gives each
    unit's scheme:code) and households whose own counters differ from their visits."""

    differences: list[CounterDifference]
    names: dict[int, str]
    households: list[str]

    @property
    def agrees(self) -> bool:
        return not self.differences and not self.households


def verify_figures(
    caller: Caller,
    unit_ref: str | None,
    *,
    settings: Settings,
    progress: RecountProgress | None = None,
) -> Verification:
    """Recount the figures (of ``unit_ref`` and the units below it, or of everything) from
    the visits and compare them with the stored counters. Reads only."""
    root = unit_in_scope(caller, unit_ref) if unit_ref else None
    begin_read_snapshot()
    result = figures.recount(root, progress=progress, timezone=settings.timezone)
    found = counter_differences(result.contributions, figures.stored(root))
    names = figures.unit_refs({d.unit_id for d in found})
    return Verification(found, names, result.household_counter_errors)


@dataclass(frozen=True)
class Rebuilt:
    counters: int  # counter values that were wrong
    households: int  # households whose own counters were repaired


def rebuild_figures(
    caller: Caller,
    *,
    now: datetime,
    settings: Settings,
    progress: RecountProgress | None = None,
) -> Rebuilt:
    """Replace every counter with a recount from the visits, and repair the households
    whose own counters differ from their visits: one write, audited (``figures.rebuild``)."""

    def work(write: Write) -> Rebuilt:
        before = figures.stored()
        result = figures.rebuild(progress=progress, timezone=settings.timezone)
        rebuilt = Rebuilt(
            counters=len(counter_differences(result.contributions, before)),
            households=len(result.household_counter_errors),
        )
        write.audit(
            "figures.rebuild",
            None,
            {"counters": rebuilt.counters, "households": rebuilt.households},
        )
        return rebuilt

    return run_write(caller, now, work)
