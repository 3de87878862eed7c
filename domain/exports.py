"""The exports of docs/exports.md, the pure part: the columns (English and Vietnamese names,
snapshot types, and for visits and households which CELL_KINDS each cell is), the rows of
units.csv, the formula-injection guard, file names, and CSV text chunks.

No I/O. Visits and households are rendered by the database from the column kinds declared
here (store/exports.py, the same SQL for CSV, XLSX and the snapshot); units are computed in
Python (store/figures.py) and written by csv_chunks. The API and the command line write
what comes out, so both produce the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .records import OUTCOMES, REVIEW_STATES

KINDS = ("units", "visits", "households")
FORMATS = ("csv", "xlsx")
LAYOUTS = ("full", "report")
LANGUAGES = ("en", "vi")
SEPARATORS = {"comma": ",", "semicolon": ";"}
# The decimal mark numbers are written with, by separator: ``semicolon`` is for an Excel set
# to Vietnamese regional settings, whose list separator is ``;`` and whose decimal mark is
# ``,`` (it reads ``72.63`` as text or as 7263, never as seventy-two point six three).
DECIMAL_MARKS = {"comma": ".", "semicolon": ","}
BOM = "\ufeff"
LINE_END = "\r\n"
# Characters a spreadsheet takes as the start of a formula (or that hide one after them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PHONE_KEEP_DIGITS = 3
FLAG_SEPARATOR = "|"
CHUNK_CHARS = 64 * 1024


# How a column of visits.csv or households.csv is read and written (CELL_KINDS): the store
# turns each kind into one SQL expression per database (store/exports.py), which every
# format of these exports reads: CSV, XLSX and the SQLite snapshot.
CELL_KINDS = (
    "key",  # text written as stored, never guarded (ids, outcome, review status)
    "text",  # free text: guarded against formulas in spreadsheets
    "int",
    "real",  # written as Python writes a float; a decimal comma with sep=semicolon
    "time",  # RFC 3339 in UTC with Z, microseconds only when there are some
    "bool",  # true/false in CSV, a boolean in XLSX, 0/1 in the snapshot
    "flags",  # the stored JSON list joined with |
    "phone",  # masked for everyone but admins (see PHONE_KEEP_DIGITS), else guarded text
)


@dataclass(frozen=True)
class Column:
    """One exported column: its stable English name, its Vietnamese header, its type in the
    SQLite snapshot (INTEGER, REAL or TEXT) and, for visits and households, where its value
    comes from (a stored column, or ``ward.``/``group.``/``canvasser.`` and the field of
    that unit or user) and which of CELL_KINDS it is."""

    name: str
    vi: str
    type: str = "TEXT"
    source: str = ""
    kind: str = ""


def _c(name: str, vi: str, type_: str = "TEXT", source: str = "", kind: str = "") -> Column:
    kind = kind or {"INTEGER": "int", "REAL": "real"}.get(type_, "text")
    return Column(name, vi, type_, source or name, kind)


OUTCOME_VI = {
    "installed": "đã cài",
    "partial": "cài một phần",
    "already_installed": "đã cài từ trước",
    "refused": "từ chối",
    "not_home": "vắng nhà",
    "come_back": "hẹn quay lại",
    "no_smartphone": "không có điện thoại thông minh",
    "vacant": "nhà trống",
    "language_barrier": "bất đồng ngôn ngữ",
}
REVIEW_VI = {
    "pending": "chờ duyệt",
    "approved": "đã duyệt",
    "rejected": "bị từ chối",
    "flagged": "cần xem lại",
}

UNIT_COLUMNS: tuple[Column, ...] = (
    _c("scheme", "Hệ mã"),
    _c("province_code", "Mã tỉnh"),
    _c("province_name", "Tên tỉnh"),
    _c("district_code", "Mã huyện"),
    _c("district_name", "Tên huyện"),
    _c("ward_code", "Mã xã"),
    _c("ward_name", "Tên xã"),
    _c("households", "Số hộ", "INTEGER"),
    _c("households_visited", "Số hộ đã đến", "INTEGER"),
    _c("visits", "Số lượt đến", "INTEGER"),
    _c("adults_counted", "Số người trưởng thành đã đếm", "INTEGER"),
    _c("smartphones", "Số điện thoại thông minh", "INTEGER"),
    _c("installed", "Số người đã cài đặt", "INTEGER"),
    _c("installed_during_campaign", "Số cài trong chiến dịch", "INTEGER"),
    _c("adult_population", "Dân số trưởng thành", "INTEGER"),
    _c("target_rate", "Chỉ tiêu", "REAL"),
    _c("coverage", "Tỷ lệ trên dân số trưởng thành", "REAL"),
    _c("coverage_of_counted", "Tỷ lệ trên số người đã đếm", "REAL"),
    _c("coverage_of_smartphones", "Tỷ lệ trên số điện thoại thông minh", "REAL"),
    _c("gap_to_target", "Còn thiếu so với chỉ tiêu", "INTEGER"),
    _c("priority_subjects", "Số đối tượng ưu tiên", "INTEGER"),
    _c("priority_installed", "Số đối tượng ưu tiên đã cài", "INTEGER"),
    *(_c(f"outcome_{o}", f"Kết quả: {OUTCOME_VI[o]}", "INTEGER") for o in OUTCOMES),
    *(_c(f"review_{s}", f"Duyệt: {REVIEW_VI[s]}", "INTEGER") for s in REVIEW_STATES),
    _c("open_conflicts", "Xung đột chưa xử lý", "INTEGER"),
    _c("rank", "Xếp thứ", "INTEGER"),
)
# The provinces' daily report: "đã có … người cài đặt, đạt …%, xếp thứ …".
REPORT_COLUMNS: tuple[Column, ...] = (
    _c("ward_code", "Mã xã"),
    _c("ward_name", "Tên xã"),
    _c("installed", "Số người đã cài đặt", "INTEGER"),
    _c("pct_adult_population", "% dân số trưởng thành", "REAL"),
    _c("pct_smartphones", "% người có điện thoại thông minh", "REAL"),
    _c("rank", "Xếp thứ", "INTEGER"),
    _c("gap_to_target", "Còn thiếu so với chỉ tiêu", "INTEGER"),
)
VISIT_COLUMNS: tuple[Column, ...] = (
    _c("id", "Mã lượt đến", kind="key"),
    _c("version", "Phiên bản", "INTEGER"),
    _c("household_id", "Mã hộ", kind="key"),
    _c("visited_at", "Thời điểm đến (UTC)", kind="time"),
    _c("outcome", "Kết quả", kind="key"),
    _c("adults", "Số người trưởng thành", "INTEGER"),
    _c("smartphones", "Số điện thoại thông minh", "INTEGER"),
    _c("installed_before", "Đã cài từ trước", "INTEGER"),
    _c("installed_during", "Cài trong lượt đến", "INTEGER"),
    _c("priority_subjects", "Số đối tượng ưu tiên", "INTEGER"),
    _c("priority_installed", "Số đối tượng ưu tiên đã cài", "INTEGER"),
    _c("lat", "Vĩ độ", "REAL"),
    _c("lon", "Kinh độ", "REAL"),
    _c("accuracy_m", "Sai số GPS (m)", "REAL"),
    _c("notes", "Ghi chú"),
    _c("come_back_at", "Hẹn quay lại (UTC)", kind="time"),
    _c("ward_code", "Mã xã", source="ward.code"),
    _c("ward_name", "Tên xã", source="ward.name"),
    _c("group_code", "Mã tổ/thôn", source="group.code"),
    _c("group_name", "Tên tổ/thôn", source="group.name"),
    _c("canvasser", "Người đi vận động", source="canvasser.username"),
    _c("device_id", "Mã thiết bị", kind="key"),
    _c("review_status", "Trạng thái duyệt", kind="key"),
    _c("review_comment", "Nhận xét khi duyệt"),
    _c("flags", "Cảnh báo", kind="flags"),
    _c("voided", "Đã hủy", "INTEGER", kind="bool"),
    _c("received_at", "Thời điểm nhận (UTC)", kind="time"),
)
HOUSEHOLD_COLUMNS: tuple[Column, ...] = (
    _c("id", "Mã hộ", kind="key"),
    _c("version", "Phiên bản", "INTEGER"),
    _c("ward_code", "Mã xã", source="ward.code"),
    _c("ward_name", "Tên xã", source="ward.name"),
    _c("group_code", "Mã tổ/thôn", source="group.code"),
    _c("group_name", "Tên tổ/thôn", source="group.name"),
    _c("address", "Địa chỉ"),
    _c("lat", "Vĩ độ", "REAL"),
    _c("lon", "Kinh độ", "REAL"),
    _c("head_name", "Chủ hộ"),
    _c("phone", "Số điện thoại", kind="phone"),
    _c("adults", "Số người trưởng thành", "INTEGER"),
    _c("smartphones", "Số điện thoại thông minh", "INTEGER"),
    _c("installed", "Số người đã cài đặt", "INTEGER"),
    _c("priority_subjects", "Số đối tượng ưu tiên", "INTEGER"),
    _c("priority_installed", "Số đối tượng ưu tiên đã cài", "INTEGER"),
)


@dataclass(frozen=True)
class ExportOptions:
    """What was asked for. ``kind`` is units, visits, households or snapshot; ``format``
    csv, xlsx or sqlite (the snapshot's)."""

    kind: str
    format: str
    start: date | None = None
    end: date | None = None
    review_status: str | None = None
    layout: str = "full"
    lang: str = "en"
    sep: str = "comma"
    bom: bool = True
    mask_phones: bool = True

    def filters(self) -> dict[str, Any]:
        """The options worth recording (audit row, snapshot metadata), unset ones left out."""
        shown = {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "review_status": self.review_status,
            "layout": self.layout if self.kind == "units" else None,
        }
        return {k: v for k, v in shown.items() if v is not None}


def audit_details(unit_ref: str, options: ExportOptions, rows: int | None) -> dict[str, Any]:
    """The ``details`` of an export's audit row: the same whoever asks (API or command
    line); ``rows`` only where the count is known before the first byte."""
    details: dict[str, Any] = {
        "kind": options.kind,
        "format": options.format,
        "unit": unit_ref,
        "filters": options.filters(),
        "phones": "masked" if options.mask_phones else "clear",
    }
    if rows is not None:
        details["rows"] = rows
    return details


def columns(kind: str, layout: str = "full") -> tuple[Column, ...]:
    """The columns of one export (``layout`` matters for units only)."""
    if kind == "units":
        return REPORT_COLUMNS if layout == "report" else UNIT_COLUMNS
    if kind == "visits":
        return VISIT_COLUMNS
    if kind == "households":
        return HOUSEHOLD_COLUMNS
    raise ValueError(f"unknown export {kind!r}")


def header(cols: Sequence[Column], lang: str = "en") -> list[str]:
    """The header row: stable English snake_case names, or Vietnamese headers."""
    return [c.vi if lang == "vi" else c.name for c in cols]


def decimal_positions(cols: Sequence[Column]) -> list[int]:
    """Where the columns holding decimals (REAL) are: the only cells ``sep=semicolon``
    rewrites."""
    return [i for i, c in enumerate(cols) if c.type == "REAL"]


# --- cells -------------------------------------------------------------------------------


def guard(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; any other
    value (numbers included) is left as it is."""
    if isinstance(value, str) and value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def percent(fraction: float | None) -> float | None:
    """A fraction as a percentage with two decimals (0.6125 -> 61.25); None stays None."""
    if fraction is None:
        return None
    return float(round(Decimal(str(fraction)) * 100, 2))


def utc_text(value: Any) -> str | None:
    """A stored time as RFC 3339 UTC with ``Z``, from a timezone-aware datetime or from the
    text SQLite keeps (``2020-08-15 03:00:00`` or ``2020-08-15 03:00:00.000000``, UTC)."""
    if value is None:
        return None
    if value.__class__ is str:
        if len(value) == 19:  # the common spelling: no fraction
            return value[:10] + "T" + value[11:] + "Z"
        text = value.replace(" ", "T", 1)
        if text.endswith(".000000"):
            text = text[:-7]
        if text.endswith("+00:00"):
            text = text[:-6]
        return text + "Z"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitInfo:
    """A unit as the exports name it."""

    id: int
    scheme: str
    code: str
    name: str
    level: str
    parent_id: int | None


def ancestor_of_level(unit: UnitInfo, level: str, units: Mapping[int, UnitInfo]) -> UnitInfo | None:
    """The unit itself or the ancestor at ``level`` (None when the scheme has no such level)."""
    current: UnitInfo | None = unit
    while current is not None:
        if current.level == level:
            return current
        current = units.get(current.parent_id) if current.parent_id is not None else None
    return None


def unit_row(
    ward: UnitInfo, totals: Mapping[str, Any], rank: int, units: Mapping[int, UnitInfo]
) -> list[Any]:
    """One row of units.csv: the ward with its district and province, every total of docs/figures.md
    (by_outcome and review flattened), and its rank among the exported wards."""
    province = ancestor_of_level(ward, "province", units)
    district = ancestor_of_level(ward, "district", units)
    by_outcome, review = totals["by_outcome"], totals["review"]
    return [
        ward.scheme,
        province.code if province else None,
        province.name if province else None,
        district.code if district else None,
        district.name if district else None,
        ward.code,
        ward.name,
        totals["households"],
        totals["households_visited"],
        totals["visits"],
        totals["adults_counted"],
        totals["smartphones"],
        totals["installed"],
        totals["installed_during_campaign"],
        totals["adult_population"],
        totals["target_rate"],
        totals["coverage"],
        totals["coverage_of_counted"],
        totals["coverage_of_smartphones"],
        totals["gap_to_target"],
        totals["priority_subjects"],
        totals["priority_installed"],
        *(by_outcome[o] for o in OUTCOMES),
        *(review[s] for s in REVIEW_STATES),
        totals["open_conflicts"],
        rank,
    ]


def report_row(ward: UnitInfo, totals: Mapping[str, Any], rank: int) -> list[Any]:
    """One row of the daily report layout (see REPORT_COLUMNS)."""
    return [
        ward.code,
        ward.name,
        totals["installed"],
        percent(totals["coverage"]),
        percent(totals["coverage_of_smartphones"]),
        rank,
        totals["gap_to_target"],
    ]


def unit_rows(
    wards: Sequence[UnitInfo],
    totals: Mapping[int, Mapping[str, Any]],
    ranks: Mapping[int, int],
    units: Mapping[int, UnitInfo],
    layout: str = "full",
) -> list[list[Any]]:
    """Every ward's row (values as they are; see Style); the report is ordered by rank
    (then code), the full layout by the order the wards come in."""
    if layout == "report":
        ordered = sorted(wards, key=lambda w: (ranks[w.id], w.code))
        return [report_row(w, totals[w.id], ranks[w.id]) for w in ordered]
    return [unit_row(w, totals[w.id], ranks[w.id], units) for w in wards]


@dataclass(frozen=True)
class Style:
    """How cells are written for one format: spreadsheets (CSV, XLSX) guard text against
    formulas, the SQLite snapshot keeps values as they are; booleans as ``true``/``false``
    text in CSV, native elsewhere."""

    guard: bool
    booleans: tuple[Any, Any]

    def cell(self, value: Any) -> Any:
        if value is True or value is False:
            return self.booleans[value]
        return guard(value) if self.guard else value

    def row(self, values: Iterable[Any]) -> list[Any]:
        return [self.cell(v) for v in values]


CSV_STYLE = Style(guard=True, booleans=("false", "true"))
XLSX_STYLE = Style(guard=True, booleans=(False, True))
SQLITE_STYLE = Style(guard=False, booleans=(0, 1))


# --- CSV ---------------------------------------------------------------------------------


def csv_chunks(
    head: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sep: str = "comma",
    bom: bool = True,
    on_rows: Callable[[int], None] | None = None,
    chunk_chars: int = CHUNK_CHARS,
    decimals: Sequence[int] | None = None,
) -> Iterator[str]:
    """The CSV text (RFC 4180, CRLF line ends) in chunks of about ``chunk_chars``: the rows
    are consumed as the chunks are taken, so memory stays flat whatever the row count.
    Rows come as cells already styled with CSV_STYLE; numbers are written as Python writes
    them (a dot decimal with ``sep=comma``, a comma with ``sep=semicolon``: see
    DECIMAL_MARKS), None as an empty cell. ``decimals``: the positions that may hold a
    decimal (every cell is checked when not given). ``on_rows(n)`` is told after each chunk
    how many rows it held (for a progress bar)."""
    if DECIMAL_MARKS[sep] != ".":
        rows = decimal_commas(rows, decimals)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=SEPARATORS[sep], lineterminator=LINE_END)
    if bom:
        buffer.write(BOM)
    writer.writerow(CSV_STYLE.row(head))
    count = reported = 0
    writerows = writer.writerows
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) < 256:
            continue
        writerows(batch)
        count += len(batch)
        batch.clear()
        if buffer.tell() >= chunk_chars:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if on_rows is not None:
                on_rows(count - reported)
                reported = count
    writerows(batch)
    count += len(batch)
    if buffer.tell():
        yield buffer.getvalue()
    if on_rows is not None and count > reported:
        on_rows(count - reported)


def csv_text(cells: Sequence[Any], sep: str = "comma") -> str:
    """Cells (already styled) as one piece of a CSV line, quoted exactly as csv_chunks
    quotes them, without the line end."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=SEPARATORS[sep], lineterminator="").writerow(cells)
    return buffer.getvalue()


def header_line(head: Sequence[str], sep: str = "comma", bom: bool = True) -> str:
    """The first line of a CSV: the byte-order mark when asked, then the header row (guarded
    and quoted as csv_chunks writes it) and the line end."""
    return (BOM if bom else "") + csv_text(CSV_STYLE.row(head), sep) + LINE_END


def float_text(value: float | None) -> str:
    """A float cell as csv.writer writes it (Python's shortest round-trip form)."""
    return "" if value is None else repr(value)


def comma_float_text(value: float | None) -> str:
    """A float cell as ``sep=semicolon`` writes it: ``72,63`` (see DECIMAL_MARKS)."""
    return "" if value is None else repr(value).replace(".", ",")


def float_writer(sep: str) -> Callable[[float | None], str]:
    """How the float cells of a CSV with this separator are written."""
    return float_text if DECIMAL_MARKS[sep] == "." else comma_float_text


def decimal_commas(
    rows: Iterable[Sequence[Any]], positions: Sequence[int] | None = None
) -> Iterator[Sequence[Any]]:
    """The rows with every float cell (at ``positions``, or anywhere) written with a decimal
    comma, as text: ``72.63`` -> ``72,63``. Integers and text are left alone (a text cell
    was guarded before and is never a float)."""
    if positions is None:
        for row in rows:
            yield [repr(v).replace(".", ",") if v.__class__ is float else v for v in row]
        return
    if not positions:
        yield from rows
        return
    for row in rows:
        out = list(row)
        for i in positions:
            value = out[i]
            if value.__class__ is float:
                out[i] = repr(value).replace(".", ",")
        yield out


# --- file names --------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """Vietnamese to plain ASCII letters: ``Thị trấn Văn Giang`` -> ``Thi tran Van Giang``."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return (
        "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        .encode("ascii", "ignore")
        .decode()
    )


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-")


def file_names(
    kind: str, scheme: str, code: str, name: str, day: str, extension: str
) -> tuple[str, str]:
    """(ASCII name, UTF-8 name) saying what, which unit and which day:
    ``visits_gso-2020_12019_Thi-tran-Van-Giang_2020-08-20.csv`` and the same with the
    Vietnamese name."""
    stem = f"{kind}_{_slug(scheme)}_{_slug(code)}"
    unicode_name = f"{stem}_{_slug(unicodedata.normalize('NFC', name))}_{day}.{extension}"
    plain = f"{stem}_{_slug(ascii_fold(name))}_{day}.{extension}"
    plain = re.sub(r"[^A-Za-z0-9._-]", "-", plain)
    return plain, unicode_name


def content_disposition(plain: str, unicode_name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the RFC 5987 ``filename*``."""
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(unicode_name, safe='')}"
