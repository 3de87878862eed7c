"""The demo at scale (`field-server demo --scale province|country`): its tablets, and their
pushes through the sync service.

The units and users are loaded by ``services.demo.load_demo`` (the operations of `units
import` and `users create`). Here: the demo's tablets are registered with the rows a first
login makes (store/sessions.py ``insert_devices``, the fields of ``device_for_login``, with
a random secret nobody holds), all in one transaction; then each tablet's log of mutations
goes through ``services.sync.push`` in batches of at most 500, exactly as ``POST
/api/v1/sync/push`` applies them (same planner, same bulk writes, same ledger, figures
and conflicts), without HTTP or tokens in between.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.records import MAX_BATCH
from domain.roles import Scope

from ..store import people
from ..store import units as unit_store
from ..store.engine import forget_loaded_rows
from ..store.sessions import NewDevice, insert_devices
from . import sync
from .context import Caller, Settings
from .sessions import device_secret_hash
from .writes import Write, run_write

# Devices written per flush: one multi-row INSERT each, not one per tablet.
CHUNK = 2000


@dataclass(frozen=True)
class DemoTablet:
    """A demo tablet: its install UUID, its owner (a canvasser), its name and the ward
    (``scheme:code``) its owner is assigned to."""

    device_id: str
    username: str
    name: str
    ward: str


@dataclass(frozen=True)
class TabletCaller:
    """A registered tablet, as the sync service sees its caller."""

    tablet: DemoTablet
    caller: Caller


def register_tablets(
    caller: Caller,
    tablets: Sequence[DemoTablet],
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> dict[str, TabletCaller]:
    """Register every tablet to its canvasser in one transaction, with the row a first login
    makes (a chunk at a time: multi-row INSERTs, not a round trip per tablet), each with a
    random secret that is not kept (nobody can log in with these devices:
    the demo pushes for them); the callers the sync service takes, by device id (scoped
    to the tablet's ward, which its owner is assigned to)."""

    def work(write: Write) -> dict[str, TabletCaller]:
        users = {user.username: user for user in people.all_users()}
        refs = sorted({tablet.ward for tablet in tablets})
        wards = {}
        for start in range(0, len(refs), 5000):
            wards.update(unit_store.units_by_refs(refs[start : start + 5000]))
        registered: dict[str, TabletCaller] = {}
        for start in range(0, len(tablets), CHUNK):
            rows = []
            for tablet in tablets[start : start + CHUNK]:
                owner = users[tablet.username]
                if owner.role != "canvasser":
                    raise ValueError(f"{tablet.username} is not a canvasser")
                # The row a first login makes, with a secret nobody holds.
                rows.append(
                    NewDevice(
                        device_id=tablet.device_id,
                        user_id=owner.id,
                        name=tablet.name,
                        secret_hash=device_secret_hash(secrets.token_urlsafe(32)),
                    )
                )
                ward = wards[tablet.ward]
                registered[tablet.device_id] = TabletCaller(
                    tablet,
                    Caller(
                        user_id=owner.id,
                        username=owner.username,
                        role=owner.role,
                        scope=Scope(everything=False, roots=((ward.id, ward.path),)),
                        device_id=tablet.device_id,
                    ),
                )
            insert_devices(rows, now)
            if progress is not None:
                progress(len(registered))
        write.audit("demo.tablets", None, {"registered": len(registered)})
        return registered

    registered = run_write(caller, now, work)
    # The session still maps the tens of thousands of units, users and devices loaded so
    # far, and every commit expires each of them: without this, each of the pushes that
    # follow would cost a tenth of a second more at country scale.
    forget_loaded_rows()
    return registered


def batches(mutations: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    """A tablet's log cut into pushes of at most 500 mutations (the protocol's limit)."""
    for start in range(0, len(mutations), MAX_BATCH):
        yield mutations[start : start + MAX_BATCH]


def push_log(
    tablet: TabletCaller,
    mutations: Sequence[dict[str, Any]],
    *,
    settings: Settings,
    clock: Callable[[], datetime],
) -> list[dict[str, Any]]:
    """Push a tablet's mutations (numbered on from what the server holds) in batches of
    at most 500 through the sync service; every mutation's result, in order."""
    results: list[dict[str, Any]] = []
    for batch in batches(mutations):
        answer = sync.push(
            tablet.caller, tablet.tablet.device_id, list(batch), now=clock(), settings=settings
        )
        results.extend(answer["results"])
    return results
