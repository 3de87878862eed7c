"""The sync protocol's three operations (docs/sync-protocol.md): push, pull a page, status.

Only a canvasser's token bound to a device syncs; the device is the caller's.

Push: lock the device, refuse a gap, load what the batch touches, measure the figures,
plan the batch (domain/push.py) under the server's clock, write it in bulk
(store/sync.py ``write_push``), commit, and only then answer. It is the hot path of the
server (docs/benchmarks.md): a fixed handful of statements whatever the batch size, and
the answer is the planner's results as they are, in their JSON form.

Pull: one read snapshot for the changes and ``last_mutation_id``; the cursor is bound to the
user, the device and the scope (paging.py), and a cursor of another scope starts a full
copy (``reset``). The page is written by store/pull.py's fast writer, in its JSON form.

Push and pull answer JSON-ready dicts (their views send them as they are; schemas/sync.py
describes them and the tests check the two agree); status answers a ``SyncStatus``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from domain.push import PushPlan, check_batch_start, plan_push
from domain.records import MAX_BATCH

from ..errors import ApiError
from ..paging import PullCursor, decode_pull_cursor, encode_pull_cursor
from ..store import figures
from ..store import pull as pull_store
from ..store import sync as sync_store
from ..store.units import assigned_roots
from .context import Caller, Settings
from .server_clock import reading, with_clock
from .writes import Write, run_write

log = logging.getLogger("field_server.sync")

# A device clock further off than this is worth a line in the log (the visits themselves
# are flagged clock_suspect by the planner when it runs ahead).
SKEW_LOGGED_MS = 60_000


class PushResult(TypedDict):
    """The answer to a push, in its JSON form (schemas/sync.py PushResponseSchema)."""

    last_mutation_id: int
    server_time: str | None
    server_hlc: str
    results: list[dict[str, Any]]


class PullPage(TypedDict):
    """One pull page, in its JSON form (schemas/sync.py PullResponseSchema)."""

    changes: list[dict[str, Any]]
    cursor: str
    has_more: bool
    reset: bool
    last_mutation_id: int
    server_time: str | None
    server_hlc: str


@dataclass(frozen=True)
class SyncStatus:
    device_id: str
    last_mutation_id: int
    last_push_at: datetime | None
    server_time: datetime
    server_hlc: str


def _device(caller: Caller) -> tuple[int, str]:
    """The caller's user id and device: only tokens bound to a device sync."""
    if caller.device_id is None or caller.user_id is None:
        raise ApiError("forbidden", details={"reason": "token_not_bound_to_a_device"})
    return caller.user_id, caller.device_id


def _scope_roots(user_id: int, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    """The canvasser's units, read now (inside the operation's transaction or snapshot):
    open assignments and those ended within the grace period."""
    grace = timedelta(days=settings.assignment_grace_days)
    return list(assigned_roots(user_id, now - grace))


def push(
    caller: Caller,
    device_id: str,
    mutations: list[dict[str, Any]],
    *,
    now: datetime,
    settings: Settings,
) -> PushResult:
    """Apply a batch of mutations (already checked by the push envelope: objects with
    consecutive integer ids) and answer each one's result, once committed."""
    user_id, own = _device(caller)
    if device_id != own:
        raise ApiError("forbidden", details={"reason": "device_id_differs_from_token"})
    if len(mutations) > MAX_BATCH:
        raise ApiError("batch_too_large", details={"limit": MAX_BATCH})

    def work(write: Write) -> tuple[PushPlan, int]:
        device = sync_store.lock_device(own)  # this device's pushes queue here
        # The paths read below (the canvasser's units, the wards the counters follow) hold
        # until the commit: a units import moving a unit waits, or is waited for.
        figures.hold_tree()
        if mutations:
            check_batch_start(mutations[0]["mutation_id"], device.last_mutation_id)
        context = sync_store.load_push_context(
            device_id=device.device_id,
            last_mutation_id=device.last_mutation_id,
            user_id=user_id,
            username=caller.username,
            raws=mutations,
            scope_paths=tuple(path for _, path in _scope_roots(user_id, now, settings)),
        )
        before = figures.measure(context, settings.timezone)
        plan = with_clock(lambda clock: plan_push(context, mutations, now=now, clock=clock))
        # write_push stamps its rows and settles the figures itself, in bulk.
        sync_store.write_push(
            context, plan, device, now, figures_before=before, timezone=settings.timezone
        )
        return plan, device.last_mutation_id

    plan, last_mutation_id = run_write(caller, now, work, timezone=settings.timezone)
    # Committed: a first big sync gives the pull's queries their statistics at once.
    pull_store.analyse_if_unanalysed()
    if plan.skews_ms:
        skew = max(plan.skews_ms, key=abs)
        if abs(skew) > SKEW_LOGGED_MS:
            log.info("device %s clock is %+.0f s off", own, skew / 1000)
    return {
        "last_mutation_id": last_mutation_id,
        "server_time": pull_store.rfc3339(now),
        "server_hlc": reading(now),
        "results": plan.results,
    }


def pull_page(
    caller: Caller, *, cursor: str | None, limit: int, now: datetime, settings: Settings
) -> PullPage:
    """The changes in the device's scope after ``cursor`` (none: from the beginning), at
    most ``limit``, with the cursor to resume from."""
    user_id, device_id = _device(caller)
    held = decode_pull_cursor(settings.secret_key, cursor, user_id=user_id, device_id=device_id)
    with pull_store.read_snapshot() as below:  # changes and last_mutation_id from one snapshot
        scope = pull_store.pull_scope(user_id, _scope_roots(user_id, now, settings))
        fingerprint = scope.fingerprint()
        position, reset = pull_store.START, False
        if held is not None:
            if held.fingerprint == fingerprint:
                position = held.position
            else:
                reset = True  # the scope changed: a full copy, built beside the old one
        changes, new_position, has_more = pull_store.pull_page(scope, position, limit, below)
        last_mutation_id = pull_store.last_mutation_id(device_id)
    next_cursor = encode_pull_cursor(
        settings.secret_key, PullCursor(user_id, device_id, fingerprint, new_position)
    )
    return {
        "changes": changes,
        "cursor": next_cursor,
        "has_more": has_more,
        "reset": reset,
        "last_mutation_id": last_mutation_id,
        "server_time": pull_store.rfc3339(now),
        "server_hlc": reading(now),
    }


def status(caller: Caller, now: datetime) -> SyncStatus:
    """Where the caller's device stands: its last acknowledged mutation and last push."""
    _, device_id = _device(caller)
    device = sync_store.get_device(device_id)
    if device is None:  # authentication found the device a moment ago
        raise RuntimeError(f"device {device_id} vanished")
    return SyncStatus(
        device_id=device.device_id,
        last_mutation_id=device.last_mutation_id,
        last_push_at=device.last_push_at,
        server_time=now,
        server_hlc=reading(now),
    )
