"""Exports: units (and the provinces' daily report), visits, households as CSV or XLSX, and
the SQLite snapshot. One function per export, called alike by the API's downloads and by
`field-server export`, so both send the same bytes and leave the same audit row.

Each export is: the unit in the caller's scope (404 otherwise) -> the rows read in one read
snapshot (store/exports.py; XLSX and SQLite are built in a temporary file there) -> one
audit row, committed before the first byte (a streamed answer has no end at which it could
be written) -> the bytes, which the caller sends or writes as they come: a CSV's rows are
read only as its chunks are taken, in a fresh snapshot after the audit row's commit, so
memory stays flat whatever the row count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from domain.exports import ExportOptions, audit_details, content_disposition

from ..errors import ApiError
from ..store import exports as export_store
from ..store.engine import begin_read_snapshot
from .context import Caller, Settings
from .scoping import unit_in_scope
from .writes import Write, run_write


class Progress(Protocol):
    """Told how many rows an export will hold, then how many were written (a progress bar)."""

    def start(self, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...


@dataclass
class ExportFile:
    """An export ready to send: its bytes come from ``chunks``, lazily (a CSV's rows are
    read as they are taken; an XLSX or SQLite file is read from a temporary file, deleted
    once sent or when the iterator is closed)."""

    content_type: str
    filename: str  # ASCII
    unicode_filename: str  # UTF-8, the unit's name with its accents
    chunks: Iterator[bytes]
    rows: int | None  # known before sending for units, XLSX and SQLite only

    @property
    def disposition(self) -> str:
        """``attachment`` with both names (RFC 5987)."""
        return content_disposition(self.filename, self.unicode_filename)


def export_units(
    caller: Caller,
    *,
    unit: str,
    to: date | None,
    layout: str,
    format: str,
    lang: str = "en",
    sep: str = "comma",
    bom: bool = True,
    now: datetime,
    settings: Settings,
    progress: Progress | None = None,
) -> ExportFile:
    """One row per ward under the unit with every figure as of ``to`` and its rank;
    ``layout="report"`` is the provinces' daily report. A group has no wards: 422."""
    options = ExportOptions(
        kind="units",
        format=format,
        end=to,
        layout=layout,
        lang=lang,
        sep=sep,
        bom=bom,
        mask_phones=_masked(caller, False),
    )
    return _export(caller, unit, options, now=now, settings=settings, progress=progress)


def export_visits(
    caller: Caller,
    *,
    unit: str,
    start: date | None,
    end: date | None,
    review_status: str | None,
    format: str,
    lang: str = "en",
    sep: str = "comma",
    bom: bool = True,
    now: datetime,
    settings: Settings,
    progress: Progress | None = None,
) -> ExportFile:
    """One row per visit under the unit whose local day falls in [start, end]."""
    options = ExportOptions(
        kind="visits",
        format=format,
        start=start,
        end=end,
        review_status=review_status,
        lang=lang,
        sep=sep,
        bom=bom,
        mask_phones=_masked(caller, False),
    )
    return _export(caller, unit, options, now=now, settings=settings, progress=progress)


def export_households(
    caller: Caller,
    *,
    unit: str,
    format: str,
    lang: str = "en",
    sep: str = "comma",
    bom: bool = True,
    mask_phones: bool = False,
    now: datetime,
    settings: Settings,
    progress: Progress | None = None,
) -> ExportFile:
    """One row per household under the unit not merged away; phones masked for everyone
    but admins (and for an admin who asks)."""
    options = ExportOptions(
        kind="households",
        format=format,
        lang=lang,
        sep=sep,
        bom=bom,
        mask_phones=_masked(caller, mask_phones),
    )
    return _export(caller, unit, options, now=now, settings=settings, progress=progress)


def export_snapshot(
    caller: Caller,
    *,
    unit: str,
    mask_phones: bool = False,
    now: datetime,
    settings: Settings,
    progress: Progress | None = None,
) -> ExportFile:
    """The units, visits and households tables under the unit in one SQLite file."""
    options = ExportOptions(
        kind="snapshot", format="sqlite", mask_phones=_masked(caller, mask_phones)
    )
    return _export(caller, unit, options, now=now, settings=settings, progress=progress)


def _masked(caller: Caller, asked: bool) -> bool:
    """Phones come out in clear for admins only, unless they ask for them masked."""
    return asked or caller.role != "admin"


def _export(
    caller: Caller,
    unit_ref: str,
    options: ExportOptions,
    *,
    now: datetime,
    settings: Settings,
    progress: Progress | None,
) -> ExportFile:
    unit = unit_in_scope(caller, unit_ref)
    if options.kind == "units" and unit.level == "group":
        raise ApiError(
            "validation_failed",
            errors={"unit": ["Choose a ward or a unit above it; a group has no wards."]},
        )
    root = export_store.Root.of(unit)
    zone = settings.timezone
    begin_read_snapshot()  # every row of the export from one snapshot
    if progress is not None:
        progress.start(export_store.expected_rows(root, options, zone=zone))
    built = export_store.build(
        root,
        options,
        today=now.astimezone(ZoneInfo(zone)).date(),
        zone=zone,
        campaign_rate=settings.target_rate,
        actor=caller.username,
        now=now,
        on_rows=progress.advance if progress is not None else None,
    )

    def record(write: Write) -> None:
        write.audit("export", root.ref, audit_details(root.ref, options, built.rows))

    try:
        run_write(caller, now, record)
    except BaseException:
        built.discard()  # a built file is deleted
        raise
    # The audit row is committed; a CSV's rows are read in a fresh snapshot, after it.
    begin_read_snapshot()
    ascii_name, unicode_name = built.filename
    return ExportFile(built.content_type, ascii_name, unicode_name, built.chunks, built.rows)
