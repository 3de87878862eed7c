"""Sync (API §4): POST /sync/push, GET /sync/pull, GET /sync/status.

Push: parse the envelope, lock the device, refuse a gap, plan the batch in domain/push.py,
write it in bulk, commit, and only then answer 200. Pull: one read snapshot for the changes
and last_mutation_id, a signed cursor bound to the user, device and scope.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from flask import Response, current_app, jsonify
from itsdangerous import BadSignature, URLSafeSerializer

from domain.hlc import HybridClock, format_hlc
from domain.push import check_batch_start, plan_push
from domain.records import MAX_BATCH, SyncError
from schemas.records import rfc3339
from schemas.sync import PullQuery, PushSchema

from ..auth.principal import Principal
from ..auth.scope import current_principal, requires
from ..errors import ApiError
from ..extensions import db
from ..models import Device, utcnow
from ..parsing import parse_body, parse_query
from ..store import figures
from ..store import pull as pull_store
from ..store import sync as sync_store
from ..store.engine import begin_read_snapshot, write_transaction
from ..store.units import assigned_roots
from . import bp

log = logging.getLogger("field_server.sync")
_clock_lock = threading.Lock()


def _timezone() -> str:
    return str(current_app.config["TIMEZONE"])


def server_clock() -> HybridClock:
    """This process's hybrid logical clock (node "server")."""
    ext = current_app.extensions
    if "field_server_clock" not in ext:
        ext["field_server_clock"] = HybridClock("server")
    return ext["field_server_clock"]


def server_hlc() -> str:
    with _clock_lock:
        return format_hlc(server_clock().now(int(utcnow().timestamp() * 1000)))


def device_principal() -> Principal:
    principal = current_principal()
    if principal.device_id is None:
        raise ApiError("forbidden", details={"reason": "token_not_bound_to_a_device"})
    return principal


def scope_roots(user_id: int) -> tuple[tuple[int, str], ...]:
    grace = timedelta(days=current_app.config["ASSIGNMENT_GRACE_DAYS"])
    return tuple(assigned_roots(user_id, utcnow() - grace))


@bp.post("/sync/push")
@requires("sync")
def push() -> Response:
    principal = device_principal()
    body = parse_body(PushSchema())
    if body["device_id"] != principal.device_id:
        raise ApiError("forbidden", details={"reason": "device_id_differs_from_token"})
    raws: list[dict[str, Any]] = body["mutations"]
    if len(raws) > MAX_BATCH:
        raise ApiError("batch_too_large", details={"limit": MAX_BATCH})
    now = utcnow()
    with write_transaction():
        device = sync_store.lock_device(principal.device_id)
        if raws:
            try:
                check_batch_start(raws[0]["mutation_id"], device.last_mutation_id)
            except SyncError as exc:
                raise ApiError(exc.code, details=exc.details) from None
        context = sync_store.load_push_context(
            device_id=device.device_id,
            last_mutation_id=device.last_mutation_id,
            user_id=principal.user_id,
            username=principal.username,
            raws=raws,
            scope_paths=tuple(path for _, path in scope_roots(principal.user_id)),
        )
        before = figures.measure(context, _timezone())
        with _clock_lock:
            plan = plan_push(context, raws, now=now, clock=server_clock())
        sync_store.write_push(
            context,
            plan,
            device,
            now,
            figures_before=before,
            timezone=_timezone(),
        )
        last_mutation_id = device.last_mutation_id
    if plan.skews_ms:
        skew = max(plan.skews_ms, key=abs)
        if abs(skew) > 60_000:
            log.info("device %s clock is %+.0f s off", principal.device_id, skew / 1000)
    return jsonify(
        {
            "last_mutation_id": last_mutation_id,
            "server_time": rfc3339(now),
            "server_hlc": server_hlc(),
            "results": plan.results,
        }
    )


def _cursor_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="field-sync-pull")


@bp.get("/sync/pull")
@requires("sync")
def pull() -> Response:
    principal = device_principal()
    query = parse_query(PullQuery())
    begin_read_snapshot()  # changes and last_mutation_id from one snapshot
    scope = pull_store.pull_scope(principal.user_id, scope_roots(principal.user_id))
    fingerprint = scope.fingerprint()
    position, reset = pull_store.START, False
    if query["cursor"]:
        try:
            data = _cursor_serializer().loads(query["cursor"])
        except BadSignature:
            raise ApiError("cursor_invalid") from None
        if (
            not isinstance(data, dict)
            or data.get("u") != principal.user_id
            or data.get("d") != principal.device_id
            or not isinstance(data.get("p"), list)
            or len(data["p"]) != 3
        ):
            raise ApiError("cursor_invalid")
        if data.get("f") == fingerprint:
            position = tuple(data["p"])  # type: ignore[assignment]
        else:
            reset = True  # the scope changed: a full copy, built beside the old one
    changes, new_position, has_more = pull_store.pull_page(scope, position, query["limit"])
    last_mutation_id = pull_store.last_mutation_id(principal.device_id)
    cursor = _cursor_serializer().dumps(
        {
            "u": principal.user_id,
            "d": principal.device_id,
            "f": fingerprint,
            "p": list(new_position),
        }
    )
    db.session.rollback()  # end the read snapshot
    return jsonify(
        {
            "changes": changes,
            "cursor": cursor,
            "has_more": has_more,
            "reset": reset,
            "last_mutation_id": last_mutation_id,
            "server_time": rfc3339(utcnow()),
            "server_hlc": server_hlc(),
        }
    )


@bp.get("/sync/status")
@requires("sync")
def status() -> Response:
    principal = device_principal()
    device = db.session.get(Device, principal.device_id)
    assert device is not None
    return jsonify(
        {
            "device_id": device.device_id,
            "last_mutation_id": device.last_mutation_id,
            "last_push_at": rfc3339(device.last_push_at),
            "server_time": rfc3339(utcnow()),
            "server_hlc": server_hlc(),
        }
    )
