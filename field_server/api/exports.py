"""Exports (API §7): units, visits and households as CSV or XLSX, and a SQLite snapshot.

Each download is parse (schemas/exports.py) -> scope -> audit row (committed before the
first byte, since a streamed response has no end the view could write it at) -> rows read
in keyset batches inside one read snapshot (store/exports.py) -> cells and CSV text
(domain/exports.py), streamed with ``stream_with_context``. XLSX and SQLite are written to a
temporary file first (neither format can be written front to back to a socket), then
streamed from it and deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, stream_with_context

from domain.exports import content_disposition
from schemas.exports import QUERIES

from ..auth.scope import current_principal, ensure_unit_in_scope, requires
from ..client_address import client_address
from ..errors import ApiError
from ..models import utcnow
from ..parsing import parse_query
from ..store import audit
from ..store import exports as export_store
from ..store.engine import begin_read_snapshot, write_transaction
from ..store.units import get_unit_by_ref
from . import bp


def today() -> date:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def options_from_query(kind: str, fmt: str, query: dict[str, Any], mask: bool) -> Any:
    return export_store.ExportOptions(
        kind=kind,
        format=fmt,
        start=query.get("from_"),
        end=query.get("to"),
        review_status=query.get("review_status"),
        layout=query.get("layout", "full"),
        lang=query.get("lang", "en"),
        sep=query.get("sep", "comma"),
        bom=bool(query.get("bom", 1)),
        mask_phones=mask,
    )


def check_unit_level(kind: str, level: str) -> None:
    """units.csv lists wards: a residential group has none."""
    if kind == "units" and level == "group":
        raise ApiError(
            "validation_failed",
            errors={"unit": ["Choose a ward or a unit above it; a group has no wards."]},
        )


def audit_details(
    root: export_store.Root, options: export_store.ExportOptions, rows: int | None
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "kind": options.kind,
        "format": options.format,
        "unit": root.ref,
        "filters": options.filters(),
        "phones": "masked" if options.mask_phones else "clear",
    }
    if rows is not None:
        details["rows"] = rows
    return details


def _export(kind: str, fmt: str) -> Response:
    query = parse_query(QUERIES[(kind, fmt)]())
    principal = current_principal()
    unit = ensure_unit_in_scope(get_unit_by_ref(query["unit"]))
    check_unit_level(kind, unit.level)
    root = export_store.Root.of(unit)
    options = options_from_query(kind, fmt, query, mask=principal.role != "admin")
    now = utcnow()

    begin_read_snapshot()
    built = export_store.build(
        root,
        options,
        today=today(),
        zone=current_app.config["TIMEZONE"],
        campaign_rate=current_app.config["TARGET_RATE"],
        actor=principal.username,
        now=now,
    )
    # The audit row commits before the response starts; the CSV rows are then read in a
    # fresh snapshot, after the commit.
    with write_transaction():
        audit.record(
            action="export",
            actor=principal.username,
            target=root.ref,
            client_address=client_address(),
            at=now,
            details=audit_details(root, options, built.rows),
        )
    begin_read_snapshot()
    plain, unicode_name = built.filename
    response = Response(stream_with_context(built.chunks), content_type=built.content_type)
    response.headers["Content-Disposition"] = content_disposition(plain, unicode_name)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _register(kind: str, fmt: str) -> None:
    extension = "sqlite" if fmt == "sqlite" else fmt
    name = "snapshot" if kind == "snapshot" else kind

    @requires("exports.read")
    def view() -> Response:
        return _export(kind, fmt)

    view.__name__ = f"export_{name}_{extension}"
    bp.add_url_rule(f"/exports/{name}.{extension}", view.__name__, view, methods=["GET"])


for _kind, _fmt in QUERIES:
    _register(_kind, _fmt)
