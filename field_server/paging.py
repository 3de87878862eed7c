"""Signed opaque cursors, all in one place, and the lists' `{"items", "cursor", "has_more"}`
envelope.

Two kinds of cursor, both signed with the app's secret key (a client can neither read nor
forge one):

- a list's (``encode_cursor``/``decode_cursor``, salt ``field-list:<kind>``): the position
  of the last item sent, bound to the caller so that it cannot be replayed by another user.
  The ``@operation`` decorator (operation.py) decodes and encodes them for list views.
- the pull's (``encode_pull_cursor``/``decode_pull_cursor``, salt ``field-sync-pull``): the
  position in the change sequence, bound to the user, the device and a fingerprint of the
  scope it was made for (docs/sync-protocol.md#pull). Tablets keep these across app
  updates, so their salt and payload (``{"u", "d", "f", "p"}``) must never change. These two
  take the secret key as an argument: the pull service calls them with its settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from .auth.principal import current_principal_or_none, request_cache
from .errors import ApiError

# The request cache's key under which the pages (web/session.py) name the signed-in person,
# so that a page's cursor is bound to them as an API cursor is bound to its token's user.
PAGE_USER = "page_user_id"

PULL_SALT = "field-sync-pull"


def _serializer(secret_key: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=salt)


def _list_serializer(kind: str) -> URLSafeSerializer:
    return _serializer(current_app.config["SECRET_KEY"], f"field-list:{kind}")


def _cursor_owner() -> int | None:
    """The user a cursor is bound to: the bearer token's, or the page session's."""
    principal = current_principal_or_none()
    if principal is not None:
        return principal.user_id
    owner = request_cache().get(PAGE_USER)
    return owner if isinstance(owner, int) else None


def encode_cursor(kind: str, position: Any) -> str:
    """A cursor for one list, bound to the caller so it cannot be replayed by another user."""
    return _list_serializer(kind).dumps({"p": position, "u": _cursor_owner()})


def decode_cursor(kind: str, cursor: str | None) -> Any:
    """The position a list's cursor holds (None without a cursor); 400 ``cursor_invalid``
    when it is forged, of another list or of another user."""
    if cursor is None or cursor == "":
        return None
    try:
        data = _list_serializer(kind).loads(cursor)
    except BadSignature:
        raise ApiError("cursor_invalid") from None
    if not isinstance(data, dict) or data.get("u") != _cursor_owner():
        raise ApiError("cursor_invalid")
    return data.get("p")


def page(items: list[Any], *, kind: str, last_position: Any, has_more: bool) -> dict[str, Any]:
    return {
        "items": items,
        "cursor": encode_cursor(kind, last_position) if has_more else None,
        "has_more": has_more,
    }


@dataclass(frozen=True)
class PullCursor:
    """What a pull cursor holds: whose it is, the scope it was made for, and the position
    (change_seq, entity rank, key) of the last change sent."""

    user_id: int | None
    device_id: str | None
    fingerprint: Any
    position: tuple[int, int, Any]


def encode_pull_cursor(secret_key: str, cursor: PullCursor) -> str:
    return _serializer(secret_key, PULL_SALT).dumps(
        {
            "u": cursor.user_id,
            "d": cursor.device_id,
            "f": cursor.fingerprint,
            "p": list(cursor.position),
        }
    )


def decode_pull_cursor(
    secret_key: str, text: str | None, *, user_id: int | None, device_id: str | None
) -> PullCursor | None:
    """The pull cursor a device sent back (None without one); 400 ``cursor_invalid`` when it
    is forged, malformed, or another user's or device's. A cursor of another scope is
    valid: the pull answers it with a reset."""
    if not text:
        return None
    try:
        data = _serializer(secret_key, PULL_SALT).loads(text)
    except BadSignature:
        raise ApiError("cursor_invalid") from None
    if (
        not isinstance(data, dict)
        or data.get("u") != user_id
        or data.get("d") != device_id
        or not isinstance(data.get("p"), list)
        or len(data["p"]) != 3
    ):
        raise ApiError("cursor_invalid")
    seq, rank, key = data["p"]
    return PullCursor(user_id, device_id, data.get("f"), (seq, rank, key))
