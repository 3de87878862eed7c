"""Sync (docs/api.md#sync, docs/sync-protocol.md): push, pull, status (services/sync.py).

Push and pull are the server's hot paths: their services answer ready JSON, sent as it is
(``fast=True``); schemas/sync.py describes it and the tests check the two agree.
"""

from __future__ import annotations

from typing import Any

from schemas.sync import (
    PullQuery,
    PullResponseSchema,
    PushResponseSchema,
    PushSchema,
    SyncStatusSchema,
)

from ..clock import utcnow
from ..errors import message_language
from ..messages import translate_results
from ..operation import operation
from ..services import sync
from ..services.context import Caller, Settings
from . import bp


@bp.post("/sync/push")
@operation(
    "sync",
    body=PushSchema,
    response=PushResponseSchema,
    errors=("batch_too_large", "mutation_gap"),
    fast=True,
)
def push(caller: Caller, settings: Settings, body: dict[str, Any]) -> sync.PushResult:
    """Apply a batch of the device's mutations and answer each one's result.

    Only canvassers' tokens bound to the device named in the body may push.
    """
    answer = sync.push(
        caller, body["device_id"], body["mutations"], now=utcnow(), settings=settings
    )
    # Rejections' messages in the answer's language (the ledger keeps them in English).
    answer["results"] = translate_results(answer["results"], message_language())
    return answer


@bp.get("/sync/pull")
@operation(
    "sync", query=PullQuery, response=PullResponseSchema, errors=("cursor_invalid",), fast=True
)
def pull(caller: Caller, settings: Settings, query: dict[str, Any]) -> sync.PullPage:
    """A page of the changes in the device's scope after its cursor."""
    return sync.pull_page(
        caller, cursor=query["cursor"], limit=query["limit"], now=utcnow(), settings=settings
    )


@bp.get("/sync/status")
@operation("sync", response=SyncStatusSchema)
def status(caller: Caller) -> sync.SyncStatus:
    """Where the device stands on the server: its last acknowledged mutation."""
    return sync.status(caller, utcnow())
