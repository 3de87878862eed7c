"""Devices: list the tablets a caller may see, read one, revoke a lost one.

A device belongs to the units of its owner: a supervisor sees and revokes the devices whose
owner has an open assignment inside the supervisor's ward(s); a district officer sees those
of their district; an admin sees every device, including those whose owner has no unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ApiError
from ..store import sessions
from ..store.units import get_unit_by_ref
from .context import Caller, Page
from .writes import Write, run_write


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    name: str | None
    owner: str
    last_seen: datetime | None
    last_mutation_id: int
    revoked: bool
    revoked_at: datetime | None


def _info(device: Any, owner: str) -> DeviceInfo:
    return DeviceInfo(
        device_id=device.device_id,
        name=device.name,
        owner=owner,
        last_seen=device.last_seen_at,
        last_mutation_id=device.last_mutation_id,
        revoked=device.revoked_at is not None,
        revoked_at=device.revoked_at,
    )


def list_devices(
    caller: Caller, *, ward: str | None, after: Any, limit: int, now: datetime
) -> Page:
    """A page of the devices whose owners work in the caller's units (or under ``ward``)."""
    if after is None:
        after = ""
    if not isinstance(after, str):
        raise ApiError("cursor_invalid")
    roots: list[str] | None
    if ward:
        unit = get_unit_by_ref(ward)
        if unit is None or not caller.scope.covers(unit.path):
            raise ApiError("not_found")
        roots = [unit.path]
    elif caller.scope.everything:
        roots = None
    else:
        roots = [path for _, path in caller.scope.roots]
    rows, has_more = sessions.list_devices(roots=roots, after_id=after, limit=limit, now=now)
    last = rows[-1][0].device_id if rows else after
    return Page([_info(device, owner) for device, owner in rows], last, has_more)


def _visible(caller: Caller, owner_id: int, now: datetime) -> bool:
    """Whether the caller's device list shows a device of this owner."""
    if caller.scope.everything:
        return True
    roots = [path for _, path in caller.scope.roots]
    return sessions.owner_in_units(owner_id, roots, now)


def get_device(caller: Caller, device_id: str, *, now: datetime) -> DeviceInfo:
    """One device the caller's list shows; 404 when unknown or outside their units."""
    found = sessions.device_with_owner(device_id)
    if found is None or not _visible(caller, found[1].id, now):
        raise ApiError("not_found")
    device, owner = found
    return _info(device, owner.username)


def revoke_device(caller: Caller, device_id: str, *, now: datetime) -> DeviceInfo:
    """Revoke a device and end its sessions. Revoking twice changes nothing and answers like
    the first time (a retry after a lost response must not fail); only the first is audited.
    Unknown and out-of-scope devices are both 404, so ids of other wards cannot be probed."""

    def work(write: Write) -> DeviceInfo:
        found = sessions.device_with_owner(device_id, for_update=True)
        if found is None or not _visible(caller, found[1].id, now):
            raise ApiError("not_found")
        device, owner = found
        if device.revoked_at is None:
            ended = sessions.revoke_device(device, caller.user_id, now)
            write.audit(
                "device.revoke",
                device.device_id,
                {"owner": owner.username, "name": device.name, "sessions_ended": ended},
            )
        return _info(device, owner.username)

    return run_write(caller, now, work)
