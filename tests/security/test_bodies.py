"""Hostile request bodies on every operation that takes one (docs/errors.md).

Over 5 MB is 413 ``payload_too_large`` before a byte is parsed (also when the client sends
no Content-Length); bytes that are not UTF-8 JSON are 400 ``json_invalid``; another content
type is 415 ``unsupported_media_type``. Each is checked on every operation the app
declares with a body, with a caller the operation's role allows, so the refusal comes from
the body and not from a permission.

How the defences were checked: with ``MAX_CONTENT_LENGTH`` set to None the 413 tests fail
(while ``parsing.load_json`` is made to fail the test if it is ever called); with
``parse_body`` decoding with ``errors="replace"`` before parsing, the UTF-8 tests fail; with
the mimetype check of ``parse_body``/``parse_empty_body`` removed, the 415 tests fail.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.api.sync_helpers import Tablet
from tests.security.routes import Route, api_routes

FIVE_MB = 5 * 1024 * 1024
PATH_VALUES = {
    "visit_id": "7d1c2f0e-0000-4000-8000-000000000001",
    "household_id": "7d1c2f0e-0000-4000-8000-000000000002",
    "conflict_id": "7d1c2f0e-0000-4000-8000-000000000003",
    "rejection_id": "7d1c2f0e-0000-4000-8000-000000000004:1",
    "device_id": "7d1c2f0e-0000-4000-8000-000000000005",
    "username": "cv.vg.001",
}


def body_routes(app: Any) -> list[Route]:
    return [r for r in api_routes(app) if r.has_body]


def path_of(route: Route) -> str:
    path = route.rule
    for name, value in PATH_VALUES.items():
        path = path.replace(f"<{name}>", value)
    return path


def headers_for(world: Any, client: Any, route: Route) -> dict[str, str]:
    """A token of a role the operation allows (none for login and refresh)."""
    if route.roles is None:
        return {}
    username = "admin" if "admin" in route.roles else "cv.vg.001"
    return world.headers(client, username)


def send(client: Any, route: Route, headers: dict[str, str], data: Any, **kw: Any) -> Any:
    return client.open(path_of(route), method=route.method, headers=headers, data=data, **kw)


def assert_refused(response: Any, status: int, code: str, where: str) -> None:
    body = response.get_json()
    assert (response.status_code, body and body["code"]) == (status, code), (where, body)


def test_every_body_operation_is_covered(app):
    # If this list changes, the tests below cover the new operation by themselves; this
    # only makes sure they are not walking an empty list.
    keys = {r.key for r in body_routes(app)}
    assert {"POST /api/v1/sync/push", "PATCH /api/v1/users/<username>"} <= keys
    assert len(keys) >= 15


def test_over_5_mb_is_413_before_parsing(app, world, client, monkeypatch):
    from field_server import parsing

    routes = [(route, headers_for(world, client, route)) for route in body_routes(app)]

    def no_parsing(raw: bytes) -> None:
        raise AssertionError("a body over the limit was parsed")

    monkeypatch.setattr(parsing, "load_json", no_parsing)
    big = b'{"x": "' + b"a" * FIVE_MB + b'"}'
    for route, headers in routes:
        response = send(client, route, headers, big, content_type="application/json")
        assert_refused(response, 413, "payload_too_large", route.key)


def test_exactly_5_mb_is_not_refused_for_its_size(world, client):
    tablet_headers = world.headers(client, "cv.vg.001")
    body = b'{"x": "' + b"a" * (FIVE_MB - 9) + b'"}'
    assert len(body) == FIVE_MB
    response = client.post(
        "/api/v1/sync/push", data=body, content_type="application/json", headers=tablet_headers
    )
    assert_refused(response, 422, "validation_failed", "push at the limit")


def chunked_push(client: Any, tablet: Tablet, body: bytes) -> Any:
    """A push sent as gunicorn hands a chunked upload over: no Content-Length, the stream
    marked as terminated by the server."""
    return client.post(
        "/api/v1/sync/push",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={**tablet.headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_push_under_the_limit_is_applied(world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    body = json.dumps({"device_id": tablet.device_id, "mutations": [tablet.household()]})
    response = chunked_push(client, tablet, body.encode())
    assert response.status_code == 200, response.get_json()


def test_chunked_push_over_5_mb_is_413_not_truncated(app, world, client):
    # A valid push padded past 5 MB: cut at the limit, what remains is still valid JSON.
    tablet = Tablet(world, client, "cv.vg.001")
    push = json.dumps({"device_id": tablet.device_id, "mutations": [tablet.household()]})
    response = chunked_push(client, tablet, push.encode() + b" " * (FIVE_MB + 1))
    assert_refused(response, 413, "payload_too_large", "chunked push")


NOT_UTF8 = [
    b'{"username": "\xff\xfe"}',  # bytes that never occur in UTF-8
    b'{"username": "\xc0\xaf"}',  # an overlong encoding of "/"
    b'{"username": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8
    b'{"username": "\\ud800"}',  # a lone surrogate, escaped
    b'{"username": "caf\xe9"}',  # Latin-1
    "\ufeff{}".encode("utf-16"),  # UTF-16 with a byte-order mark
]


@pytest.mark.parametrize("raw", NOT_UTF8, ids=range(len(NOT_UTF8)))
def test_body_not_utf8_json_is_400_json_invalid(app, world, client, raw):
    for route in body_routes(app):
        headers = headers_for(world, client, route)
        response = send(client, route, headers, raw, content_type="application/json")
        assert_refused(response, 400, "json_invalid", route.key)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
        "application/jsonp",
        None,
    ],
)
def test_other_content_types_are_415(app, world, client, content_type):
    for route in body_routes(app):
        headers = headers_for(world, client, route)
        kw = {"content_type": content_type} if content_type else {}
        response = send(client, route, headers, b"{}", **kw)
        assert_refused(response, 415, "unsupported_media_type", f"{route.key} {content_type}")
