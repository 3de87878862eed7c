"""Devices (API §2, §5): the list query and a device as shown to supervisors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import fields

from . import UNIT_REF, ListQuerySchema


class DeviceListQuery(ListQuerySchema):
    # Any unit in the caller's scope; named `ward` because that is what supervisors pick.
    ward = fields.String(load_default=None, validate=UNIT_REF)


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dump_device(device: Any, owner: str) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "name": device.name,
        "owner": owner,
        "last_seen": rfc3339(device.last_seen_at),
        "last_mutation_id": device.last_mutation_id,
        "revoked": device.revoked_at is not None,
        "revoked_at": rfc3339(device.revoked_at),
    }
