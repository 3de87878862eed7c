"""The merge rules of docs/sync-protocol.md as pure functions.

- ``merge_update``: the 3-way merge of one tablet update (a household or a visit) with the
  record as the server holds it now;
- ``derive_counters``: a household's counters from its visits (installs never go back);
- ``installed_decreased``, ``gps_far``, ``too_fast``: the quality flags that compare a visit
  with others. ``outcome_mismatch`` lives with the counts rules in validation.py.

The caller loads the facts (base snapshot, who changed what since, the visits) and passes
them in; nothing here reads a clock or a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .hlc import HLC
from .records import (
    COUNT_FIELDS,
    GPS_FAR_METRES,
    TOO_FAST_SECONDS,
    Counters,
    MergeResult,
    VisitFacts,
)

SUPERVISOR = "supervisor"
CANVASSER = "canvasser"
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)

# --- the 3-way merge ---------------------------------------------------------------------


def merge_update(
    *,
    base: dict[str, Any],
    server: dict[str, Any],
    client: dict[str, Any],
    server_changed: dict[str, str],
    server_hlcs: dict[str, HLC],
    client_hlc: HLC,
    stale: bool,
) -> MergeResult:
    """Merge the fields a tablet changed (``client``) into the record as it is now.

    For each client field:

    1. the server did not change it since the tablet's base: the client's value is taken
       (listed in ``merged_fields`` when the base is stale);
    2. the server changed it, and the client's value equals the base value (a field absent
       from ``base`` is None there): the tablet did not really change it (it re-sent what it
       had), so this is a change on the server's side only and the server's value stays
       (no conflict; not in ``merged_fields``, which lists fields taken from the client);
    3. both changed it to the same value: taken silently;
    4. both changed it to different values: a supervisor's value since the base wins (the
       field is not applied); between canvassers the later HLC wins, the client's only when
       ``client_hlc`` is greater than ``server_hlcs[field]`` (an unknown server HLC keeps the
       server's value: what cannot be ordered is not overwritten). Either way
       ``conflicts[field] = {"base", "server", "client"}`` records the three values.

    ``apply`` holds only fields whose stored value actually changes.
    """
    result = MergeResult()
    for name, value in client.items():
        current = server.get(name)
        author = server_changed.get(name)
        if author is None:
            take = True
            if stale:
                result.merged_fields.append(name)
        elif value == current:
            take = False  # nothing to change, nothing to tell
        elif value == base.get(name):
            take = False  # the server's change stands; the tablet pulls it
        else:
            take = _client_wins(author, server_hlcs.get(name), client_hlc)
            result.conflicts[name] = {"base": base.get(name), "server": current, "client": value}
        if take and value != current:
            result.apply[name] = value
    return result


def _client_wins(author: str, server_hlc: HLC | None, client_hlc: HLC) -> bool:
    if author == SUPERVISOR:
        return False
    return server_hlc is not None and tuple(client_hlc) > tuple(server_hlc)


# --- counters ----------------------------------------------------------------------------


def _has_counts(visit: VisitFacts) -> bool:
    """A counting visit that carries all six counts."""
    return (
        visit.counting
        and visit.counts is not None
        and None not in map(visit.counts.get, COUNT_FIELDS)
    )


def _installs(counts: Mapping[str, int]) -> int:
    return counts["installed_before"] + counts["installed_during"]


def _order(visit: VisitFacts) -> tuple[tuple[int | str, ...], str]:
    # The id breaks a tie of equal keys, so the result never depends on input order.
    return (tuple(visit.order_key), visit.id)


def derive_counters(visits: Iterable[VisitFacts]) -> Counters:
    """A household's counters from its counting visits that carry counts: adults,
    smartphones and priority_subjects from the latest (largest order_key); installed the
    largest installed_before + installed_during, priority_installed the largest
    priority_installed, each capped at the latest adults. No such visit: all None."""
    counted = [visit for visit in visits if _has_counts(visit)]
    if not counted:
        return Counters()
    if len(counted) == 1:  # a household's first visit, the usual case: nothing to compare
        latest = counted[0].counts
        assert latest is not None
        installed, priority = _installs(latest), latest["priority_installed"]
    else:
        latest = max(counted, key=_order).counts
        assert latest is not None
        # Every one has counts (_has_counts): the test only narrows the type.
        all_counts = [visit.counts for visit in counted if visit.counts is not None]
        installed = max(map(_installs, all_counts))
        priority = max(counts["priority_installed"] for counts in all_counts)
    adults = latest["adults"]
    return Counters(
        adults=adults,
        smartphones=latest["smartphones"],
        installed=min(installed, adults),
        priority_subjects=latest["priority_subjects"],
        priority_installed=min(priority, adults),
    )


def installed_decreased(
    new_counts: dict[str, int], earlier: Iterable[VisitFacts], new_key: tuple[int, int, str]
) -> bool:
    """Whether a visit finds fewer installs (before + during) than the most that a counting
    visit with counts ordered before it (order_key < new_key) found."""
    found = [
        _installs(visit.counts)
        for visit in earlier
        # `visit.counts is not None` is part of _has_counts, repeated for the type checker.
        if visit.counts is not None
        and _has_counts(visit)
        and tuple(visit.order_key) < tuple(new_key)
    ]
    return bool(found) and _installs(new_counts) < max(found)


# --- position and time -------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS 84 positions (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # Rounding can push a a hair past 1 for antipodes; asin would then fail.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def gps_far(
    household_pos: tuple[float, float] | None, visit_pos: tuple[float, float] | None
) -> bool:
    """Whether a visit was recorded over ``GPS_FAR_METRES`` from the household's first
    position. Unknown on either side is never far."""
    if household_pos is None or visit_pos is None:
        return False
    return distance_m(*household_pos, *visit_pos) > GPS_FAR_METRES


def too_fast(previous_visited_at: datetime | None, visited_at: datetime) -> bool:
    """Whether a visit comes under ``TOO_FAST_SECONDS`` after the same canvasser's previous
    visit (by visited_at). The gap is taken either way: a visit stamped before the previous
    one (a tablet editing an old visit's time, or visits synced out of order) is too fast
    when within the same 60 s of it, and never otherwise. No previous visit: False."""
    if previous_visited_at is None:
        return False
    gap = abs((visited_at - previous_visited_at).total_seconds())
    return gap < TOO_FAST_SECONDS
