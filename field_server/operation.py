"""``@operation``: every /api/v1 view's three steps (parse, call, dump), declared once.

A view names its permission, its query and body schemas, its response schema and the error
codes it may answer; the decorator authenticates and refuses roles (403 first), parses the
query string and the body (415, 400, 422 in that order, parsing.py), hands the view the
parsed values and the ``Caller`` it asks for, and dumps what the view returns through the
response schema. The same declaration is what api/openapi.py turns into the OpenAPI
document, so the document cannot describe a view other than it behaves.

List views return a ``Page``: the decorator decodes the request's cursor (``page=KIND``)
into the position the view resumes after, and wraps the items in the list envelope with a
new signed cursor (paging.py). A view that must write its own response (a stream, a file,
the pull page's fast writer) returns a ``Response``; its schema still documents it, and the
api tests check what it sends against the document.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, jsonify
from marshmallow import Schema

from .auth.scope import PERMISSIONS, current_caller, current_settings
from .errors import ApiError
from .paging import decode_cursor, page
from .parsing import parse_body, parse_empty_body, parse_query, request_body
from .services.context import Page

View = Callable[..., Any]

# Codes any authenticated view may answer besides its own (docs/errors.md).
AUTH_ERRORS = ("token_invalid", "token_expired", "device_revoked", "forbidden")
BODY_ERRORS = ("unsupported_media_type", "json_invalid", "validation_failed", "payload_too_large")


@dataclass(frozen=True)
class OperationSpec:
    """What one view declares; read by the decorator and by the OpenAPI generator."""

    permission: str | None
    query: type[Schema] | None
    body: type[Schema] | None
    empty_body: bool
    optional_body: bool
    response: type[Schema] | None
    many: bool
    page: str | None
    status: int
    errors: tuple[str, ...]
    media_types: tuple[str, ...]
    summary: str
    fast: bool

    @property
    def roles(self) -> frozenset[str] | None:
        return PERMISSIONS[self.permission] if self.permission else None

    def all_errors(self) -> tuple[str, ...]:
        codes: list[str] = []
        if self.permission:
            codes += AUTH_ERRORS
        if self.query is not None:
            codes.append("validation_failed")
        if self.page:
            codes.append("cursor_invalid")
        if self.body is not None or self.empty_body:
            codes += BODY_ERRORS
        codes += self.errors
        codes += ("internal_error", "storage_unavailable")
        return tuple(dict.fromkeys(codes))


def operation(
    permission: str | None,
    *,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    empty_body: bool = False,
    optional_body: bool = False,
    response: type[Schema] | None = None,
    many: bool = False,
    page: str | None = None,
    status: int = 200,
    errors: Sequence[str] = (),
    media_types: Sequence[str] = ("application/json",),
    fast: bool = False,
) -> Callable[[View], View]:
    """Declare a view's permission, inputs, output and error codes (see the module's text).

    The view may take, by name: ``caller`` (services.context.Caller), ``settings``
    (services.context.Settings), ``query`` and ``body`` (the parsed dicts; with ``page``,
    ``query["cursor"]`` holds the decoded position, or None). ``optional_body=True``: no
    body at all is the same as ``{}`` (a body given is parsed as usual). ``fast=True``: the view
    returns data already in its JSON form (a hot path); the schema only documents it.
    """
    if permission is not None and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: View) -> View:
        wanted = set(inspect.signature(view).parameters)
        spec = OperationSpec(
            permission=permission,
            query=query,
            body=body,
            empty_body=empty_body,
            optional_body=optional_body,
            response=response,
            many=many,
            page=page,
            status=status,
            errors=tuple(errors),
            media_types=tuple(media_types),
            summary=(inspect.getdoc(view) or view.__name__).split("\n\n")[0].replace("\n", " "),
            fast=fast,
        )
        query_schema = query() if query is not None else None
        body_schema = body() if body is not None else None
        dumper = response(many=many or page is not None) if response is not None else None

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if permission is not None:
                caller = current_caller()
                if caller.role not in PERMISSIONS[permission]:
                    raise ApiError("forbidden")
                if "caller" in wanted:
                    kwargs["caller"] = caller
            # A path naming a record with a NUL in its id names nothing (and PostgreSQL
            # could not even compare it).
            if any(isinstance(v, str) and "\x00" in v for v in kwargs.values()):
                raise ApiError("not_found")
            if "settings" in wanted:
                kwargs["settings"] = current_settings()
            if query_schema is not None:
                parsed = parse_query(query_schema)
                if page is not None:
                    parsed["cursor"] = decode_cursor(page, parsed.get("cursor"))
                kwargs["query"] = parsed
            if body_schema is not None:
                if optional_body and not request_body().strip():
                    kwargs["body"] = body_schema.load({})
                else:
                    kwargs["body"] = parse_body(body_schema)
            elif empty_body:
                parse_empty_body()
            result = view(*args, **kwargs)
            return _respond(result, spec, dumper)

        # Read by api/openapi.py and the docs test; a function attribute is the one place
        # Flask keeps with the view (app.view_functions).
        setattr(wrapper, "field_operation", spec)  # noqa: B010
        setattr(wrapper, "field_permission", permission)  # noqa: B010
        return wrapper

    return decorate


def _respond(result: Any, spec: OperationSpec, dumper: Schema | None) -> Any:
    if isinstance(result, Response):
        return result
    if isinstance(result, Page):
        items = list(result.items) if spec.fast or dumper is None else dumper.dump(result.items)
        body: Any = page(
            items, kind=spec.page or "", last_position=result.last, has_more=result.has_more
        )
    elif dumper is not None and not spec.fast:
        body = dumper.dump(result)
    else:
        body = result
    response = jsonify(body)
    response.status_code = spec.status
    return response
