"""Devices (docs/api-auth.md, docs/api-supervision.md): list the tablets of a ward, revoke a lost
one (services/devices.py)."""

from __future__ import annotations

from typing import Any

from schemas.devices import DeviceListQuery, DeviceSchema

from ..clock import utcnow
from ..operation import operation
from ..services import devices
from ..services.context import Caller, Page
from . import bp


@bp.get("/devices")
@operation(
    "devices.read",
    query=DeviceListQuery,
    response=DeviceSchema,
    page="devices",
    errors=("not_found",),
)
def list_devices(caller: Caller, query: dict[str, Any]) -> Page:
    """The devices whose owners work in the caller's units, by device id."""
    return devices.list_devices(
        caller, ward=query["ward"], after=query["cursor"], limit=query["limit"], now=utcnow()
    )


@bp.post("/devices/<device_id>/revoke")
@operation("devices.revoke", empty_body=True, response=DeviceSchema, errors=("not_found",))
def revoke_device(device_id: str, caller: Caller) -> devices.DeviceInfo:
    """Revoke a lost tablet and end its sessions (idempotent)."""
    return devices.revoke_device(caller, device_id, now=utcnow())
