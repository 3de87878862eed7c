"""The run of the demo at scale: `field-server demo --scale province|country`.

It loads the units, users and tablets of the generated campaign (demo_campaign.py) through
``services.demo.load_demo`` and ``services.demo_scale.register_tablets``, then pushes each
ward's tablet logs through the sync service (services/demo_scale.py), so that figures,
ledgers and conflicts are what real pushes leave; on the way it prints progress lines on
standard error, and at the end a summary of what was generated, what the server answered
and the time each part took.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.geography import parse_units_csv

from ..auth.scope import current_settings
from ..clock import utcnow
from ..services import demo as demo_service
from ..services import demo_scale as scale_service
from ..services.users import generate_password
from .demo import DemoContext, operator, write_credentials
from .demo_campaign import (
    GROUPS_PER_WARD,
    GSO_UNITS_FILE,
    SCHEME,
    Campaign,
    WardLogs,
    geography,
    people,
)

DEFAULT_PROVINCE = "33"  # Hưng Yên, the province of the one-district demo
DEFAULT_VISITS = {"province": 100_000, "country": 1_000_000}


class Progress:
    """A line on standard error every few seconds: how far, and how fast."""

    EVERY_SECONDS = 5.0

    def __init__(self, what: str, total: int, echo: Callable[[str], None]) -> None:
        self.what = what
        self.total = total
        self.echo = echo
        self.started = self.shown = 0.0

    def __call__(self, done: int, extra: str = "") -> None:
        now = time.perf_counter()
        if not self.started:  # the rate counts from the first item, not from the setup
            self.started = self.shown = now
        elif now - self.shown >= self.EVERY_SECONDS:
            self.shown = now
            rate = done / (now - self.started)
            share = f" ({done / self.total:.0%})" if self.total else ""
            self.echo(f"  {self.what}: {done:,} of {self.total:,}{share}, {rate:,.0f}/s{extra}")


@dataclass
class Tally:
    """What the pushes answered, and what the campaign generated."""

    batches: int = 0
    mutations: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    generated: Counter[str] = field(default_factory=Counter)

    def add(self, logs: WardLogs) -> None:
        for name in (
            "households",
            "visits",
            "revisits",
            "duplicates",
            "voids",
            "updates",
            "priority",
        ):
            self.generated[name] += getattr(logs, name)

    def answer(self, results: Sequence[dict[str, Any]], batches: int) -> None:
        self.batches += batches
        self.mutations += len(results)
        for result in results:
            self.statuses[result["status"]] += 1
            if result["status"] == "rejected":
                self.rejections[result.get("code", "?")] += 1


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{value:.1f} s"


def run_scale(ctx: DemoContext, *, scale: str, province: str | None, visits: int | None) -> Tally:
    """Load the units, users and tablets of the scale, then push the campaign; prints what
    it does, with progress lines on standard error and the time each part took."""
    echo, note = ctx.echo, ctx.note
    started = time.perf_counter()
    geo = geography(province or DEFAULT_PROVINCE if scale == "province" else None)
    users, tablets = people(geo)
    total = DEFAULT_VISITS[scale] if visits is None else visits
    where = geo.provinces[0][1] if scale == "province" else "the whole country"
    echo(
        f"Loading the demo at {scale} scale: {where} ({len(geo.wards):,} wards), "
        f"{total:,} visits..."
    )
    password = generate_password()
    settings = current_settings()
    caller = operator()
    loaded = demo_service.load_demo(
        caller,
        parse_units_csv(geo.csv_text),
        users,
        now=ctx.now,
        settings=settings,
        shared_password=password,
        progress=Progress("users", len(users), note),
    )
    ctx.users = users
    ctx.passwords.update(loaded.passwords)
    roles = Counter(user.role for user in users)
    echo(
        f"Units: {loaded.units_created:,} loaded ({len(geo.provinces)} province(s), "
        f"{len(geo.districts):,} districts, {len(geo.wards):,} wards, "
        f"{len(geo.wards) * GROUPS_PER_WARD:,} residential groups) from "
        f"{GSO_UNITS_FILE.name} (scheme {SCHEME})"
    )
    echo(
        f"Users: {len(users):,} ({roles['admin']} admin, {roles['district']:,} province and "
        f"district officers, {roles['supervisor']:,} supervisors, {roles['canvasser']:,} "
        "canvassers), all with the same password"
    )
    write_credentials(ctx)
    loaded_at = time.perf_counter()
    registered = scale_service.register_tablets(
        caller, tablets, now=ctx.now, progress=Progress("tablets", len(tablets), note)
    )
    echo(f"Tablets: {len(registered):,} registered (three per ward)")
    pushed_from = time.perf_counter()
    tally = Tally()
    progress = Progress("visits", total, note)
    for wards_done, logs in enumerate(Campaign(geo, tablets, total), 1):
        tally.add(logs)
        for device_id, log in logs.logs.items():
            if log:
                results = scale_service.push_log(
                    registered[device_id], log, settings=settings, clock=utcnow
                )
                tally.answer(results, len(list(scale_service.batches(log))))
        progress(tally.generated["visits"], f", ward {wards_done:,} of {len(geo.wards):,}")
    pushed = time.perf_counter() - pushed_from
    made = tally.generated
    echo(
        f"Visits: {made['visits']:,} by {len(registered):,} tablets, "
        f"{tally.mutations:,} mutations in {tally.batches:,} pushes "
        f"({tally.mutations / max(pushed, 1e-9):,.0f} mutations/s): "
        f"{made['households']:,} households ({made['priority']:,} with a priority person), "
        f"{made['revisits']:,} revisits, {made['updates']:,} corrected, "
        f"{made['voids']:,} voided"
    )
    echo(
        f"Duplicates: {made['duplicates']:,} households recorded twice with the address "
        f"written otherwise; the server answered {tally.statuses['conflict']:,} conflicts "
        "(possible duplicates for the supervisors)"
    )
    if tally.rejections:
        shown = ", ".join(f"{code} {n:,}" for code, n in tally.rejections.most_common())
        echo(f"Warning: {sum(tally.rejections.values()):,} mutations rejected ({shown})")
    echo(
        f"Time: {_seconds(time.perf_counter() - started)} (units and users "
        f"{_seconds(loaded_at - started)}, tablets {_seconds(pushed_from - loaded_at)}, "
        f"visits {_seconds(pushed)})"
    )
    return tally
