"""Reading the rows of the exports (docs/exports.md) and writing the XLSX and SQLite files.

Rows are read in keyset batches, never all at once: visits per ward and queue rank along
``ix_visits_queue`` (ward_id, queue_rank, visited_at, id), the two ranks of a ward merged back
into (visited_at, id) order, so every batch is one index range whatever the table's size;
households per ward along ``ix_households_ward_address`` (ward_id, address_norm, id). Unit
names and usernames come from two small dictionaries loaded once per export. Times are read
as stored (SQLite's text, PostgreSQL's timestamps) and turned into RFC 3339 by
domain/exports.py, which skips a datetime round trip per cell.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import (
    String,
    bindparam,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
)

from domain.exports import (
    BOM,
    CSV_STYLE,
    HOUSEHOLD_READ,
    LINE_END,
    SEPARATORS,
    SQLITE_STYLE,
    VISIT_READ,
    VISIT_SORT_KEY,
    XLSX_STYLE,
    Column,
    ExportOptions,
    Lookups,
    Style,
    UnitInfo,
    columns,
    csv_chunks,
    csv_text,
    decimal_positions,
    file_names,
    float_writer,
    header,
    household_row,
    line_chunks,
    unit_rows,
    utc_text,
    visit_row,
)
from domain.review import QUEUE_RANKS, local_range
from domain.stats import competition_ranks

from ..extensions import db
from ..models import Household, Unit, User, Visit, table
from . import figures
from .keyset import time_bound

log = logging.getLogger("field_server.exports")
R = TypeVar("R")  # a row, or a finished CSV line

V = table(Visit)
H = table(Household)
U = table(Unit)

BATCH = 5000
PROGRESS_EVERY = 100_000
VISIT_TIMES = ("visited_at", "come_back_at", "received_at")
VISITED, ID = VISIT_SORT_KEY  # positions in a visit row


@dataclass
class ExportTable:
    """One exported table: its name, columns, and its rows, read lazily when iterated."""

    name: str
    columns: tuple[Column, ...]
    rows: Iterable[list[Any]]
    count: int | None = None  # known up front for units only


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def load_units(root: Root) -> dict[int, UnitInfo]:
    """The root's subtree and its ancestors, by id: one query."""
    ancestors = [int(part) for part in root.path.strip("/").split("/") if part]
    rows = db.session.execute(
        select(U.c.id, U.c.scheme, U.c.code, U.c.name, U.c.level, U.c.parent_id).where(
            or_(U.c.path.startswith(root.path), U.c.id.in_(ancestors))
        )
    ).all()
    return {r.id: UnitInfo(r.id, r.scheme, r.code, r.name, r.level, r.parent_id) for r in rows}


def load_usernames() -> dict[int, str]:
    return {row.id: row.username for row in db.session.execute(select(User.id, User.username))}


@dataclass(frozen=True)
class Root:
    """The unit an export is about, as plain values (no ORM object outlives a transaction
    while the rows stream)."""

    id: int
    ref: str
    scheme: str
    code: str
    name: str
    level: str
    path: str
    parent_id: int | None

    @classmethod
    def of(cls, unit: Unit) -> Root:
        return cls(
            unit.id,
            unit.ref,
            unit.scheme,
            unit.code,
            unit.name,
            unit.level,
            unit.path,
            unit.parent_id,
        )


def _wards(root: Root, units: dict[int, UnitInfo]) -> list[UnitInfo]:
    """The wards the export covers, by id: the root itself, the ward of a group, or every
    ward under a district or province (``units`` holds the subtree and the ancestors, and
    no ancestor of those is a ward)."""
    if root.level == "ward":
        return [units[root.id]]
    if root.level == "group":
        return [units[root.parent_id]] if root.parent_id in units else []
    return sorted((u for u in units.values() if u.level == "ward"), key=lambda u: u.id)


def progress(rows: Iterable[R], what: str) -> Iterator[R]:
    """The rows, with a log line every PROGRESS_EVERY of them and one at the end."""
    count = 0
    for row in rows:
        yield row
        count += 1
        if count % PROGRESS_EVERY == 0:
            log.info("export %s: %d rows written", what, count)
    if count >= PROGRESS_EVERY:
        log.info("export %s: done, %d rows", what, count)


# --- units -------------------------------------------------------------------------------


def unit_table(
    root: Root, style: Style, end: Any, campaign_rate: float, layout: str = "full"
) -> ExportTable:
    """One row per ward under the root (a ward gives its own row), with every total of
    docs/figures.md as of the end of ``end`` and the rank among these wards by coverage."""
    units = load_units(root)
    wards = _wards(root, units)
    ward_units = []
    if wards:
        statement = select(Unit).where(Unit.id.in_([w.id for w in wards])).order_by(Unit.id)
        ward_units = list(db.session.execute(statement).scalars())
    totals = figures.totals_for(ward_units, None, end, campaign_rate) if ward_units else {}
    ranks = competition_ranks({w.id: totals[w.id]["coverage"] for w in wards})
    rows = [style.row(r) for r in unit_rows(wards, totals, ranks, units, layout)]
    return ExportTable("units", columns("units", layout), rows, count=len(rows))


# --- visits ------------------------------------------------------------------------------


def _visit_columns() -> list[Any]:
    sqlite = _sqlite()
    # SQLite: the stored text, turned into RFC 3339 without a datetime per cell.
    return [
        type_coerce(V.c[name], String()).label(name)
        if sqlite and name in VISIT_TIMES
        else V.c[name]
        for name in VISIT_READ
    ]


def _rank_stream(
    ward_id: int,
    rank: int,
    conditions: Sequence[Any],
    batch: int,
) -> Iterator[Any]:
    """The visits of one ward and queue rank in (visited_at, id) order, BATCH at a time."""
    cols = _visit_columns()
    sqlite = _sqlite()
    after: tuple[Any, str] | None = None
    while True:
        query = select(*cols).where(V.c.ward_id == ward_id, V.c.queue_rank == rank, *conditions)
        if after is not None:
            visited, visit_id = after
            bound = literal(visited, String()) if sqlite else literal(visited, V.c.visited_at.type)
            query = query.where(
                tuple_(V.c.visited_at, V.c.id) > tuple_(bound, literal(visit_id, String()))
            )
        rows = db.session.execute(query.order_by(V.c.visited_at, V.c.id).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1][VISITED], rows[-1][ID])


def visit_records(
    root: Root,
    units: dict[int, UnitInfo],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    review_status: str | None = None,
    batch: int = BATCH,
) -> Iterator[Any]:
    """The stored visits under the root, ward by ward, in (visited_at, id) order."""
    conditions: list[Any] = []
    if root.level == "group":
        conditions.append(V.c.group_id == root.id)
    if since is not None:
        conditions.append(V.c.visited_at >= time_bound(since, V.c.visited_at))
    if until is not None:
        conditions.append(V.c.visited_at < time_bound(until, V.c.visited_at))
    if review_status is not None:
        conditions.append(V.c.review_status == review_status)
    for ward in _wards(root, units):
        streams = [_rank_stream(ward.id, rank, conditions, batch) for rank in QUEUE_RANKS]
        yield from heapq.merge(*streams, key=lambda r: (r[VISITED], r[ID]))


def visit_table(
    root: Root,
    style: Style,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    review_status: str | None = None,
    batch: int = BATCH,
) -> ExportTable:
    units = load_units(root)
    lookups = Lookups(units, load_usernames(), style)
    records = visit_records(
        root, units, since=since, until=until, review_status=review_status, batch=batch
    )
    rows = (visit_row(r, lookups) for r in records)
    return ExportTable("visits", columns("visits"), progress(rows, f"visits of {root.ref}"))


# --- visits.csv on SQLite: the database renders the cells --------------------------------
#
# Python's csv module costs more per visit than reading it. On SQLite (the one-process
# district server) the database itself renders each visit's cells as CSV text, with the
# same quoting (QUOTE_MINIMAL: a cell holding the separator, a quote, CR or LF is quoted,
# quotes doubled), the same formula guard and the same time spelling as the Python path;
# Python adds only the floats (its own shortest form), the ward, group and canvasser from
# the lookups, and the line end. tests/api/test_exports.py checks both paths give the same
# bytes. Every value is a bound parameter; the SQL text is built from column names only.

FAST_SQLITE_CSV = True


def _q(expr: str) -> str:
    return (
        f"CASE WHEN instr({expr}, '\"') OR instr({expr}, :sep) OR instr({expr}, char(13)) "
        f"OR instr({expr}, char(10)) THEN '\"' || replace({expr}, '\"', '\"\"') || '\"' "
        f"ELSE {expr} END"
    )


def _guarded(column: str) -> str:
    return (
        f"CASE WHEN substr({column}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) "
        f"THEN '''' || {column} ELSE {column} END"
    )


def _cell(column: str, kind: str) -> str:
    if kind == "int":
        return f"COALESCE(CAST({column} AS TEXT), '')"
    if kind == "time":
        return (
            f"CASE WHEN {column} IS NULL THEN '' ELSE replace(replace(substr({column}, 1, 10)"
            f" || 'T' || substr({column}, 12), '.000000', ''), '+00:00', '') || 'Z' END"
        )
    if kind == "bool":
        return f"CASE WHEN {column} THEN 'true' ELSE 'false' END"
    if kind == "flags":
        return (
            f"replace(replace(replace(replace(replace({column}, '[', ''), ']', ''), '\"', ''),"
            " ', ', '|'), ',', '|')"
        )
    if kind == "guarded":
        return f"COALESCE({_q(_guarded(column))}, '')"
    return f"COALESCE({_q(column)}, '')"


def _joined(cells: list[tuple[str, str]]) -> str:
    return " || :sep || ".join(_cell(column, kind) for column, kind in cells)


_FAST_A = _joined(
    [
        ("id", "text"),
        ("version", "int"),
        ("household_id", "text"),
        ("visited_at", "time"),
        ("outcome", "text"),
        ("adults", "int"),
        ("smartphones", "int"),
        ("installed_before", "int"),
        ("installed_during", "int"),
        ("priority_subjects", "int"),
        ("priority_installed", "int"),
    ]
)
_FAST_B = _joined([("notes", "guarded"), ("come_back_at", "time")])
_FAST_C = _joined(
    [
        ("device_id", "text"),
        ("review_status", "text"),
        ("review_comment", "guarded"),
        ("flags", "flags"),
        ("voided", "bool"),
        ("received_at", "time"),
    ]
)
# Column names and constants only; every value is bound.
_FAST_COLUMNS = (
    f"rowid, {_FAST_A}, lat, lon, accuracy_m, {_FAST_B}, ward_id, group_id, canvasser_id, {_FAST_C}"
)
# Beyond this share of all wards, one pass over the table in rowid order (sequential pages)
# beats one index range per ward (each ward's rows are spread over the whole table).
FULL_SCAN_SHARE = 4


def _fast_rows(sql: Any, values: dict[str, Any], batch: int) -> Iterator[Any]:
    """Keyset batches by rowid: ``rowid > :after ORDER BY rowid LIMIT :limit``."""
    values = {**values, "after": 0, "limit": batch}
    while True:
        rows = db.session.execute(sql, values).all()
        yield from rows
        if len(rows) < batch:
            return
        values["after"] = rows[-1][0]


def fast_visit_lines(
    root: Root,
    lookups: Lookups,
    *,
    sep: str,
    since: datetime | None,
    until: datetime | None,
    review_status: str | None,
    wards: list[UnitInfo],
    batch: int = BATCH,
) -> Iterator[str]:
    """visits.csv lines rendered by SQLite (see above), in the order the server received
    the visits (rowid): one pass over the table when the export covers a good share of
    the wards, else ward by ward along ``ix_visits_ward_id`` (ward_id, rowid)."""
    delimiter = SEPARATORS[sep]
    float_text = float_writer(sep)  # a decimal comma with sep=semicolon
    params: dict[str, Any] = {"sep": delimiter}
    where = ""
    if root.level == "group":
        where += " AND group_id = :group_id"
        params["group_id"] = root.id
    if since is not None:
        where += " AND visited_at >= :since"
        params["since"] = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if until is not None:
        where += " AND visited_at < :until"
        params["until"] = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if review_status is not None:
        where += " AND review_status = :review_status"
        params["review_status"] = review_status
    unit_cells: dict[int | None, str] = {
        unit_id: csv_text(list(cells), sep) for unit_id, cells in lookups.units.items()
    }
    names = {user_id: csv_text([name], sep) for user_id, name in lookups.usernames.items()}
    if not wards:
        return
    all_wards = db.session.execute(select(func.count()).where(U.c.level == "ward")).scalar_one()
    if len(wards) > 1 and len(wards) * FULL_SCAN_SHARE >= all_wards:
        # `+ward_id`: no index for this term, so SQLite walks the table in rowid order.
        sql = text(
            f"SELECT {_FAST_COLUMNS} FROM visits WHERE +ward_id IN :wards{where} "  # noqa: S608
            "AND rowid > :after ORDER BY rowid LIMIT :limit"
        ).bindparams(bindparam("wards", expanding=True))
        passes = [{**params, "wards": [w.id for w in wards]}]
    else:
        sql = text(
            f"SELECT {_FAST_COLUMNS} FROM visits WHERE ward_id = :ward_id{where} "  # noqa: S608
            "AND rowid > :after ORDER BY rowid LIMIT :limit"
        )
        passes = [{**params, "ward_id": w.id} for w in wards]
    end = LINE_END
    for values in passes:
        for row in _fast_rows(sql, values, batch):
            _, a, lat, lon, accuracy, b, ward_id, group_id, canvasser_id, c = row
            yield (
                f"{a}{delimiter}{float_text(lat)}{delimiter}{float_text(lon)}{delimiter}"
                f"{float_text(accuracy)}{delimiter}{b}{delimiter}{unit_cells[ward_id]}"
                f"{delimiter}{unit_cells.get(group_id, delimiter)}{delimiter}"
                f"{names.get(canvasser_id, '')}{delimiter}{c}{end}"
            )


# --- households --------------------------------------------------------------------------


def household_records(root: Root, units: dict[int, UnitInfo], batch: int = BATCH) -> Iterator[Any]:
    """The households under the root not merged away, ward by ward, by normalised address."""
    cols = [H.c[name] for name in HOUSEHOLD_READ] + [H.c.address_norm]
    conditions: list[Any] = [H.c.merged_into.is_(None)]
    if root.level == "group":
        conditions.append(H.c.group_id == root.id)
    for ward in _wards(root, units):
        after: tuple[str, str] | None = None
        while True:
            query = select(*cols).where(H.c.ward_id == ward.id, *conditions)
            if after is not None:
                query = query.where(
                    tuple_(H.c.address_norm, H.c.id)
                    > tuple_(literal(after[0], String()), literal(after[1], String()))
                )
            rows = db.session.execute(query.order_by(H.c.address_norm, H.c.id).limit(batch)).all()
            yield from rows
            if len(rows) < batch:
                break
            after = (rows[-1][-1], rows[-1][0])


def household_table(
    root: Root, style: Style, *, mask_phones: bool, batch: int = BATCH
) -> ExportTable:
    units = load_units(root)
    lookups = Lookups(units, {}, style)
    records = household_records(root, units, batch)
    rows = (household_row(r, lookups, mask_phones) for r in records)
    return ExportTable(
        "households", columns("households"), progress(rows, f"households of {root.ref}")
    )


# --- files -------------------------------------------------------------------------------


def temporary_path(suffix: str) -> str:
    handle, path = tempfile.mkstemp(prefix="field-export-", suffix=suffix)
    os.close(handle)
    return path


def _xlsx_cell(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value.__class__ is str:
        # Control characters other than tab and line ends cannot be stored in XLSX.
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def write_xlsx(
    path: str,
    table: ExportTable,
    head: list[str],
    title: str,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """The table as one sheet of a workbook written in openpyxl's write-only mode (rows go
    to disk as they come); returns the number of rows."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(head)
    count = 0
    for row in table.rows:
        sheet.append([_xlsx_cell(v) for v in row])
        count += 1
        if on_rows is not None and count % 1000 == 0:
            on_rows(1000)
    if on_rows is not None and count % 1000:
        on_rows(count % 1000)
    book.save(path)
    return count


SQL_TYPES = {"INTEGER": int, "REAL": float, "TEXT": str}
SNAPSHOT_INDEXES = {
    "units": (["ward_code"], ["district_code"]),
    "visits": (["ward_code"], ["household_id"], ["visited_at"], ["review_status"], ["canvasser"]),
    "households": (["ward_code"], ["group_code"]),
}
SNAPSHOT_KEYS = {"units": ("scheme", "ward_code"), "visits": "id", "households": "id"}


def _records(
    names: list[str], rows: Iterable[list[Any]], counter: list[int], on_rows: Any
) -> Iterator[dict[str, Any]]:
    for row in rows:
        counter[0] += 1
        if on_rows is not None and counter[0] % 1000 == 0:
            on_rows(1000)
        yield dict(zip(names, row, strict=True))


def write_snapshot(
    path: str,
    tables: Sequence[ExportTable],
    metadata: dict[str, Any],
    on_rows: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """The tables in one SQLite file built with sqlite-utils: declared column types, primary
    keys, indexes on the columns an analyst joins and filters by, and a ``metadata`` table
    (key, value) saying what was exported, when, by whom and with which filters. Returns
    the row count of each table."""
    import sqlite_utils

    database = sqlite_utils.Database(path)
    counts: dict[str, int] = {}
    try:
        for table in tables:
            names = [c.name for c in table.columns]
            target = database.table(table.name)
            target.create(
                {c.name: SQL_TYPES[c.type] for c in table.columns},
                pk=SNAPSHOT_KEYS[table.name],
            )
            counter = [0]
            target.insert_all(_records(names, table.rows, counter, on_rows), batch_size=1000)
            if on_rows is not None and counter[0] % 1000:
                on_rows(counter[0] % 1000)
            for index in SNAPSHOT_INDEXES[table.name]:
                target.create_index(index)
            counts[table.name] = counter[0]
        meta = {**metadata, "row_counts": counts}
        database.table("metadata").insert_all(
            (
                {
                    "key": key,
                    "value": value
                    if isinstance(value, str)
                    else json.dumps(value, ensure_ascii=False, sort_keys=True),
                }
                for key, value in meta.items()
            ),
            pk="key",
        )
    finally:
        database.close()
    return counts


class FileChunks:
    """A built file's bytes, a chunk at a time, then the file deleted: when the last chunk
    is read, and also when the iterator is closed first (the client went away, or the
    export's audit row could not be written), even before the first chunk."""

    def __init__(self, path: str, chunk: int = 256 * 1024) -> None:
        self.path = path
        self.chunk = chunk
        self.handle: BinaryIO | None = None
        self.done = False

    def __iter__(self) -> FileChunks:
        return self

    def __next__(self) -> bytes:
        if self.done:
            raise StopIteration
        if self.handle is None:
            self.handle = open(self.path, "rb")  # noqa: SIM115 (closed in close())
        data = self.handle.read(self.chunk)
        if not data:
            self.close()
            raise StopIteration
        return data

    def close(self) -> None:
        self.done = True
        if self.handle is not None:
            self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def stream_file(path: str, chunk: int = 256 * 1024) -> FileChunks:
    """A built file's bytes, then the file deleted (also when the client goes away)."""
    return FileChunks(path, chunk)


# --- one export, for the API and the command line alike (services/exports.py) -------------

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sqlite": "application/vnd.sqlite3",
}


@dataclass
class Built:
    """An export ready to send: its bytes come from ``chunks`` (lazily for CSV, from a
    temporary file for XLSX and SQLite, deleted once sent)."""

    content_type: str
    filename: tuple[str, str]  # (ASCII, UTF-8)
    chunks: Iterator[bytes]
    rows: int | None

    def discard(self) -> None:
        """Give up sending: a built file is deleted, a CSV's rows are never read."""
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def _table(
    root: Root, options: ExportOptions, *, as_of: date, zone: str, campaign_rate: float
) -> ExportTable:
    style = CSV_STYLE if options.format == "csv" else XLSX_STYLE
    if options.kind == "units":
        return unit_table(root, style, as_of, campaign_rate, options.layout)
    if options.kind == "visits":
        since, until = local_range(options.start, options.end, zone)
        return visit_table(
            root, style, since=since, until=until, review_status=options.review_status
        )
    return household_table(root, style, mask_phones=options.mask_phones)


def _encoded(chunks: Iterable[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


def build(
    root: Root,
    options: ExportOptions,
    *,
    today: date,
    zone: str,
    campaign_rate: float,
    actor: str | None,
    now: datetime,
    on_rows: Callable[[int], None] | None = None,
) -> Built:
    """Prepare one export. CSV reads its rows only as ``chunks`` is iterated (call inside a
    read snapshot); XLSX and SQLite are written to a temporary file here."""
    as_of = options.end or today
    kind_name = (
        "units-report" if options.kind == "units" and options.layout == "report" else options.kind
    )
    extension = options.format
    names = file_names(kind_name, root.scheme, root.code, root.name, as_of.isoformat(), extension)
    content_type = CONTENT_TYPES[options.format]

    if options.kind == "snapshot":
        path = temporary_path(".sqlite")
        try:
            tables = [
                unit_table(root, SQLITE_STYLE, today, campaign_rate),
                visit_table(root, SQLITE_STYLE),
                household_table(root, SQLITE_STYLE, mask_phones=options.mask_phones),
            ]
            metadata = {
                "kind": "snapshot",
                "unit": root.ref,
                "unit_name": root.name,
                "unit_level": root.level,
                "exported_at": utc_text(now),
                "exported_by": actor or "",
                "filters": options.filters(),
                "units_as_of": today.isoformat(),
                "phones": "masked" if options.mask_phones else "clear",
                "time_zone": zone,
            }
            counts = write_snapshot(path, tables, metadata, on_rows)
        except BaseException:
            os.unlink(path)
            raise
        return Built(content_type, names, stream_file(path), sum(counts.values()))

    table = _table(root, options, as_of=as_of, zone=zone, campaign_rate=campaign_rate)
    head = header(table.columns, options.lang)
    if options.format == "xlsx":
        path = temporary_path(".xlsx")
        try:
            count = write_xlsx(path, table, head, table.name, on_rows)
        except BaseException:
            os.unlink(path)
            raise
        return Built(content_type, names, stream_file(path), count)
    if options.kind == "visits" and FAST_SQLITE_CSV and _sqlite():
        chunks = _fast_visits_csv(root, options, head, zone, on_rows)
    else:
        chunks = csv_chunks(
            head,
            table.rows,
            sep=options.sep,
            bom=options.bom,
            on_rows=on_rows,
            decimals=decimal_positions(table.columns),
        )
    return Built(content_type, names, _encoded(chunks), table.count)


def _fast_visits_csv(
    root: Root,
    options: ExportOptions,
    head: list[str],
    zone: str,
    on_rows: Callable[[int], None] | None,
) -> Iterator[str]:
    units = load_units(root)
    lookups = Lookups(units, load_usernames(), CSV_STYLE)
    since, until = local_range(options.start, options.end, zone)
    first = (BOM if options.bom else "") + csv_text(CSV_STYLE.row(head), options.sep) + LINE_END
    lines = fast_visit_lines(
        root,
        lookups,
        sep=options.sep,
        since=since,
        until=until,
        review_status=options.review_status,
        wards=_wards(root, units),
    )
    return line_chunks(first, progress(lines, f"visits of {root.ref}"), on_rows=on_rows)


def expected_rows(root: Root, options: ExportOptions, *, zone: str) -> int:
    """How many rows the export will hold (for a progress bar): counted per ward over the
    same conditions, from the indexes."""
    units = load_units(root)
    wards = [w.id for w in _wards(root, units)]
    if options.kind == "units":
        return len(wards)
    total = 0
    if options.kind in ("households", "snapshot"):
        total += len(wards) if options.kind == "snapshot" else 0
        conditions: list[Any] = [H.c.merged_into.is_(None)]
        if root.level == "group":
            conditions.append(H.c.group_id == root.id)
        for ward_id in wards:
            statement = select(func.count()).where(H.c.ward_id == ward_id, *conditions)
            total += db.session.execute(statement).scalar_one()
    if options.kind in ("visits", "snapshot"):
        since, until = (None, None)
        if options.kind == "visits":
            since, until = local_range(options.start, options.end, zone)
        conditions = []
        if root.level == "group":
            conditions.append(V.c.group_id == root.id)
        if since is not None:
            conditions.append(V.c.visited_at >= time_bound(since, V.c.visited_at))
        if until is not None:
            conditions.append(V.c.visited_at < time_bound(until, V.c.visited_at))
        if options.kind == "visits" and options.review_status is not None:
            conditions.append(V.c.review_status == options.review_status)
        for ward_id in wards:
            statement = select(func.count()).where(V.c.ward_id == ward_id, *conditions)
            total += db.session.execute(statement).scalar_one()
    return total
