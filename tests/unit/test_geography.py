"""The units CSV rules of domain.geography, table-driven, without an app or a database."""

from __future__ import annotations

import pytest

from domain.geography import (
    MAX_ERRORS,
    ImportRejected,
    StoredUnit,
    decode_csv_bytes,
    parse_units_csv,
    plan_units_import,
)

HEADER = "scheme,code,name,level,parent_code,adult_population,target_rate"
TREE = [
    "gso-2020,33,Tỉnh Hưng Yên,province,,,",
    "gso-2020,326,Huyện Văn Giang,district,33,,",
    "gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,",
    "gso-2020,12019-01,Tổ dân phố 1,group,12019,,",
]


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def plan(text: str, stored: dict | None = None, rate: float = 0.6):  # type: ignore[no-untyped-def]
    return plan_units_import(parse_units_csv(text), stored or {}, ward_target_rate=rate)


def rejected(text: str, stored: dict | None = None) -> list[tuple[int, str | None, str]]:
    with pytest.raises(ImportRejected) as info:
        plan(text, stored)
    assert info.value.code == "import_rejected"
    return [(e.line, e.column, e.code) for e in info.value.errors]


def stored_unit(code: str, level: str, parent: str | None, **extra: object) -> StoredUnit:
    values = {"name": f"Stored {code}", "adult_population": None, "target_rate": None}
    values.update(extra)
    return StoredUnit(scheme="gso-2020", code=code, level=level, parent_code=parent, **values)  # type: ignore[arg-type]


STORED_TREE = {
    ("gso-2020", "33"): stored_unit("33", "province", None),
    ("gso-2020", "326"): stored_unit("326", "district", "33"),
    ("gso-2020", "12019"): stored_unit(
        "12019", "ward", "326", adult_population=9000, target_rate=0.7
    ),
}


def test_a_valid_file_plans_parents_before_children_whatever_the_file_order():
    result = plan(csv_text(*reversed(TREE)))
    assert [u.code for u in result.units] == ["33", "326", "12019", "12019-01"]
    assert [u.line for u in result.units] == [5, 4, 3, 2]
    assert {u.action for u in result.units} == {"create"}


def test_new_ward_gets_the_campaign_rate_other_new_units_stay_null():
    result = {u.code: u for u in plan(csv_text(*TREE), rate=0.55).units}
    assert result["12019"].target_rate == 0.55
    assert result["12019"].adult_population == 9200
    assert result["326"].target_rate is None
    assert result["12019-01"].target_rate is None
    assert result["12019-01"].adult_population is None


def test_empty_figures_keep_the_stored_ones_and_given_ones_replace_them():
    keep = plan(csv_text("gso-2020,12019,Thị trấn Văn Giang,ward,326,,"), STORED_TREE)
    (unit,) = keep.units
    assert (unit.adult_population, unit.target_rate) == (9000, 0.7)
    assert unit.action == "update"  # the name differs from the stored one
    replace = plan(csv_text("gso-2020,12019,Stored 12019,ward,326,9500,0.65"), STORED_TREE)
    (unit,) = replace.units
    assert (unit.adult_population, unit.target_rate, unit.action) == (9500, 0.65, "update")


def test_a_row_equal_to_the_stored_unit_is_unchanged():
    result = plan(csv_text("gso-2020,12019,Stored 12019,ward,326,,"), STORED_TREE)
    assert [u.action for u in result.units] == ["unchanged"]


def test_parent_may_be_a_stored_unit_and_a_changed_parent_is_a_move():
    stored = {
        **STORED_TREE,
        ("gso-2020", "327"): stored_unit("327", "district", "33"),
    }
    result = plan(csv_text("gso-2020,12019,Stored 12019,ward,327,,"), stored)
    (unit,) = result.units
    assert (unit.action, unit.moved, unit.parent_code) == ("update", True, "327")


def test_two_level_scheme_ward_directly_under_province():
    result = plan(
        csv_text("nso-2025,33,Tỉnh Hưng Yên,province,,,", "nso-2025,12019,Xã Văn Giang,ward,33,,")
    )
    assert [u.level for u in result.units] == ["province", "ward"]


def test_whitespace_blank_lines_and_bom_are_tolerated():
    text = "\ufeff" + csv_text(" gso-2020 , 33 , Tỉnh Hưng Yên ,province,,,", "", ",,,,,,")
    (unit,) = plan(text).units
    assert (unit.scheme, unit.code, unit.name) == ("gso-2020", "33", "Tỉnh Hưng Yên")


def test_columns_may_come_in_any_order():
    header = "code,scheme,level,name,parent_code,target_rate,adult_population"
    (unit,) = plan(csv_text("33,gso-2020,province,Hưng Yên,,,", header=header)).units
    assert (unit.code, unit.level) == ("33", "province")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            ["gso-2020,33,Hưng Yên,province,,,", "gso-2020,326,Văn Giang,district,99,,"],
            [(3, "parent_code", "unknown_parent")],
            id="unknown-parent",
        ),
        pytest.param(
            ["gso-2020,33,Hưng Yên,commune,,,"],
            [(2, "level", "bad_level")],
            id="bad-level",
        ),
        pytest.param(
            ["gso-2020,33,Hưng Yên,province,,,", "gso-2020,33,Hưng Yên again,province,,,"],
            [(3, "code", "duplicate")],
            id="duplicate-code",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019,Văn Giang,ward,326,nine thousand,"],
            [(4, "adult_population", "not_a_number")],
            id="population-not-a-number",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019,Văn Giang,ward,326,9200.5,"],
            [(4, "adult_population", "not_a_number")],
            id="population-not-whole",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019,Văn Giang,ward,326,-5,"],
            [(4, "adult_population", "negative")],
            id="population-negative",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019,Văn Giang,ward,326,,60"],
            [(4, "target_rate", "out_of_range")],
            id="rate-as-percent",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019,Văn Giang,ward,326,,0"],
            [(4, "target_rate", "out_of_range")],
            id="rate-zero",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019,Văn Giang,ward,326,,nan"],
            [(4, "target_rate", "not_a_number")],
            id="rate-nan",
        ),
        pytest.param(
            ["gso-2020,33,,province,,,"],
            [(2, "name", "required")],
            id="empty-name",
        ),
        pytest.param(
            ["gso-2020,,Hưng Yên,province,,,"],
            [(2, "code", "required")],
            id="empty-code",
        ),
        pytest.param(
            ["gso-2020,33:1,Hưng Yên,province,,,"],
            [(2, "code", "bad_code")],
            id="colon-in-code",
        ),
        pytest.param(
            ["GSO 2020,33,Hưng Yên,province,,,"],
            [(2, "scheme", "bad_scheme")],
            id="bad-scheme",
        ),
        pytest.param(
            ["gso-2020,33,Hưng Yên,province,1,,"],
            [(2, "parent_code", "parent_forbidden")],
            id="province-with-parent",
        ),
        pytest.param(
            ["gso-2020,326,Văn Giang,district,,,"],
            [(2, "parent_code", "parent_required")],
            id="district-without-parent",
        ),
        pytest.param(
            [*TREE[:2], "gso-2020,12019-01,Tổ 1,group,326,,"],
            [(4, "parent_code", "bad_parent_level")],
            id="group-under-district",
        ),
        pytest.param(
            [*TREE[:3], "gso-2020,327,Yên Mỹ,district,12019,,"],
            [(5, "parent_code", "bad_parent_level")],
            id="district-under-ward",
        ),
        pytest.param(
            ["gso-2020,33,Hưng Yên,province,,,", "nso-2025,326,Văn Giang,district,33,,"],
            [(3, "parent_code", "unknown_parent")],
            id="parent-in-another-scheme",
        ),
        pytest.param(
            ["gso-2020,33,Hưng Yên,province,,", "gso-2020,34,Thái Bình,province,,,,x"],
            [(2, "target_rate", "missing_fields"), (3, "target_rate", "extra_fields")],
            id="wrong-field-counts",
        ),
        pytest.param(
            ["gso-2020,1,A,ward,2,,", "gso-2020,2,B,ward,1,,"],
            [
                (2, "parent_code", "bad_parent_level"),
                (2, "parent_code", "cycle"),
                (3, "parent_code", "bad_parent_level"),
            ],
            id="cycle",
        ),
        pytest.param(
            ["gso-2020,1,A,ward,1,,"],
            [(2, "parent_code", "cycle")],
            id="own-parent",
        ),
    ],
)
def test_bad_rows_are_reported_with_line_and_column(lines, expected):
    assert rejected(csv_text(*lines)) == expected


def test_all_errors_are_collected_not_just_the_first():
    text = csv_text(
        "gso-2020,33,Hưng Yên,province,,abc,",
        "gso-2020,326,Văn Giang,district,99,,",
        "gso-2020,12019,,hamlet,326,,2",
    )
    assert rejected(text) == [
        (2, "adult_population", "not_a_number"),
        (3, "parent_code", "unknown_parent"),
        (4, "name", "required"),
        (4, "level", "bad_level"),
        (4, "target_rate", "out_of_range"),
    ]


def test_errors_stop_at_the_cap():
    lines = [f"gso-2020,{i},Unit {i},ward,nowhere,," for i in range(MAX_ERRORS + 50)]
    with pytest.raises(ImportRejected) as info:
        plan(csv_text(*lines))
    assert len(info.value.errors) == MAX_ERRORS
    assert info.value.truncated


def test_level_of_a_stored_unit_cannot_change():
    assert rejected(csv_text("gso-2020,12019,Văn Giang,district,33,,"), STORED_TREE) == [
        (2, "level", "level_changed")
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            "scheme,code,name,level,parent,adult_population,target_rate",
            [(1, "parent", "unknown_column"), (1, "parent_code", "missing_column")],
            id="renamed-column",
        ),
        pytest.param(
            "scheme,code,name,level,parent_code,adult_population",
            [(1, "target_rate", "missing_column")],
            id="missing-column",
        ),
        pytest.param(
            HEADER + ",notes",
            [(1, "notes", "unknown_column")],
            id="extra-column",
        ),
        pytest.param(
            HEADER + ",code",
            [(1, "code", "duplicate_column")],
            id="repeated-column",
        ),
        pytest.param(
            HEADER.replace(",", ";"),
            [(1, "scheme", "wrong_delimiter")],
            id="semicolons",
        ),
    ],
)
def test_header_must_have_exactly_the_columns(header, expected):
    with pytest.raises(ImportRejected) as info:
        parse_units_csv(csv_text("gso-2020,33,Hưng Yên,province,,,", header=header))
    assert [(e.line, e.column, e.code) for e in info.value.errors] == expected


def test_empty_file_is_rejected_on_line_1():
    with pytest.raises(ImportRejected) as info:
        parse_units_csv("")
    assert [(e.line, e.code) for e in info.value.errors] == [(1, "no_header")]


def test_header_only_is_an_empty_plan():
    assert plan(csv_text()).units == []


def test_a_quoted_field_spanning_lines_reports_its_first_line():
    text = csv_text('gso-2020,33,"Hưng\nYên",province,,,', "gso-2020,326,Văn Giang,district,99,,")
    assert rejected(text) == [(4, "parent_code", "unknown_parent")]


def test_unclosed_quote_is_not_csv():
    with pytest.raises(ImportRejected) as info:
        parse_units_csv(csv_text('gso-2020,33,"Hưng Yên,province,,,'))
    assert [e.code for e in info.value.errors] == ["not_csv"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(HEADER.encode() + b"\n", HEADER + "\n", id="plain"),
        pytest.param(b"\xef\xbb\xbf" + HEADER.encode(), HEADER, id="bom"),
    ],
)
def test_decode_accepts_utf8_with_or_without_bom(data, expected):
    assert decode_csv_bytes(data) == expected


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        pytest.param((HEADER + "\ngso-2020,33,Hưng Yên").encode("cp1258"), "not_utf8", 2),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\xa1\x8f", "not_utf8", 1, id="xlsx"),
        pytest.param(b"scheme\x00code\n", "not_csv", 1, id="nul-bytes"),
    ],
)
def test_decode_rejects_what_is_not_utf8_text(data, code, line):
    with pytest.raises(ImportRejected) as info:
        decode_csv_bytes(data)
    (error,) = info.value.errors
    assert (error.code, error.line, error.column) == (code, line, None)


def test_error_format_names_file_line_and_column():
    with pytest.raises(ImportRejected) as info:
        plan(csv_text("gso-2020,33,Hưng Yên,commune,,,"))
    (error,) = info.value.errors
    assert error.format("units.csv").startswith("units.csv:2: column level: ")


def test_empty_fields_beyond_the_header_are_ignored():
    (unit,) = plan(csv_text("gso-2020,33,Tỉnh Hưng Yên,province,,,,,")).units
    assert unit.code == "33"
