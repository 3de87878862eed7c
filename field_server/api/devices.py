"""Devices (API §2, §5): list the tablets of a ward, revoke a lost one.

A device belongs to the units of its owner: a supervisor sees and revokes the devices whose
owner has an open assignment inside the supervisor's ward(s); a district officer sees those
of their district; an admin sees every device, including those whose owner has no unit.
"""

from flask import Response, jsonify

from schemas.devices import DeviceListQuery, dump_device

from ..auth.scope import current_principal, current_scope, ensure_unit_in_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..models import utcnow
from ..paging import decode_cursor, page
from ..parsing import parse_empty_body, parse_query
from ..store import audit, sessions
from ..store.engine import write_transaction
from ..store.units import get_unit_by_ref
from . import bp


@bp.get("/devices")
@requires("devices.read")
def list_devices() -> Response:
    query = parse_query(DeviceListQuery())
    after = decode_cursor("devices", query["cursor"]) or ""
    if not isinstance(after, str):
        raise ApiError("cursor_invalid")
    scope = current_scope()
    roots: list[str] | None
    if query["ward"]:
        roots = [ensure_unit_in_scope(get_unit_by_ref(query["ward"])).path]
    elif scope.everything:
        roots = None
    else:
        roots = [path for _, path in scope.roots]
    rows, has_more = sessions.list_devices(
        roots=roots, after_id=after, limit=query["limit"], now=utcnow()
    )
    items = [dump_device(device, owner) for device, owner in rows]
    last = rows[-1][0].device_id if rows else after
    return jsonify(page(items, kind="devices", last_position=last, has_more=has_more))


@bp.post("/devices/<device_id>/revoke")
@requires("devices.revoke")
def revoke_device(device_id: str) -> Response:
    parse_empty_body()
    principal = current_principal()
    scope = current_scope()
    roots = [path for _, path in scope.roots]
    now = utcnow()
    address = client_address()

    with write_transaction():
        found = sessions.device_with_owner(device_id, for_update=True)
        # Unknown and out-of-scope look the same, so device ids of other wards can't be probed.
        if found is None:
            raise ApiError("not_found")
        device, owner = found
        if not scope.everything and not sessions.owner_in_units(owner.id, roots, now):
            raise ApiError("not_found")
        # Revoking twice changes nothing and is answered like the first time (a retry after a
        # lost response must not fail); only the first revocation is audited.
        if device.revoked_at is None:
            ended = sessions.revoke_device(device, principal.user_id, now)
            audit.record(
                action="device.revoke",
                actor=principal.username,
                target=device.device_id,
                client_address=address,
                at=now,
                details={"owner": owner.username, "name": device.name, "sessions_ended": ended},
            )
        payload = dump_device(device, owner.username)
    return jsonify(payload)
