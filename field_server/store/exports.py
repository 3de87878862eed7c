"""Reading the rows of the exports (docs/exports.md) and writing the CSV, XLSX and SQLite files.

Visits and households are one SELECT each, whose every cell the database renders from the
column kinds of domain/exports.py (see "one SQL per export" below): a CSV is that SELECT
streamed out as CSV, by PostgreSQL's `COPY ... TO STDOUT` or, on SQLite, by csv.writer over
a plain sqlite3 cursor; the XLSX and the snapshot read the same SELECT's typed values.
Nothing is held but one chunk: memory stays flat whatever the row count. Units are computed
by store/figures.py and written by domain's csv_chunks.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import func, or_, select

from domain.exports import (
    CHUNK_CHARS,
    CSV_STYLE,
    DECIMAL_MARKS,
    FLAG_SEPARATOR,
    FORMULA_STARTS,
    LINE_END,
    PHONE_KEEP_DIGITS,
    SEPARATORS,
    SQLITE_STYLE,
    XLSX_STYLE,
    Column,
    ExportOptions,
    Style,
    UnitInfo,
    columns,
    csv_chunks,
    decimal_positions,
    file_names,
    float_writer,
    header,
    header_line,
    unit_rows,
    utc_text,
)
from domain.review import local_range
from domain.stats import competition_ranks

from ..extensions import db
from ..models import Household, Unit, User, Visit, table
from . import figures
from .keyset import time_bound

log = logging.getLogger("field_server.exports")
R = TypeVar("R")  # a row

V = table(Visit)
H = table(Household)
U = table(Unit)

BATCH = 5000
PROGRESS_EVERY = 100_000


@dataclass
class ExportTable:
    """One exported table: its name, columns, and its rows, read lazily when iterated."""

    name: str
    columns: tuple[Column, ...]
    rows: Iterable[Sequence[Any]]
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


# --- visits and households: one SQL per export, rendered by the database ---------------
#
# Every cell of visits.csv and households.csv is one SQL expression, built here from the
# column kinds of domain/exports.py and read by every format: the CSV (on PostgreSQL the
# CSV of `COPY (SELECT ...) TO STDOUT`, on SQLite the rows of a plain sqlite3 cursor given
# to csv.writer), the XLSX and the SQLite snapshot. The two databases differ only in a few
# spellings (a character by its code, a time as text, a float as Python writes it), each
# chosen so that both give the same bytes (tests/api/test_exports.py compares them).
# Every value is a bound parameter; the SQL text is built from constants only.

# Beyond this share of all wards, one pass over the visits in rowid order (sequential
# pages) beats one index range per ward on SQLite (each ward's rows are spread over the
# whole table).
FULL_SCAN_SHARE = 4
# What a phone may hold besides digits (domain/validation.py): dropped before masking.
PHONE_SEPARATORS = (" ", "+", "(", ")", ".", "-")
STARS = "*" * 64  # more than a phone holds (String(32))
ROWS_PER_READ = 1000
# A unit or user a record points at, by the alias it is joined under.
JOINS = {"ward": "w", "group": "g", "canvasser": "u"}
FROM = {
    "visits": (
        "visits r LEFT JOIN units w ON w.id = r.ward_id LEFT JOIN units g ON g.id = r.group_id "
        "LEFT JOIN users u ON u.id = r.canvasser_id"
    ),
    "households": (
        "households r LEFT JOIN units w ON w.id = r.ward_id LEFT JOIN units g ON g.id = r.group_id"
    ),
}
APOSTROPHE = "''''"  # an SQL literal holding one '


@dataclass(frozen=True)
class Spelling:
    """How one export's cells are written: for which database, for which format (``csv``,
    ``xlsx`` or ``sqlite``), with which decimal mark, phones masked or not."""

    postgres: bool
    format: str
    decimal_comma: bool = False
    mask_phones: bool = True

    @property
    def guard(self) -> bool:
        return self.format != "sqlite"  # the snapshot holds the values as stored


def _guarded(expr: str, postgres: bool) -> str:
    """The text with a leading ' when its first character starts a formula (compared by
    code point, the cheapest test either database has)."""
    codes = ", ".join(str(ord(ch)) for ch in FORMULA_STARTS)
    first = f"{'ascii' if postgres else 'unicode'}({expr})"
    return f"CASE WHEN {first} IN ({codes}) THEN {APOSTROPHE} || {expr} ELSE {expr} END"


def _time(expr: str, postgres: bool) -> str:
    """RFC 3339 in UTC with Z, microseconds only when there are some (as Python's
    isoformat). PostgreSQL: the ISO text of the time in the UTC session _prepare_postgres
    sets, whose fraction drops trailing zeros (padded back to six digits), cheaper than
    to_char. SQLite: the text SQLAlchemy stored (``2020-08-15 02:00:00.000000``)."""
    if postgres:
        text_ = f"{expr}::timestamp::text"
        return (
            f"CASE WHEN length({text_}) = 19 THEN replace({text_}, ' ', 'T') || 'Z' "
            f"ELSE replace(rpad({text_}, 26, '0'), ' ', 'T') || 'Z' END"
        )
    return f"replace(replace(replace({expr}, ' ', 'T'), '.000000', ''), '+00:00', '') || 'Z'"


def _postgres_float(expr: str, comma: bool) -> str:
    """A float8 as Python's repr writes it. Both print the shortest text that reads back
    the same; PostgreSQL leaves out the ``.0`` of a whole number and switches to an
    exponent from 1e15 where Python does from 1e16."""
    text_ = f"{expr}::text"
    digits = f"replace(ltrim(split_part({text_}, 'e', 1), '-'), '.', '')"
    wide = (
        f"CASE WHEN {expr} < 0 THEN '-' ELSE '' END || CASE WHEN length({digits}) <= 16 "
        f"THEN rpad({digits}, 16, '0') || '.0' "
        f"ELSE substr({digits}, 1, 16) || '.' || substr({digits}, 17) END"
    )
    written = (
        f"CASE WHEN {expr} = trunc({expr}) AND abs({expr}) < 1e15::float8 THEN {text_} || '.0' "
        f"WHEN abs({expr}) >= 1e15::float8 AND abs({expr}) < 1e16::float8 THEN {wide} "
        f"ELSE {text_} END"
    )
    return f"replace({written}, '.', ',')" if comma else written


def _masked(expr: str) -> str:
    """Every digit but the last PHONE_KEEP_DIGITS becomes ``*``, the rest is dropped."""
    digits = expr
    for ch in PHONE_SEPARATORS:
        digits = f"replace({digits}, '{ch}', '')"
    keep = PHONE_KEEP_DIGITS
    return (
        f"CASE WHEN length({digits}) <= {keep} THEN substr('{STARS}', 1, length({digits})) "
        f"ELSE substr('{STARS}', 1, length({digits}) - {keep}) "
        f"|| substr({digits}, length({digits}) - {keep - 1}) END"
    )


def cell_sql(column: Column, spelling: Spelling) -> str:
    """One column of visits.csv or households.csv as an SQL expression over the record
    ``r`` and its joined ward ``w``, group ``g`` and canvasser ``u``."""
    table_, _, field = column.source.rpartition(".")
    expr = f"{JOINS[table_] if table_ else 'r'}.{field}"
    postgres, kind = spelling.postgres, column.kind
    csv_text_ = spelling.format == "csv"
    if kind == "int":
        return expr
    if kind == "real":
        if postgres and csv_text_:
            return _postgres_float(expr, spelling.decimal_comma)
        return f"export_decimal_comma({expr})" if spelling.decimal_comma else expr
    if kind == "bool":
        if csv_text_:
            return f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"
        return f"CASE WHEN {expr} THEN 1 ELSE 0 END"
    if kind == "time":
        cell = _time(expr, postgres)
    elif kind == "flags":
        cell = expr
        for old, new in (("[", ""), ("]", ""), ('"', ""), (", ", FLAG_SEPARATOR)):
            cell = f"replace({cell}, '{old}', '{new}')"
        # Most visits have no flag: their empty list costs one comparison.
        cell = f"CASE WHEN {expr} = '[]' THEN '' ELSE replace({cell}, ',', '{FLAG_SEPARATOR}') END"
    elif kind == "phone" and spelling.mask_phones:
        cell = _masked(expr)
    elif kind in ("text", "phone") and spelling.guard:
        cell = _guarded(expr, postgres)
    else:
        cell = expr
    if postgres and csv_text_:
        # COPY quotes an empty text ("") to tell it from NULL; csv.writer writes neither.
        cell = f"NULLIF({cell}, '')"
    return cell


@dataclass(frozen=True)
class RecordQuery:
    """The SELECT of one visits or households export, with its bound values (``?`` on
    SQLite, ``%s`` on PostgreSQL)."""

    sql: str
    params: list[Any]
    postgres: bool


def record_query(
    kind: str,
    root: Root,
    spelling: Spelling,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    review_status: str | None = None,
) -> RecordQuery | None:
    """The visits (or households not merged away) under the root; None when the root has
    no ward. Households come ward by ward, by normalised address; visits in the order the
    database reads them fastest."""
    postgres = spelling.postgres
    mark = "%s" if postgres else "?"
    wards = [w.id for w in _wards(root, load_units(root))]
    if not wards:
        return None
    conditions: list[str] = []
    params: list[Any] = []
    if root.level == "group":
        conditions.append(f"r.group_id = {mark}")
        params.append(root.id)
    else:
        every = _all_wards()
        if len(wards) < every and postgres:
            conditions.append(f"r.ward_id = ANY({mark})")
            params.append(wards)
        elif len(wards) < every:
            # `+r.ward_id`: no index for this term, so SQLite walks the table in rowid
            # order when the export covers a good share of the wards (visits only:
            # households are read along their address index).
            scan = kind == "visits" and len(wards) * FULL_SCAN_SHARE >= every
            marks = ", ".join(mark for _ in wards)
            conditions.append(f"{'+' if scan else ''}r.ward_id IN ({marks})")
            params.extend(wards)
    if kind == "households":
        conditions.append("r.merged_into IS NULL")
    for bound, operator in ((since, ">="), (until, "<")):
        if bound is not None:
            conditions.append(f"r.visited_at {operator} {mark}")
            params.append(
                bound if postgres else bound.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            )
    if review_status is not None:
        conditions.append(f"r.review_status = {mark}")
        params.append(review_status)
    cells = ", ".join(cell_sql(c, spelling) for c in columns(kind))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = " ORDER BY r.ward_id, r.address_norm, r.id" if kind == "households" else ""
    sql = f"SELECT {cells} FROM {FROM[kind]}{where}{order}"  # noqa: S608 (constants only)
    return RecordQuery(sql, params, postgres)


def _all_wards() -> int:
    return db.session.execute(select(func.count()).where(U.c.level == "ward")).scalar_one()


class _Progress:
    """Rows written so far: a log line every PROGRESS_EVERY rows and one at the end, and
    ``on_rows(n)`` after each chunk (a progress bar)."""

    def __init__(self, what: str, on_rows: Callable[[int], None] | None) -> None:
        self.what = what
        self.on_rows = on_rows
        self.count = 0

    def add(self, rows: int) -> None:
        before, self.count = self.count, self.count + rows
        every = PROGRESS_EVERY
        for mark in range((before // every + 1) * every, self.count + 1, every):
            log.info("export %s: %d rows written", self.what, mark)
        if self.on_rows is not None and rows:
            self.on_rows(rows)

    def done(self) -> None:
        if self.count >= PROGRESS_EVERY:
            log.info("export %s: done, %d rows", self.what, self.count)


def _driver_connection() -> Any:
    """The session's own DBAPI connection (sqlite3 or psycopg), inside its transaction."""
    return db.session.connection().connection.driver_connection


def _prepare_postgres(cursor: Any) -> None:
    # What the cells rely on, whatever the server's defaults: times written in UTC, and
    # floats in their shortest exact form.
    cursor.execute("SET LOCAL TimeZone = 'UTC'")
    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
    cursor.execute("SET LOCAL extra_float_digits = 1")


def _sqlite_cursor(query: RecordQuery) -> Any:
    connection = _driver_connection()
    connection.create_function(
        "export_decimal_comma", 1, float_writer("semicolon"), deterministic=True
    )
    return connection.execute(query.sql, query.params)


def csv_bytes(
    make_query: Callable[[], RecordQuery | None],
    first: str,
    sep: str,
    progress: _Progress,
) -> Iterator[bytes]:
    """The CSV's bytes: ``first`` (BOM and header), then the rows as the database reads
    them, the query made only when the first chunk is taken. On PostgreSQL the CSV of
    COPY, on SQLite the cursor's rows written by csv.writer."""
    yield first.encode("utf-8")
    query = make_query()
    if query is None:
        return
    if query.postgres:
        yield from _copy_csv(query, sep, progress)
    else:
        yield from _sqlite_csv(query, sep, progress)
    progress.done()


def _sqlite_csv(query: RecordQuery, sep: str, progress: _Progress) -> Iterator[bytes]:
    cursor = _sqlite_cursor(query)
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=SEPARATORS[sep], lineterminator=LINE_END)
        fetch, writerows = cursor.fetchmany, writer.writerows
        pending = 0
        while rows := fetch(ROWS_PER_READ):
            writerows(rows)
            pending += len(rows)
            if buffer.tell() >= CHUNK_CHARS:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
                progress.add(pending)
                pending = 0
        if buffer.tell():
            yield buffer.getvalue().encode("utf-8")
        progress.add(pending)
    finally:
        cursor.close()


def _copy_csv(query: RecordQuery, sep: str, progress: _Progress) -> Iterator[bytes]:
    """COPY sends one row per message, ending with LF: the rows are joined with CRLF."""
    cursor = _driver_connection().cursor()
    _prepare_postgres(cursor)
    statement = f"COPY ({query.sql}) TO STDOUT WITH (FORMAT csv, DELIMITER '{SEPARATORS[sep]}')"
    end = LINE_END.encode()
    try:
        with cursor.copy(statement, query.params) as copy:
            lines: list[Any] = []
            size = 0
            for line in copy:
                lines.append(line[:-1])
                size += len(line)
                if size >= CHUNK_CHARS:
                    count = len(lines)
                    lines.append(b"")
                    yield end.join(lines)
                    progress.add(count)
                    lines.clear()
                    size = 0
            if lines:
                count = len(lines)
                lines.append(b"")
                yield end.join(lines)
                progress.add(count)
    finally:
        cursor.close()


def query_rows(query: RecordQuery | None, batch: int = BATCH) -> Iterator[Sequence[Any]]:
    """The rows of a query as typed values (XLSX, snapshot), BATCH at a time: a plain
    cursor on SQLite, a server-side cursor on PostgreSQL."""
    if query is None:
        return
    if query.postgres:
        connection = _driver_connection()
        _prepare_postgres(connection.cursor())
        cursor = connection.cursor(name=f"field_export_{uuid.uuid4().hex}")
        cursor.execute(query.sql, query.params)
    else:
        cursor = _sqlite_cursor(query)
    try:
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()


def _booleans(rows: Iterable[Sequence[Any]], positions: list[int]) -> Iterator[list[Any]]:
    """XLSX cells: the 0/1 of a boolean column as an Excel boolean."""
    for row in rows:
        out = list(row)
        for i in positions:
            if out[i] is not None:
                out[i] = bool(out[i])
        yield out


def record_table(
    kind: str,
    root: Root,
    spelling: Spelling,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    review_status: str | None = None,
) -> ExportTable:
    """Visits or households as typed rows, for the XLSX and the snapshot."""
    cols = columns(kind)
    query = record_query(
        kind, root, spelling, since=since, until=until, review_status=review_status
    )
    rows: Iterable[Sequence[Any]] = query_rows(query)
    if spelling.format == "xlsx":
        rows = _booleans(rows, [i for i, c in enumerate(cols) if c.kind == "bool"])
    return ExportTable(kind, cols, progress(rows, f"{kind} of {root.ref}"))


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
    names: list[str], rows: Iterable[Sequence[Any]], counter: list[int], on_rows: Any
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


def _spelling(options: ExportOptions, format_: str | None = None) -> Spelling:
    return Spelling(
        postgres=not _sqlite(),
        format=format_ or options.format,
        decimal_comma=DECIMAL_MARKS[options.sep] == ",",
        mask_phones=options.mask_phones,
    )


def _table(
    root: Root, options: ExportOptions, *, as_of: date, zone: str, campaign_rate: float
) -> ExportTable:
    """The rows of a units export, or the typed rows of an XLSX of visits or households."""
    style = CSV_STYLE if options.format == "csv" else XLSX_STYLE
    if options.kind == "units":
        return unit_table(root, style, as_of, campaign_rate, options.layout)
    since, until = local_range(options.start, options.end, zone)
    return record_table(
        options.kind,
        root,
        _spelling(options),
        since=since,
        until=until,
        review_status=options.review_status,
    )


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
    """Prepare one export. A CSV of visits or households reads its rows only as ``chunks``
    is iterated (call inside a read snapshot); XLSX and SQLite are written to a temporary
    file here."""
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
            spelling = _spelling(options, "sqlite")
            tables = [
                unit_table(root, SQLITE_STYLE, today, campaign_rate),
                record_table("visits", root, spelling),
                record_table("households", root, spelling),
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

    cols = columns(options.kind, options.layout)
    head = header(cols, options.lang)
    if options.format == "xlsx":
        table = _table(root, options, as_of=as_of, zone=zone, campaign_rate=campaign_rate)
        path = temporary_path(".xlsx")
        try:
            count = write_xlsx(path, table, head, table.name, on_rows)
        except BaseException:
            os.unlink(path)
            raise
        return Built(content_type, names, stream_file(path), count)
    if options.kind == "units":
        table = _table(root, options, as_of=as_of, zone=zone, campaign_rate=campaign_rate)
        chunks = csv_chunks(
            head,
            table.rows,
            sep=options.sep,
            bom=options.bom,
            on_rows=on_rows,
            decimals=decimal_positions(table.columns),
        )
        return Built(content_type, names, _encoded(chunks), table.count)

    def make_query() -> RecordQuery | None:
        since, until = local_range(options.start, options.end, zone)
        return record_query(
            options.kind,
            root,
            _spelling(options),
            since=since,
            until=until,
            review_status=options.review_status,
        )

    first = header_line(head, options.sep, options.bom)
    progress_ = _Progress(f"{options.kind} of {root.ref}", on_rows)
    return Built(content_type, names, csv_bytes(make_query, first, options.sep, progress_), None)


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
