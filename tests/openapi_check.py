"""Every response the api tests receive, checked against the app's OpenAPI document.

``check_response(app, response)`` finds the operation the request went to (through the
app's own URL map, so path parameters match exactly as Flask matched them) and checks the
status is documented for it, the content type is documented for that status, the
documented headers are present, and a JSON body validates against the documented schema.
A request to no route, or with a method the route does not take, must still answer the
error envelope. Views that have not declared an operation yet are not in the document and
are not checked.

The api suite makes thousands of requests: the document is built once per set of routes
(every test app has the same ones), and a validator is compiled once per (path, method,
status, media type). The validators are jsonschema-rs's: a 500-record pull page validates
in under a millisecond, where the pure-Python jsonschema takes ~100 ms.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jsonschema_rs
from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from field_server.api.openapi import ENVELOPE, build_document, openapi_path

DOCUMENT_URI = "urn:field-server:openapi"
UNCHECKED_METHODS = frozenset({"HEAD", "OPTIONS"})


class ResponseMismatch(AssertionError):
    """A response the OpenAPI document does not describe."""


def is_api_path(path: str) -> bool:
    return path.startswith("/api/v1/") or path in ("/api/v1", "/healthz")


def _pointer(*parts: str) -> str:
    """A JSON pointer, percent-encoded for a URI fragment (path templates hold braces)."""
    escaped = "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)
    return quote(escaped, safe="/~")


def _routes(app: Flask) -> list[tuple[str, tuple[str, ...], Any]]:
    """The app's API routes and the view functions behind them: apps built by the same code
    share a document (other routes, such as ``static``, are bound to each app)."""
    return sorted(
        (
            (rule.rule, tuple(sorted(rule.methods or ())), app.view_functions[rule.endpoint])
            for rule in app.url_map.iter_rules()
            if is_api_path(rule.rule)
        ),
        key=lambda route: (route[0], route[1]),
    )


@dataclass
class Checker:
    """The document of one set of routes, with its compiled validators."""

    document: dict[str, Any]
    # The views it was built from: held, so that no other function takes their ids.
    views: tuple[Any, ...] = ()
    registry: Any = None
    validators: dict[tuple[str, ...], Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.registry = jsonschema_rs.Registry([(DOCUMENT_URI, self.document)])

    def validator(self, *pointer: str) -> Any:
        if pointer not in self.validators:
            self.validators[pointer] = jsonschema_rs.validator_for(
                {"$ref": f"{DOCUMENT_URI}#{_pointer(*pointer)}"},
                registry=self.registry,
                validate_formats=True,
            )
        return self.validators[pointer]

    def template(self, rule: str) -> str:
        if rule not in self.templates:
            self.templates[rule] = openapi_path(rule)[0]
        return self.templates[rule]


_BY_APP: weakref.WeakKeyDictionary[Flask, Checker] = weakref.WeakKeyDictionary()
_BY_ROUTES: dict[tuple[Any, ...], Checker] = {}


def checker_for(app: Flask) -> Checker:
    checker = _BY_APP.get(app)
    if checker is None:
        routes = _routes(app)
        key = tuple((rule, methods, id(view)) for rule, methods, view in routes)
        if key not in _BY_ROUTES:
            views = tuple(view for _, _, view in routes)
            _BY_ROUTES[key] = Checker(build_document(app), views)
        checker = _BY_APP[app] = _BY_ROUTES[key]
    return checker


def _shown(response: Any, limit: int = 600) -> str:
    mimetype = response.mimetype or ""
    if not (mimetype.startswith("text/") or mimetype.endswith("json")):
        return f"<{mimetype or 'no content type'}>"
    text = response.get_data(as_text=True)
    return text if len(text) <= limit else text[:limit] + "…"


def check_response(app: Flask, response: Any) -> None:
    """Raise ResponseMismatch when ``response`` breaks the app's OpenAPI document."""
    request = response.request
    method, path = request.method, request.path
    if method in UNCHECKED_METHODS or not is_api_path(path):
        return
    checker = checker_for(app)
    try:
        rule, _ = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
    except RequestRedirect:
        return  # Werkzeug's slash redirect, before any view
    except (NotFound, MethodNotAllowed):
        _check_envelope(checker, method, path, response)
        return
    template = checker.template(rule.rule)
    operation = checker.document["paths"].get(template, {}).get(method.lower())
    if operation is None:
        return  # the view has not declared its operation yet
    where = f"{method} {path} ({method} {template}) answered {response.status_code}"
    status = str(response.status_code)
    documented = operation["responses"].get(status)
    if documented is None:
        raise ResponseMismatch(
            f"{where}, a status its OpenAPI operation does not document "
            f"(documented: {', '.join(operation['responses'])}).\nBody: {_shown(response)}"
        )
    for name, header in documented.get("headers", {}).items():
        if header.get("required") and name not in response.headers:
            raise ResponseMismatch(f"{where} without its documented header {name}.")
    content = documented.get("content", {})
    if not content:
        if response.get_data():
            raise ResponseMismatch(f"{where} with a body, where none is documented.")
        return
    mimetype = response.mimetype
    if mimetype not in content:
        raise ResponseMismatch(
            f"{where} as {mimetype!r}; documented: {', '.join(content)}.\nBody: {_shown(response)}"
        )
    if mimetype != "application/json":
        return
    pointer = ("paths", template, method.lower(), "responses", status, "content", mimetype)
    _validate(checker.validator(*pointer, "schema"), where, response)


def _check_envelope(checker: Checker, method: str, path: str, response: Any) -> None:
    where = f"{method} {path} (no such operation) answered {response.status_code}"
    if response.status_code < 400 or response.mimetype != "application/json":
        raise ResponseMismatch(
            f"{where} as {response.mimetype!r}; only the JSON error envelope is expected.\n"
            f"Body: {_shown(response)}"
        )
    _validate(checker.validator("components", "schemas", ENVELOPE), where, response)


def _validate(validator: Any, where: str, response: Any) -> None:
    try:
        body = json.loads(response.get_data())
    except ValueError:
        raise ResponseMismatch(
            f"{where} with a body that is not JSON: {_shown(response)}"
        ) from None
    try:
        validator.validate(body)
    except jsonschema_rs.ValidationError as error:
        at = "/".join(str(part) for part in error.instance_path) or "(the body)"
        raise ResponseMismatch(
            f"{where} with a body that breaks its documented schema.\n"
            f"At {at}: {error.message}\n"
            f"Schema rule: {'/'.join(str(part) for part in error.schema_path)}\n"
            f"Body: {_shown(response)}"
        ) from None
