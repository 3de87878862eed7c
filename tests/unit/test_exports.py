"""domain/exports.py: the guard, headers, units rows, CSV chunks and file names.

Visits and households are rendered by the database from the column kinds declared there
(phone masking, times, flags, the guard in SQL): tests/api/test_exports.py checks those
cells on both backends against a rendering written in Python."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from domain import exports
from domain.exports import UnitInfo


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+84 912", "'+84 912"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindented", "'\tindented"),
        ("\rreturn", "'\rreturn"),
        ("Nguyễn Văn A", "Nguyễn Văn A"),
        ("a=b", "a=b"),
        ("", ""),
        ("'already", "'already"),
        (-5, -5),
        (3.5, 3.5),
        (None, None),
        (True, True),
    ],
)
def test_guard(value, expected):
    assert exports.guard(value) == expected


@pytest.mark.parametrize(
    "fraction, expected",
    [(0.6125, 61.25), (0.000444, 0.04), (1.0, 100.0), (0.0, 0.0), (0.123456, 12.35), (None, None)],
)
def test_percent(fraction, expected):
    assert exports.percent(fraction) == expected


@pytest.mark.parametrize(
    "stored, expected",
    [
        ("2020-08-15 02:00:00", "2020-08-15T02:00:00Z"),
        ("2020-08-15 02:00:00.000000", "2020-08-15T02:00:00Z"),
        ("2020-08-15 02:00:00.250000", "2020-08-15T02:00:00.250000Z"),
        (datetime(2020, 8, 15, 2, 0, tzinfo=UTC), "2020-08-15T02:00:00Z"),
        (None, None),
    ],
)
def test_utc_text(stored, expected):
    assert exports.utc_text(stored) == expected


@pytest.mark.parametrize(
    "kind, layout, lang, first, last",
    [
        ("units", "full", "en", "scheme", "rank"),
        ("units", "full", "vi", "Hệ mã", "Xếp thứ"),
        ("units", "report", "en", "ward_code", "gap_to_target"),
        ("units", "report", "vi", "Mã xã", "Còn thiếu so với chỉ tiêu"),
        ("visits", "full", "en", "id", "received_at"),
        ("households", "full", "en", "id", "priority_installed"),
        ("households", "full", "vi", "Mã hộ", "Số đối tượng ưu tiên đã cài"),
    ],
)
def test_headers(kind, layout, lang, first, last):
    head = exports.header(exports.columns(kind, layout), lang)
    assert (head[0], head[-1]) == (first, last)
    assert len(set(head)) == len(head)


def test_english_names_are_snake_case_and_every_column_has_a_type():
    for kind in exports.KINDS:
        for layout in exports.LAYOUTS:
            for column in exports.columns(kind, layout):
                assert column.name == column.name.lower() and " " not in column.name
                assert column.type in ("INTEGER", "REAL", "TEXT")
                assert column.vi
                if kind != "units":  # rendered by the database from these
                    assert column.kind in exports.CELL_KINDS and column.source


UNITS = {
    1: UnitInfo(1, "gso-2020", "33", "Tỉnh Hưng Yên", "province", None),
    2: UnitInfo(2, "gso-2020", "326", "Huyện Văn Giang", "district", 1),
    3: UnitInfo(3, "gso-2020", "12019", "Thị trấn Văn Giang", "ward", 2),
    4: UnitInfo(4, "gso-2020", "12019-01", "Tổ dân phố 1", "group", 3),
    5: UnitInfo(5, "nso-2025", "100", "Phường Mới", "ward", 6),
    6: UnitInfo(6, "nso-2025", "01", "Hà Nội", "province", None),
}


def totals(installed: int, coverage: float | None, smart: float | None = 0.8) -> dict:
    return {
        "households": 2,
        "households_visited": 2,
        "visits": 3,
        "adults_counted": 6,
        "smartphones": 5,
        "installed": installed,
        "installed_during_campaign": 3,
        "adult_population": 9000,
        "target_rate": 0.6,
        "coverage": coverage,
        "coverage_of_counted": 0.666667,
        "coverage_of_smartphones": smart,
        "gap_to_target": 5396,
        "priority_subjects": 0,
        "priority_installed": 0,
        "by_outcome": {o: (1 if o == "installed" else 0) for o in exports.OUTCOMES},
        "review": {s: (3 if s == "pending" else 0) for s in exports.REVIEW_STATES},
        "open_conflicts": 1,
    }


def test_unit_row_has_the_ward_its_district_and_province_and_flattened_totals():
    row = exports.unit_row(UNITS[3], totals(4, 0.000444), 2, UNITS)
    named = dict(zip([c.name for c in exports.UNIT_COLUMNS], row, strict=True))
    assert named["province_code"] == "33" and named["district_name"] == "Huyện Văn Giang"
    assert named["ward_code"] == "12019" and named["installed"] == 4
    assert named["outcome_installed"] == 1 and named["review_pending"] == 3
    assert named["open_conflicts"] == 1 and named["rank"] == 2


def test_a_two_level_scheme_has_no_district():
    row = exports.unit_row(UNITS[5], totals(0, None), 1, UNITS)
    named = dict(zip([c.name for c in exports.UNIT_COLUMNS], row, strict=True))
    assert (named["district_code"], named["district_name"]) == (None, None)
    assert named["province_name"] == "Hà Nội"


def test_report_rows_are_ordered_by_rank_with_percentages():
    wards = [UNITS[3], UNITS[5]]
    rows = exports.unit_rows(
        wards,
        {3: totals(4, 0.000444, None), 5: totals(5500, 0.6125)},
        {3: 2, 5: 1},
        UNITS,
        layout="report",
    )
    assert rows == [
        ["100", "Phường Mới", 5500, 61.25, 80.0, 1, 5396],
        ["12019", "Thị trấn Văn Giang", 4, 0.04, None, 2, 5396],
    ]


STYLES = {"csv": exports.CSV_STYLE, "xlsx": exports.XLSX_STYLE, "sqlite": exports.SQLITE_STYLE}


@pytest.mark.parametrize(
    "style, row, expected",
    [
        ("csv", ["=x", 1, 2.5, None, True, False], ["'=x", 1, 2.5, None, "true", "false"]),
        ("xlsx", ["@x", -1, True], ["'@x", -1, True]),
        ("sqlite", ["=x", True, False], ["=x", 1, 0]),
    ],
)
def test_styles(style, row, expected):
    assert STYLES[style].row(row) == expected


@pytest.mark.parametrize(
    "sep, bom, delimiter",
    [("comma", True, ","), ("semicolon", True, ";"), ("comma", False, ",")],
)
def test_csv_chunks(sep, bom, delimiter):
    rows = [
        exports.CSV_STYLE.row(r)
        for r in (["=x", 1, 2.5, None, True], ['Văn; "Giang"\nhai dòng', -3, 0.0, "", False])
    ]
    text = "".join(exports.csv_chunks(["a", "b", "c", "d", "e"], rows, sep=sep, bom=bom))
    assert text.startswith(exports.BOM) is bom
    body = text.removeprefix(exports.BOM)
    assert body.startswith(f"a{delimiter}b")
    assert body.endswith("\r\n")
    parsed = list(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter))
    point = "," if sep == "semicolon" else "."  # Excel with Vietnamese regional settings
    assert parsed == [
        ["a", "b", "c", "d", "e"],
        ["'=x", "1", f"2{point}5", "", "true"],
        ['Văn; "Giang"\nhai dòng', "-3", f"0{point}0", "", "false"],
    ]


@pytest.mark.parametrize("decimals", [None, [1, 2], []])
def test_semicolon_writes_decimals_with_a_comma_and_nothing_else(decimals):
    rows = [exports.CSV_STYLE.row(["-0.5", 72.63, -105.94, 3, "1.5", True])]
    text = "".join(
        exports.csv_chunks(["a"] * 6, rows, sep="semicolon", bom=False, decimals=decimals)
    )
    line = text.split("\r\n")[1]
    if decimals == []:  # told there is no decimal column: nothing rewritten
        assert line == "'-0.5;72.63;-105.94;3;1.5;true"
    else:  # floats only: integers, text (guarded or not) and booleans stay as they are
        assert line == "'-0.5;72,63;-105,94;3;1.5;true"
    comma = "".join(exports.csv_chunks(["a"] * 6, rows, sep="comma", bom=False))
    assert comma.split("\r\n")[1] == "'-0.5,72.63,-105.94,3,1.5,true"


def test_float_writers():
    assert exports.float_writer("comma")(20.9501) == "20.9501"
    assert exports.float_writer("semicolon")(20.9501) == "20,9501"
    assert exports.float_writer("semicolon")(None) == ""
    assert exports.float_writer("semicolon")(1e-05) == "1e-05"


def test_decimal_positions_are_the_real_columns():
    positions = exports.decimal_positions(exports.VISIT_COLUMNS)
    assert [exports.VISIT_COLUMNS[i].name for i in positions] == ["lat", "lon", "accuracy_m"]


def test_csv_chunks_are_bounded_and_report_progress():
    rows = ([f"row {i}", i] for i in range(20_000))
    seen: list[int] = []
    chunks = list(exports.csv_chunks(["a", "b"], rows, chunk_chars=4096, on_rows=seen.append))
    assert len(chunks) > 20
    # a chunk is cut at the first batch of 256 rows past the size
    assert max(len(c) for c in chunks) < 4096 + 256 * 20
    assert sum(seen) == 20_000


@pytest.mark.parametrize(
    "kind, name, plain, utf8",
    [
        (
            "visits",
            "Thị trấn Văn Giang",
            "visits_gso-2020_12019_Thi-tran-Van-Giang_2020-08-20.csv",
            "visits_gso-2020_12019_Thị-trấn-Văn-Giang_2020-08-20.csv",
        ),
        (
            "units-report",
            "Huyện Đông Anh",
            "units-report_gso-2020_12019_Huyen-Dong-Anh_2020-08-20.csv",
            "units-report_gso-2020_12019_Huyện-Đông-Anh_2020-08-20.csv",
        ),
        (
            "households",
            'a"b/c\\d',
            "households_gso-2020_12019_a-b-c-d_2020-08-20.csv",
            "households_gso-2020_12019_a-b-c-d_2020-08-20.csv",
        ),
    ],
)
def test_file_names_and_content_disposition(kind, name, plain, utf8):
    names = exports.file_names(kind, "gso-2020", "12019", name, "2020-08-20", "csv")
    assert names == (plain, utf8)
    header = exports.content_disposition(*names)
    header.encode("ascii")
    assert header.startswith(f"attachment; filename=\"{plain}\"; filename*=UTF-8''")
    assert unquote(header.split("''", 1)[1]) == utf8
