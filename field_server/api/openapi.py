"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of the API, generated, never written.

Every /api/v1 view declares itself with ``@operation`` (field_server/operation.py): its
permission, query and body schemas, response schema, status and error codes. This module
walks the app's URL map and turns each declaration into an operation of the document with
apispec's marshmallow plugin, so the schemas that parse requests and dump responses are the
ones the document shows. Errors share one ``ErrorEnvelope`` (docs/errors.md); each error
status of an operation lists the codes that operation may answer with it.

Views that have not declared themselves yet are left out. ``/healthz`` is documented from
the small static description below until its view declares itself.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app
from marshmallow import Schema, fields

from schemas import StrictBoolean, Timestamp

from ..errors import ERRORS
from ..operation import OperationSpec, operation
from . import bp

OPENAPI_VERSION = "3.1.0"
EXTENSION_KEY = "field_server_openapi"
ENVELOPE = "ErrorEnvelope"
SECURITY_SCHEME = "bearerAuth"
JSON = "application/json"
API_PREFIX = "/api/v1"

# A Flask rule's ``<converter(args):name>`` or ``<name>``.
_RULE_ARGUMENT = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>\w+)>"
)
_CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}

# Headers some errors always carry (docs/errors.md).
_ERROR_HEADERS = {
    429: "Retry-After",
    503: "Retry-After",
}

# /healthz is served by field_server/api/health.py, which does not declare an operation:
# this is what it answers (docs/api.md, Health).
_HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ok": {"const": True},
        "database": {"const": "ok"},
        "schema": {
            "type": "object",
            "description": "The database schema's Alembic revision and the code's newest.",
            "properties": {
                "revision": {"type": ["string", "null"]},
                "head": {"type": "string"},
                "current": {"type": "boolean"},
            },
            "required": ["revision", "head", "current"],
            "additionalProperties": False,
        },
    },
    "required": ["ok", "database", "schema"],
    "additionalProperties": False,
}
_HEALTH_SUMMARY = "Whether the server is up, its database answers and its schema is current."
_HEALTH_ENDPOINT = "health.healthz"


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """A Flask rule as an OpenAPI path template, with its path parameters."""
    parameters: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        # The default converter takes one or more characters other than a slash.
        schema = _CONVERTER_TYPES.get(
            match.group("converter") or "", {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        )
        parameters.append({"in": "path", "name": name, "required": True, "schema": dict(schema)})
        return "{" + name + "}"

    return _RULE_ARGUMENT.sub(replace, rule), parameters


def _schema_name_resolver() -> Callable[[Any], str]:
    """Component names from class names (``DeviceSchema`` -> ``Device``); two classes of
    the same name in different modules get their module's name in front."""
    taken: dict[str, type] = {}

    def resolve(schema: Any) -> str:
        cls = schema if isinstance(schema, type) else type(schema)
        name = cls.__name__.removesuffix("Schema") or cls.__name__
        if taken.setdefault(name, cls) is not cls:
            name = cls.__module__.rsplit(".", 1)[-1].title() + name
            taken.setdefault(name, cls)
        return name

    return resolve


def _error_envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The body of every non-2xx answer (docs/errors.md).",
        "properties": {
            "ok": {"const": False},
            "status": {"type": "integer", "description": "The HTTP status, repeated."},
            "code": {
                "type": "string",
                "enum": sorted(ERRORS),
                "description": "A stable snake_case code that clients branch on.",
            },
            "message": {
                "type": "string",
                "description": "Human-readable, in the language Accept-Language asks for.",
            },
            "errors": {
                "type": "object",
                "description": "Field name -> messages (validation_failed); else {}.",
            },
            "details": {"type": "object", "description": "Facts about this error; else {}."},
        },
        "required": ["ok", "status", "code", "message", "errors", "details"],
        "additionalProperties": False,
    }


def _error_responses(codes: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """One response per error status, each listing the codes it may carry."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[ERRORS[code].status].append(code)
    responses: dict[str, dict[str, Any]] = {}
    for status in sorted(by_status):
        listed = by_status[status]
        response: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase}: "
            + ", ".join(f"`{code}`" for code in listed)
            + " (docs/errors.md).",
            "content": {
                JSON: {
                    "schema": {
                        "allOf": [{"$ref": f"#/components/schemas/{ENVELOPE}"}],
                        "properties": {
                            "status": {"const": status},
                            "code": {"enum": listed},
                        },
                    }
                }
            },
            "x-error-codes": listed,
        }
        if status in _ERROR_HEADERS:
            name = _ERROR_HEADERS[status]
            response["headers"] = {
                name: {
                    "description": "Seconds to wait before trying again.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        responses[str(status)] = response
    return responses


class _Builder:
    """One document: an APISpec with the marshmallow plugin, filled operation by operation."""

    def __init__(self) -> None:
        self.plugin = MarshmallowPlugin(schema_name_resolver=_schema_name_resolver())
        self.spec = APISpec(
            title="Field server API",
            version="1",
            openapi_version=OPENAPI_VERSION,
            plugins=[self.plugin],
            info={
                "description": "Generated from the schemas that parse every request and dump "
                "every response (docs/api.md)."
            },
        )
        converter = self.plugin.converter
        assert converter is not None  # set by APISpec's init_spec
        # A copy: apispec's default mapping is shared by every converter of the process.
        converter.field_mapping = dict(converter.field_mapping)
        self.plugin.map_to_openapi_type(Timestamp, "string", "date-time")
        self.plugin.map_to_openapi_type(StrictBoolean, fields.Boolean)
        self.spec.components.security_scheme(
            SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        self.spec.components.schema(ENVELOPE, _error_envelope())
        self.operation_ids: set[str] = set()

    def ref(self, schema: type[Schema]) -> dict[str, Any]:
        converter = self.plugin.converter
        assert converter is not None
        resolved: dict[str, Any] = converter.resolve_nested_schema(schema)
        return resolved

    def page_ref(self, schema: type[Schema]) -> dict[str, Any]:
        """The list envelope around ``schema`` as a component of its own."""
        item = self.ref(schema)
        name = item["$ref"].rsplit("/", 1)[-1] + "Page"
        if name not in self.spec.components.schemas:
            self.spec.components.schema(
                name,
                {
                    "type": "object",
                    "description": "A page of a list; pass `cursor` to get the next one.",
                    "properties": {
                        "items": {"type": "array", "items": item},
                        "cursor": {"type": ["string", "null"]},
                        "has_more": {"type": "boolean"},
                    },
                    "required": ["items", "cursor", "has_more"],
                    "additionalProperties": False,
                },
            )
        return {"$ref": f"#/components/schemas/{name}"}

    def query_parameters(self, schema: type[Schema]) -> list[dict[str, Any]]:
        converter = self.plugin.converter
        assert converter is not None
        parameters: list[dict[str, Any]] = converter.schema2parameters(schema, location="query")
        for parameter in parameters:
            _not_nullable(parameter["schema"])
        return parameters

    def operation_id(self, wanted: str) -> str:
        candidate, number = wanted, 2
        while candidate in self.operation_ids:
            candidate, number = f"{wanted}_{number}", number + 1
        self.operation_ids.add(candidate)
        return candidate

    def success(self, spec: OperationSpec) -> dict[str, Any]:
        if spec.status == 204:
            return {"description": "Done; no body."}
        content: dict[str, Any] = {}
        for media_type in spec.media_types:
            if media_type == JSON:
                content[JSON] = {"schema": self.json_body(spec)}
            elif media_type.startswith("text/"):
                content[media_type] = {"schema": {"type": "string"}}
            else:
                content[media_type] = {"schema": {"type": "string", "format": "binary"}}
        return {"description": HTTPStatus(spec.status).phrase, "content": content}

    def json_body(self, spec: OperationSpec) -> dict[str, Any]:
        if spec.response is None:
            return {"type": "object"}
        if spec.page is not None:
            return self.page_ref(spec.response)
        if spec.many:
            return {"type": "array", "items": self.ref(spec.response)}
        return self.ref(spec.response)

    def add(self, path: str, method: str, spec: OperationSpec, endpoint: str) -> None:
        template, parameters = openapi_path(path)
        if spec.query is not None:
            parameters += self.query_parameters(spec.query)
        item: dict[str, Any] = {
            "operationId": self.operation_id(endpoint.rsplit(".", 1)[-1]),
            "summary": spec.summary,
            "tags": [_tag(template)],
        }
        if spec.roles is not None:
            roles = sorted(spec.roles)
            item["description"] = f"Roles: {', '.join(roles)} (permission `{spec.permission}`)."
            item["security"] = [{SECURITY_SCHEME: []}]
            item["x-permission"] = spec.permission
            item["x-roles"] = roles
        else:
            item["description"] = "No authentication."
            item["security"] = []
        if parameters:
            item["parameters"] = parameters
        if spec.body is not None:
            item["requestBody"] = {
                # optional_body: no body at all is taken as {}.
                "required": not spec.optional_body,
                "content": {JSON: {"schema": self.ref(spec.body)}},
            }
        item["responses"] = {
            str(spec.status): self.success(spec),
            **_error_responses(spec.all_errors()),
        }
        self.spec.path(path=template, operations={method.lower(): item})

    def add_health(self, path: str) -> None:
        self.spec.path(
            path=path,
            operations={
                "get": {
                    "operationId": self.operation_id("healthz"),
                    "summary": _HEALTH_SUMMARY,
                    "description": "No authentication.",
                    "tags": ["health"],
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The database answers and its schema is current.",
                            "content": {JSON: {"schema": _HEALTH_SCHEMA}},
                        },
                        # 503 also when the schema is behind the code (details.schema).
                        **_error_responses(("internal_error", "storage_unavailable")),
                    },
                }
            },
        )


def _tag(template: str) -> str:
    rest = template.removeprefix(API_PREFIX).strip("/")
    return rest.split("/", 1)[0].split(".", 1)[0] or "api"


def _not_nullable(schema: dict[str, Any]) -> None:
    """A query string cannot carry null: a parameter whose field allows None (every
    optional one: ``load_default=None``) is simply left out."""
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        remaining = [t for t in types if t != "null"]
        schema["type"] = remaining[0] if len(remaining) == 1 else remaining
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]
    if schema.get("default", ...) is None:
        del schema["default"]


def _closed_objects(document: dict[str, Any]) -> None:
    """Every object refuses keys it does not declare: request schemas raise on unknown
    fields, and a response must send exactly what its output schema declares. (apispec
    says so already for a schema whose ``unknown`` is RAISE, marshmallow's default, unless
    its Meta has a description; a schema that declares INCLUDE keeps it.)"""
    for component in document["components"]["schemas"].values():
        if component.get("type") == "object" and "properties" in component:
            component.setdefault("additionalProperties", False)


def operations(app: Flask) -> list[tuple[str, str, str, OperationSpec | None]]:
    """(rule, method, endpoint, spec or None) for every API route, sorted by rule."""
    found = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith(API_PREFIX + "/") or rule.rule == "/healthz"):
            continue
        spec = getattr(app.view_functions[rule.endpoint], "field_operation", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method, rule.endpoint, spec))
    return sorted(found, key=lambda row: (row[0], row[1]))


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s declared operations (see the module's text)."""
    builder = _Builder()
    with warnings.catch_warnings():
        # Two variants of one schema (``only=...``) get numbered names; that is fine.
        warnings.filterwarnings("ignore", message="Multiple schemas resolved", category=UserWarning)
        for path, method, endpoint, spec in operations(app):
            if spec is not None:
                builder.add(path, method, spec, endpoint)
            elif endpoint == _HEALTH_ENDPOINT and method == "GET":
                builder.add_health(path)
    document = builder.spec.to_dict()
    _closed_objects(document)
    return document


def document_of(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use: routes do not change once the app is made."""
    document = app.extensions.get(EXTENSION_KEY)
    if document is None:
        document = app.extensions[EXTENSION_KEY] = build_document(app)
    return document


@bp.get("/openapi.json")
@operation(None)
def openapi_document() -> dict[str, Any]:
    """This document: every operation of the API, its inputs, its answers and its errors."""
    return document_of(current_app)
