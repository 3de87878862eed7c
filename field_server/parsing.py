"""Request parsing shared by every view: JSON bodies and query strings through schemas.

The order of refusals is fixed so clients can rely on it: wrong content type (415), body not
JSON (400 json_invalid), not an object or failing the schema (422 validation_failed).
Oversize bodies are 413: Werkzeug refuses a Content-Length over MAX_CONTENT_LENGTH, and
``request_body`` refuses a body sent without one (chunked) that runs past it, which Werkzeug
would otherwise cut at the limit and hand over as if it were whole.

Every body is parsed by orjson, never by the standard ``json`` module, whose recursion on a
body nested thousands deep is a RecursionError (a 500). orjson itself refuses nesting past
1,024 levels, but values nested even 255 deep are more than orjson can write back and
about what the standard encoder can: a rejected mutation kept with such a payload would
break every later answer that shows it. No request of the API needs more than a few
levels, so a body nested deeper than ``MAX_JSON_DEPTH`` is refused as not JSON we take
(400 json_invalid, ``details.max_depth``).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import request
from marshmallow import Schema, ValidationError

from .errors import ApiError

# Arrays and objects inside each other, the body itself being level 1. A push is 4 deep.
MAX_JSON_DEPTH = 32
_CONTAINERS = frozenset({dict, list})


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests arrays and objects more than ``limit`` levels deep.

    Level by level, and a container whose members hold no container is passed over by C
    code (``map(type, …)``): a push of 500 mutations costs about half a millisecond."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        for container in level:
            members = container.values() if type(container) is dict else container
            if not _CONTAINERS.isdisjoint(map(type, members)):
                below += [m for m in members if type(m) in _CONTAINERS]
        level = below
        depth += 1
    return False


def load_json(raw: bytes) -> Any:
    """A request body parsed, or 400 json_invalid: not JSON, or nested too deep."""
    try:
        # orjson: a 5 MB push parses several times faster; it also refuses what JSON does
        # not allow (NaN, invalid UTF-8, lone surrogates) where the standard module accepts it.
        payload = orjson.loads(raw)
    except ValueError:
        raise ApiError("json_invalid") from None
    if nested_deeper_than(payload, MAX_JSON_DEPTH):
        raise ApiError("json_invalid", details={"max_depth": MAX_JSON_DEPTH})
    return payload


def request_body() -> bytes:
    """The request's body, whole, or 413 payload_too_large.

    Without a Content-Length (a chunked upload) Werkzeug reads up to MAX_CONTENT_LENGTH and
    stops there silently: a push padded past 5 MB would be read cut short, and a cut that
    still parses would be applied. One byte more on the server's stream means the body was
    longer than the limit."""
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    cut = request.content_length is None and limit is not None and len(raw) >= limit
    if cut and request.environ["wsgi.input"].read(1):
        raise ApiError("payload_too_large")
    return raw


def _error_map(messages: Any) -> dict[str, Any]:
    return messages if isinstance(messages, dict) else {"_schema": messages}


def parse_body(schema: Schema) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise ApiError("unsupported_media_type")
    raw = request_body()
    payload = load_json(raw) if raw else None
    if not isinstance(payload, dict):
        raise ApiError("validation_failed", errors={"_schema": ["The body must be a JSON object."]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise ApiError("validation_failed", errors=_error_map(exc.messages)) from None


def parse_query(schema: Schema) -> dict[str, Any]:
    """Query parameters through a schema; a repeated parameter keeps its first value."""
    try:
        return schema.load(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise ApiError("validation_failed", errors=_error_map(exc.messages)) from None


def parse_empty_body() -> None:
    """For POSTs that take no body: accept none (or {}), refuse anything else."""
    raw = request_body()
    if not raw.strip():
        return
    if request.mimetype != "application/json":
        raise ApiError("unsupported_media_type")
    payload = load_json(raw)
    if payload != {}:
        raise ApiError("validation_failed", errors={"_schema": ["No body is expected."]})
