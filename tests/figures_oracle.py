"""The figures of docs/figures.md recomputed from scratch, the slow obvious way, for tests.

Written from the spec's words, apart from the server's counter arithmetic (domain/stats.py):
read every household and visit of a unit's subtree and count, as of ``to`` and within
``[start, to]``. Only the household counter rule (derive_counters, tested on its own) is
shared.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from domain.records import COUNT_FIELDS, OUTCOMES, REVIEW_STATES, VisitFacts
from domain.rules import derive_counters
from field_server.extensions import db
from field_server.models import Conflict, Household, Unit, Visit


def _day(visit: Visit, zone: str) -> date:
    return visit.visited_at.astimezone(ZoneInfo(zone)).date()


def _population(unit: Unit) -> int | None:
    if unit.adult_population is not None:
        return unit.adult_population
    children = db.session.execute(select(Unit).where(Unit.parent_id == unit.id)).scalars()
    known = [p for p in (_population(c) for c in children) if p is not None]
    return sum(known) if known else None


def expected_totals(
    unit: Unit, to: date, start: date | None = None, zone: str = "Asia/Ho_Chi_Minh",
    campaign_rate: float = 0.6,
) -> dict[str, Any]:  # fmt: skip
    units = {
        u.id: u
        for u in db.session.execute(select(Unit).where(Unit.path.startswith(unit.path))).scalars()
    }
    households = [
        h
        for h in db.session.execute(select(Household)).scalars()
        if h.ward_id in units or h.group_id in units
    ]
    if unit.level == "group":
        households = [h for h in households if h.group_id == unit.id]
    t: dict[str, Any] = dict.fromkeys(
        ("households", "households_visited", "visits", "adults_counted", "smartphones",
         "installed", "installed_during_campaign", "priority_subjects", "priority_installed"),
        0,
    )  # fmt: skip
    by_outcome = dict.fromkeys(OUTCOMES, 0)
    review = dict.fromkeys(REVIEW_STATES, 0)
    for h in households:
        if h.merged_into is None:
            t["households"] += 1
        visits = list(db.session.execute(select(Visit).where(Visit.household_id == h.id)).scalars())
        for v in visits:
            day = _day(v, zone)
            in_range = day <= to and (start is None or day >= start)
            counting = not v.voided and v.review_status != "rejected"
            if in_range and counting:
                t["visits"] += 1
                by_outcome[v.outcome] += 1
            if in_range and not v.voided:
                review[v.review_status] += 1
        upto = [v for v in visits if _day(v, zone) <= to]
        counting = [v for v in upto if not v.voided and v.review_status != "rejected"]
        if counting:
            t["households_visited"] += 1
        facts = [
            VisitFacts(
                id=v.id,
                order_key=(v.order_ms, v.order_counter, v.order_node),
                counts={f: getattr(v, f) for f in COUNT_FIELDS}
                if all(getattr(v, f) is not None for f in COUNT_FIELDS)
                else None,
                counting=True,
            )
            for v in counting
        ]
        c = derive_counters(facts)
        if c.adults is not None:
            t["adults_counted"] += c.adults
            t["smartphones"] += c.smartphones
            t["installed"] += c.installed
            t["priority_subjects"] += c.priority_subjects
            t["priority_installed"] += c.priority_installed
            first = min((f for f in facts if f.counts), key=lambda f: (f.order_key, f.id))
            t["installed_during_campaign"] += max(0, c.installed - first.counts["installed_before"])
    population = _population(unit)
    target = unit.target_rate if (unit.level == "ward" or unit.target_rate) else campaign_rate
    installed = t["installed"]

    def share(d: int | None) -> float | None:
        return None if not d else installed / d

    t.update(
        adult_population=population,
        target_rate=target,
        coverage=share(population),
        coverage_of_counted=share(t["adults_counted"]),
        coverage_of_smartphones=share(t["smartphones"]),
        gap_to_target=None
        if population is None or target is None
        else max(0, math.ceil(Decimal(str(target)) * population) - installed),
        by_outcome=by_outcome,
        review=review,
        open_conflicts=sum(
            1
            for c in db.session.execute(select(Conflict).where(Conflict.status == "open")).scalars()
            if c.ward_id in units
        )
        if unit.level != "group"
        else 0,
    )
    return t


def assert_totals_match(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Equal, with the rates compared to the 4 decimals the contract promises at least."""
    for name, value in want.items():
        if name.startswith("coverage"):
            if value is None:
                assert got[name] is None, name
            else:
                assert got[name] is not None and abs(got[name] - value) < 1e-6, name
        else:
            assert got[name] == value, (name, got[name], value)
