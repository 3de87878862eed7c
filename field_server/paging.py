"""Lists: signed opaque cursors and the `{"items", "cursor", "has_more"}` envelope."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from .auth.principal import current_principal_or_none
from .errors import ApiError


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"field-list:{kind}")


def encode_cursor(kind: str, position: Any) -> str:
    """A cursor for one list, bound to the caller so it cannot be replayed by another user."""
    principal = current_principal_or_none()
    return _serializer(kind).dumps({"p": position, "u": principal.user_id if principal else None})


def decode_cursor(kind: str, cursor: str | None) -> Any:
    if cursor is None or cursor == "":
        return None
    try:
        data = _serializer(kind).loads(cursor)
    except BadSignature:
        raise ApiError("cursor_invalid") from None
    principal = current_principal_or_none()
    if not isinstance(data, dict) or data.get("u") != (principal.user_id if principal else None):
        raise ApiError("cursor_invalid")
    return data.get("p")


def page(items: list[Any], *, kind: str, last_position: Any, has_more: bool) -> dict[str, Any]:
    return {
        "items": items,
        "cursor": encode_cursor(kind, last_position) if has_more else None,
        "has_more": has_more,
    }
