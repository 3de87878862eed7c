"""The one registry of error codes, the error envelope of docs/errors.md, and the handlers.

Every non-2xx answer, whatever raised it (our code, Werkzeug, the database, a bug), goes
through ``error_response`` so that clients see one envelope, in one language: the request's
Accept-Language picks Vietnamese or English (FIELD_DEFAULT_LANGUAGE when absent), and the
envelope's message and every field error under it are given in that language from the
catalogues in field_server/messages/. Browsers (paths outside /api/ that prefer HTML) get the
same content as an HTML page.

Also here, because they hold for every answer, errors or not (``_response_headers``): the
request id; ``Cache-Control: no-store`` (answers carry tokens and personal data, which no
browser or proxy may keep); and the security headers (docs/api.md, Conventions). And how
a database error is logged: never with the values of its statement, nor the database's own
text about them (``loggable_database_error``).
"""

from __future__ import annotations

import gc
import logging
import math
import re
import sqlite3
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from domain.records import SyncError

from .messages import catalogue, translate, translate_errors

log = logging.getLogger("field_server")


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    message: str  # English, and the msgid of its translations (field_server/messages/)


# code -> status and message template; a template may use the error's details as fields.
ERRORS: dict[str, ErrorSpec] = {
    "invalid_credentials": ErrorSpec(401, "Wrong username or password."),
    "token_invalid": ErrorSpec(401, "The access token is missing, malformed or no longer valid."),
    "token_expired": ErrorSpec(401, "The token has expired; refresh it or log in again."),
    "device_revoked": ErrorSpec(
        401, "This device has been revoked; log in again with a new device."
    ),
    "device_credentials_invalid": ErrorSpec(
        401, "This device is registered with another secret; log in from the device itself."
    ),
    "refresh_reused": ErrorSpec(
        401, "This refresh token was already used; the session has been closed for safety."
    ),
    "forbidden": ErrorSpec(403, "Your role may not use this endpoint."),
    "not_found": ErrorSpec(404, "Not found."),
    "method_not_allowed": ErrorSpec(405, "This method is not allowed here."),
    "json_invalid": ErrorSpec(400, "The request body is not valid JSON."),
    "csrf_invalid": ErrorSpec(
        400, "The form has expired or its security token is wrong; reload the page."
    ),
    "bad_request": ErrorSpec(400, "The request is malformed."),
    "unsupported_media_type": ErrorSpec(415, "Send the body as application/json."),
    "payload_too_large": ErrorSpec(413, "The request body is larger than {limit} bytes."),
    "validation_failed": ErrorSpec(422, "Some fields are missing or invalid."),
    "batch_too_large": ErrorSpec(422, "A batch may hold at most {limit} mutations."),
    "mutation_gap": ErrorSpec(409, "Expected mutation {expected} next, got {got}."),
    "version_conflict": ErrorSpec(
        409, "The record changed since version {base_version}; reload it and try again."
    ),
    "visit_voided": ErrorSpec(
        409, "The visit has been voided by its canvasser; it cannot be reviewed."
    ),
    "conflict_closed": ErrorSpec(
        409, "This conflict is {status} already; only open conflicts can be settled."
    ),
    "rejection_resolved": ErrorSpec(409, "This rejected change was re-applied already."),
    "mutation_rejected": ErrorSpec(
        422, "The change was refused again ({reason}): {reason_message}"
    ),
    "cursor_invalid": ErrorSpec(400, "The cursor is invalid; start again without one."),
    "rate_limited": ErrorSpec(429, "Too many attempts; try again in {retry_after} seconds."),
    "http_error": ErrorSpec(400, "The request could not be handled (HTTP {status})."),
    "internal_error": ErrorSpec(
        500, "Internal error; it has been logged with request id {request_id}."
    ),
    "storage_unavailable": ErrorSpec(
        503, "The database cannot take this request now; try again shortly."
    ),
}

# Werkzeug's HTTP errors mapped onto our codes.
HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "token_invalid",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "storage_unavailable",
}


class ApiError(Exception):
    """An error with a registered code; raised anywhere below a view, answered as docs/errors.md
    says."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        if code not in ERRORS:
            raise ValueError(f"unregistered error code {code!r}")
        super().__init__(code)
        self.code = code
        self.message = message
        self.errors = errors or {}
        self.details = details or {}
        self.headers = headers or {}
        self.status = status or ERRORS[code].status


@dataclass
class _Rendered:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# The web pages' language switch (field_server/web/session.py) remembers the choice here.
LANGUAGE_COOKIE = "lang"


def message_language() -> str:
    """'vi' or 'en': on the web pages the language the person chose (a cookie); otherwise
    from Accept-Language; the configured default when the header is absent."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in ("vi", "en") and not request.path.startswith("/api/"):
        return chosen
    if not request.headers.get("Accept-Language"):
        return current_app.config.get("DEFAULT_LANGUAGE", "vi")
    return "vi" if request.accept_languages.best_match(["vi", "en"]) == "vi" else "en"


def render_message(code: str, fields: dict[str, Any], language: str) -> str:
    """A code's message in ``language``, its template filled with the error's details (a
    detail that is itself a message, like a rejection's reason, in that language too)."""
    template = catalogue(language).template(ERRORS[code].message)
    values = {
        name: translate(value, language) if isinstance(value, str) else value
        for name, value in fields.items()
    }
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A template field the raiser did not supply: drop the sentence's details, not the
        # answer.
        return re.sub(r"\s*\{[^}]*\}", "", template)


def wants_json() -> bool:
    path = request.path
    if path.startswith("/api/") or path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(error: ApiError) -> Response:
    language = message_language()
    fields = {"status": error.status, "request_id": g.get("request_id", "-"), **error.details}
    if error.message:
        message = translate(error.message, language)
    else:
        message = render_message(error.code, fields, language)
    body = {
        "ok": False,
        "status": error.status,
        "code": error.code,
        "message": message,
        # Field errors are written in English where they arise (marshmallow, the schemas,
        # the domain's rules, the services): given here in the message's language.
        "errors": translate_errors(error.errors, language),
        "details": error.details,
    }
    if wants_json():
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", error=body, lang=language),
            mimetype="text/html",
        )
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    if error.code == "storage_unavailable" and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(current_app.config.get("RETRY_AFTER_SECONDS", 5))
    return response


def from_domain_error(exc: SyncError) -> ApiError:
    """The one translation of a domain rule's refusal into the API's error: same code,
    same field errors and details (every domain code is registered above)."""
    return ApiError(exc.code, errors=exc.errors, details=exc.details)


def storage_error() -> ApiError:
    seconds = current_app.config.get("RETRY_AFTER_SECONDS", 5)
    return ApiError("storage_unavailable", headers={"Retry-After": str(seconds)})


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    code = HTTP_STATUS_CODES.get(status, "http_error")
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if code == "payload_too_large":
        details["limit"] = current_app.config.get("MAX_CONTENT_LENGTH")
    # Only MethodNotAllowed carries the methods the path takes.
    valid_methods = getattr(exc, "valid_methods", None)
    if code == "method_not_allowed" and valid_methods:
        headers["Allow"] = ", ".join(sorted(valid_methods))
    if code == "storage_unavailable":
        headers["Retry-After"] = str(current_app.config.get("RETRY_AFTER_SECONDS", 5))
    if code == "internal_error":
        details["request_id"] = g.get("request_id", "-")
    return ApiError(code, details=details, headers=headers, status=status)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # fullmatch: "$" passes a final "\n"

# Every answer's headers (set unless the view set its own).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# JSON, files and error pages load nothing and are framed by nobody.
LOCKED_DOWN_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# An HTML page (the web pages to come) loads its own styles, scripts and images only.
PAGE_POLICY = (
    "default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# The only answers a client may keep: the public, generated API document, and static files
# (styles, scripts: Flask's ``static`` endpoints), which hold nobody's data.
CACHEABLE_PATHS = frozenset({"/api/v1/openapi.json"})


def _may_be_kept(response: Response) -> bool:
    if response.status_code >= 400:
        return False
    endpoint = request.endpoint or ""
    return request.path in CACHEABLE_PATHS or endpoint.rsplit(".", 1)[-1] == "static"


def _response_headers(response: Response) -> Response:
    response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    page = response.mimetype == "text/html" and response.status_code < 400
    response.headers.setdefault(
        "Content-Security-Policy", PAGE_POLICY if page else LOCKED_DOWN_POLICY
    )
    if not _may_be_kept(response):
        response.headers["Cache-Control"] = "no-store"
    return response


def _database_errors(exc: BaseException) -> list[Any]:
    """The database errors in an exception's chain (itself, its causes and contexts)."""
    from sqlalchemy.exc import StatementError

    found, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StatementError | sqlite3.Error) or hasattr(current, "sqlstate"):
            found.append(current)
        current = current.__cause__ or current.__context__
    return found


def loggable_database_error(exc: BaseException) -> str:
    """What a log may say about a database error: its kind, the driver's error class and
    SQLSTATE (PostgreSQL) or SQLite's one-line reason, and the statement's SQL, which holds
    placeholders, never values. Not the driver's full text: PostgreSQL's DETAIL lines
    repeat values ("Key (phone)=(0912…) already exists"), and neither the bound parameters
    (hidden anyway: hide_parameters, field_server/__init__.py)."""
    from sqlalchemy.exc import StatementError

    wrapper = exc if isinstance(exc, StatementError) else None
    orig = wrapper.orig if wrapper is not None else exc
    parts = [type(exc).__name__]
    if orig is not exc and orig is not None:
        parts.append(f"from {type(orig).__module__}.{type(orig).__name__}")
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        parts.append(f"SQLSTATE {sqlstate}")
    elif isinstance(orig, sqlite3.Error):
        # SQLite names tables, columns and constraints, never values.
        parts.append(repr(str(orig).splitlines()[0] if str(orig) else ""))
    if wrapper is not None and wrapper.statement:
        parts.append(f"in: {' '.join(str(wrapper.statement).split())[:1000]}")
    return " ".join(parts)


def _log_unexpected(exc: BaseException) -> None:
    """A 500: logged with its traceback and request id. A database error (or one raised
    while handling one) is logged as ``loggable_database_error`` says, with the frames of
    its traceback but none of the exception messages of its chain."""
    request_id = g.get("request_id")
    found = _database_errors(exc)
    if not found:
        log.exception("internal error (request %s)", request_id)
        return
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "internal error (request %s): %s\nTraceback (most recent call last):\n%s",
        request_id,
        "; ".join(loggable_database_error(e) for e in found),
        frames.rstrip(),
    )


def register_error_handlers(app: Flask) -> None:
    from .extensions import db
    from .store.engine import is_storage_error

    @app.before_request
    def _assign_request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    app.after_request(_response_headers)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(SyncError)
    def _domain_error(exc: SyncError) -> Response:
        return error_response(from_domain_error(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return error_response(_from_http_exception(exc))

    @app.teardown_request
    def _collect_after_storage_error(_exc: BaseException | None) -> None:
        # The failed statement's SQLite cursor is held in reference cycles of the error's
        # frames, and SQLite closes the connection it belonged to (dropped from the pool,
        # store/engine.py) only once that statement is freed: until the collector ran, an
        # idle worker kept a read lock on the WAL that no checkpoint could pass (seen in
        # tests/faults/test_sqlite_storage.py, whose read-only flip then waited 501 s). The
        # request is over and the error unreachable here, so collect now: only after a
        # storage error, and cheap in a worker whose start-up objects are frozen (serve.py).
        if g.pop("collect_after_storage_error", False):
            gc.collect()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        try:
            db.session.rollback()
        except Exception:  # the session may be as broken as the database
            log.exception("rollback after an error failed")
        if is_storage_error(exc):
            log.warning(
                "storage unavailable (request %s): %s",
                g.get("request_id"),
                loggable_database_error(exc),
            )
            g.collect_after_storage_error = True
            return error_response(storage_error())
        _log_unexpected(exc)
        return error_response(
            ApiError("internal_error", details={"request_id": g.get("request_id", "-")})
        )


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
