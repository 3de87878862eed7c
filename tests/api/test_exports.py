"""GET /api/v1/exports/* (docs/exports.md) and `field-server export`: what a district officer
downloads, read back the way Excel, openpyxl and sqlite3 would read it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from domain.exports import HOUSEHOLD_COLUMNS, OUTCOMES, REVIEW_STATES, UNIT_COLUMNS, VISIT_COLUMNS
from field_server.extensions import db
from field_server.models import AuditEntry
from tests.api.sync_helpers import WARD_A, WARD_B, WARD_C, Tablet, counts

DISTRICT = "gso-2020:326"
PROVINCE = "gso-2020:33"
TRICKY = {
    "=": '=HYPERLINK("http://x")',
    "+": "+84 hỏi",
    "-": "-1+1",
    "@": "@SUM(A1)",
    "\t": "\tthụt đầu dòng",
    "\r": "\rxuống dòng",
}


def download(client, headers, path: str, expect: int = 200, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/api/v1/exports/{path}?{query}", headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)[:500]
    return response


def read_csv(data: bytes, sep: str = ",") -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=sep))


@pytest.fixture
def canvassed(world, client):
    """Two wards of one district canvassed over two days, plus a household in ward A whose
    texts start with every formula character and one with a phone number."""
    a = Tablet(world, client, "cv.vg.001")
    b = Tablet(world, client, "cv.xq.001")
    h1 = a.household(head_name="Nguyễn Thị Hoà", phone="0912 345 789")
    v1 = a.visit(h1["id"], visited_at="2020-08-15T09:00:00+07:00", notes="Đã cài cho cả nhà")
    h2 = a.household(address="Số 5, ngõ 2")
    refused = counts(adults=2, smartphones=2, before=0, during=0)
    v2 = a.visit(h2["id"], outcome="refused", visited_at="2020-08-15T10:00:00+07:00", **refused)
    partial = counts(adults=2, smartphones=2, before=0, during=1)
    v3 = a.visit(h2["id"], outcome="partial", visited_at="2020-08-16T10:00:00+07:00", **partial)
    tricky = []
    for i, (start, text) in enumerate(TRICKY.items()):
        address = text if start not in "\t\r" else f"{start}Số {i}"  # addresses are stripped
        h = a.household(address=f"{address} {i}", head_name=text)
        tricky += [h, a.visit(h["id"], visited_at="2020-08-16T11:00:00+07:00", notes=text)]
    a.push([h1, v1, h2, v2, v3, *tricky])
    h3 = b.household(ward=WARD_B)
    none = dict.fromkeys(counts(), None)
    b.push(
        [h3, b.visit(h3["id"], outcome="not_home", visited_at="2020-08-16T08:00:00+07:00", **none)]
    )
    return a, b


def stats_children(client, headers, unit: str, to: str) -> dict[str, dict]:
    response = client.get(f"/api/v1/stats?unit={unit}&to={to}", headers=headers)
    assert response.status_code == 200
    return {c["unit"]["code"]: c for c in response.get_json()["children"]}


def number(text: str):
    if text == "":
        return None
    return float(text) if "." in text else int(text)


# --- units.csv ---------------------------------------------------------------------------


def test_units_csv_has_every_figure_of_stats_for_each_ward(world, client, canvassed):
    admin = world.headers(client, "dt.vangiang")
    rows = read_csv(download(client, admin, "units.csv", unit=DISTRICT, to="2020-08-20").data)
    assert list(rows[0]) == [c.name for c in UNIT_COLUMNS]
    children = stats_children(client, admin, DISTRICT, "2020-08-20")
    assert {r["ward_code"] for r in rows} == set(children) == {"12019", "12022"}
    for row in rows:
        child = children[row["ward_code"]]
        totals = child["totals"]
        assert row["ward_name"] == child["unit"]["name"]
        assert (row["district_code"], row["district_name"]) == ("326", "Huyện Văn Giang")
        assert (row["province_code"], row["province_name"]) == ("33", "Tỉnh Hưng Yên")
        assert row["scheme"] == "gso-2020"
        assert int(row["rank"]) == child["rank"]
        for name, value in totals.items():
            if name == "by_outcome":
                for outcome in OUTCOMES:
                    assert int(row[f"outcome_{outcome}"]) == value[outcome]
            elif name == "review":
                for state in REVIEW_STATES:
                    assert int(row[f"review_{state}"]) == value[state]
            else:
                assert number(row[name]) == value, name
    a = next(r for r in rows if r["ward_code"] == "12019")
    assert int(a["installed"]) > 0 and a["rank"] == "1"


def test_a_ward_gives_its_own_row_and_figures_follow_to(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    rows = read_csv(download(client, headers, "units.csv", unit=WARD_A, to="2020-08-15").data)
    assert len(rows) == 1 and rows[0]["ward_code"] == "12019"
    assert rows[0]["installed"] == "3"  # the install of the 16th does not count yet
    assert rows[0]["rank"] == "1"


def test_report_layout_is_the_provinces_daily_report(world, client, canvassed):
    headers = world.headers(client, "dt.vangiang")
    response = download(
        client, headers, "units.csv", unit=DISTRICT, to="2020-08-20", layout="report"
    )
    rows = read_csv(response.data)
    assert list(rows[0]) == [
        "ward_code",
        "ward_name",
        "installed",
        "pct_adult_population",
        "pct_smartphones",
        "rank",
        "gap_to_target",
    ]
    children = stats_children(client, headers, DISTRICT, "2020-08-20")
    assert [r["rank"] for r in rows] == ["1", "2"]  # ordered by rank
    for row in rows:
        totals = children[row["ward_code"]]["totals"]
        assert int(row["installed"]) == totals["installed"]
        assert float(row["pct_adult_population"]) == round(totals["coverage"] * 100, 2)
        smart = totals["coverage_of_smartphones"]
        assert row["pct_smartphones"] == ("" if smart is None else str(round(smart * 100, 2)))
        assert int(row["gap_to_target"]) == totals["gap_to_target"]
    assert "report" in response.headers["Content-Disposition"]


def test_lang_vi_semicolon_and_no_bom(world, client, canvassed):
    headers = world.headers(client, "admin")
    data = download(
        client, headers, "units.csv", unit=DISTRICT, lang="vi", sep="semicolon", bom=0
    ).data
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    assert "\r\n" in text
    head = next(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert head[:7] == ["Hệ mã", "Mã tỉnh", "Tên tỉnh", "Mã huyện", "Tên huyện", "Mã xã", "Tên xã"]
    assert head[-1] == "Xếp thứ"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1:]
    assert {r[5] for r in rows} == {"12019", "12022"}


def test_semicolon_writes_decimals_with_a_comma(world, client, canvassed):
    """sep=semicolon is for Excel with Vietnamese regional settings, whose decimal mark is
    a comma: it would read 72.63 wrong."""
    headers = world.headers(client, "admin")
    data = download(client, headers, "units.csv", unit=DISTRICT, to="2020-08-20", sep="semicolon")
    rows = read_csv(data.data, sep=";")
    ward = next(r for r in rows if r["ward_code"] == "12019")
    totals = stats_children(client, headers, DISTRICT, "2020-08-20")["12019"]["totals"]
    assert ward["target_rate"] == "0,6"
    for name in ("coverage", "coverage_of_counted", "coverage_of_smartphones"):
        assert "." not in ward[name] and float(ward[name].replace(",", ".")) == totals[name]
    assert ward["adult_population"] == "9000"  # integers as they are
    assert int(ward["installed"]) == totals["installed"]
    report = read_csv(
        download(
            client, headers, "units.csv", unit=DISTRICT, to="2020-08-20", layout="report",
            sep="semicolon",
        ).data,
        sep=";",
    )  # fmt: skip
    assert [r["pct_adult_population"] for r in report] == ["0,24", "0,0"]
    visits = read_csv(
        download(client, headers, "visits.csv", unit=WARD_A, sep="semicolon").data, ";"
    )
    first = next(r for r in visits if r["notes"] == "Đã cài cho cả nhà")
    assert (first["lat"], first["lon"], first["adults"]) == ("20,9501", "105,9402", "4")
    households = read_csv(
        download(client, headers, "households.csv", unit=WARD_A, sep="semicolon").data, ";"
    )
    assert all("," in r["lat"] and "." not in r["lat"] for r in households if r["lat"])
    # the default comma separator keeps the dot
    comma = read_csv(download(client, headers, "units.csv", unit=DISTRICT, to="2020-08-20").data)
    assert next(r for r in comma if r["ward_code"] == "12019")["target_rate"] == "0.6"


# --- visits.csv and households.csv ---------------------------------------------------------


def test_visits_csv_one_row_per_visit_with_codes_names_and_canvasser(world, client, canvassed):
    headers = world.headers(client, "dt.vangiang")
    response = download(client, headers, "visits.csv", unit=DISTRICT)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response.data)
    assert list(rows[0]) == [c.name for c in VISIT_COLUMNS]
    assert len(rows) == 3 + len(TRICKY) + 1
    by_ward = {r["ward_code"]: r for r in rows}
    assert by_ward["12022"]["ward_name"] == "Xã Xuân Quan"
    assert by_ward["12022"]["canvasser"] == "cv.xq.001"
    assert by_ward["12022"]["adults"] == ""  # no counts: empty, not 0
    first = next(r for r in rows if r["notes"] == "Đã cài cho cả nhà")
    assert first["visited_at"] == "2020-08-15T02:00:00Z"
    assert first["canvasser"] == "cv.vg.001"
    assert (first["outcome"], first["adults"], first["installed_during"]) == ("installed", "4", "2")
    assert first["review_status"] == "pending" and first["voided"] == "false"
    assert first["lat"] == "20.9501"
    # the same visit as GET /api/v1/visits/{id} shows it
    shown = client.get(f"/api/v1/visits/{first['id']}", headers=headers).get_json()
    for name in ("household_id", "visited_at", "outcome", "device_id", "received_at", "version"):
        assert first[name] == str(shown[name]), name


def test_visits_filters(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    day_one = read_csv(download(client, headers, "visits.csv", unit=WARD_A, to="2020-08-15").data)
    assert len(day_one) == 2
    later = read_csv(
        download(client, headers, "visits.csv", unit=WARD_A, **{"from": "2020-08-16"}).data
    )
    assert len(later) == 1 + len(TRICKY)
    approved = download(client, headers, "visits.csv", unit=WARD_A, review_status="approved")
    assert read_csv(approved.data) == []
    assert approved.data.decode("utf-8-sig").startswith("id,version,household_id")


def test_formula_cells_come_out_prefixed_in_csv(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    visits = read_csv(download(client, headers, "visits.csv", unit=WARD_A).data)
    notes = {r["notes"] for r in visits}
    for text in TRICKY.values():
        assert "'" + text in notes, repr(text)
    households = read_csv(download(client, headers, "households.csv", unit=WARD_A).data)
    names = {r["head_name"] for r in households}
    for text in TRICKY.values():
        assert "'" + text in names, repr(text)
    addresses = {r["address"] for r in households}
    assert '\'=HYPERLINK("http://x") 0' in addresses and "'-1+1 2" in addresses
    # numbers are numbers, never prefixed
    assert all(not r["adults"].startswith("'") for r in households)


def test_households_csv_masks_phones_for_all_but_admin(world, client, canvassed):
    for username, expected in [
        ("sv.vangiang", "*******789"),
        ("dt.vangiang", "*******789"),
        ("admin", "0912 345 789"),
    ]:
        headers = world.headers(client, username)
        rows = read_csv(download(client, headers, "households.csv", unit=WARD_A).data)
        assert list(rows[0]) == [c.name for c in HOUSEHOLD_COLUMNS]
        assert len(rows) == 2 + len(TRICKY)
        hoa = next(r for r in rows if r["head_name"] == "Nguyễn Thị Hoà")
        assert hoa["phone"] == expected, username
        assert (hoa["ward_code"], hoa["ward_name"]) == ("12019", "Thị trấn Văn Giang")
        assert (hoa["adults"], hoa["installed"]) == ("4", "3")


def test_csv_is_utf8_with_bom_that_excel_reads_as_vietnamese(world, client, canvassed):
    data = download(client, world.headers(client, "admin"), "households.csv", unit=WARD_A).data
    assert data[:3] == b"\xef\xbb\xbf"
    assert "Thị trấn Văn Giang".encode() in data
    assert data.decode("utf-8-sig").split("\r\n", 1)[0].startswith("id,version,ward_code")


def test_content_disposition_says_unit_and_date(world, client, canvassed):
    response = download(
        client, world.headers(client, "admin"), "visits.csv", unit=WARD_A, to="2020-08-20"
    )
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="visits_gso-2020_12019_Thi-tran-Van-Giang_2020-08-20.csv"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "visits_gso-2020_12019_Thị-trấn-Văn-Giang_2020-08-20.csv"
    disposition.encode("ascii")  # the header itself stays ASCII


# --- xlsx and snapshot ----------------------------------------------------------------------


def open_xlsx(data: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_xlsx_holds_the_same_values_with_the_guard(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    response = download(client, headers, "households.xlsx", unit=WARD_A)
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response.headers["Content-Disposition"].count(".xlsx") == 2
    sheet = open_xlsx(response.data)
    csv_rows = read_csv(download(client, headers, "households.csv", unit=WARD_A).data)
    assert sheet[0] == [c.name for c in HOUSEHOLD_COLUMNS]
    assert len(sheet) - 1 == len(csv_rows)
    names = {row[9] for row in sheet[1:]}
    for text in TRICKY.values():
        # XML reads a carriage return back as a line feed; the apostrophe is what matters
        assert ("'" + text).replace("\r", "\n") in names, repr(text)
    hoa = next(row for row in sheet[1:] if row[9] == "Nguyễn Thị Hoà")
    assert hoa[10] == "*******789"
    assert hoa[11] == 4 and isinstance(hoa[11], int)  # numbers stay numbers
    units = open_xlsx(download(client, headers, "units.xlsx", unit=WARD_A, lang="vi").data)
    assert units[0][-1] == "Xếp thứ" and units[1][5] == "12019"
    visits = open_xlsx(download(client, headers, "visits.xlsx", unit=WARD_A).data)
    assert len(visits) == 1 + 3 + len(TRICKY)


def test_snapshot_sqlite_has_typed_indexed_tables_and_metadata(world, client, canvassed, tmp_path):
    headers = world.headers(client, "dt.vangiang")
    response = download(client, headers, "snapshot.sqlite", unit=DISTRICT)
    assert response.headers["Content-Type"] == "application/vnd.sqlite3"
    path = tmp_path / "snapshot.sqlite"
    path.write_bytes(response.data)
    con = sqlite3.connect(path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"units", "visits", "households", "metadata"} <= tables
    types = {r[1]: r[2] for r in con.execute("PRAGMA table_info(visits)")}
    assert types["adults"] == "INTEGER" and types["lat"] == "REAL"
    assert types["notes"] == "TEXT" and types["voided"] == "INTEGER"
    unit_types = {r[1]: r[2] for r in con.execute("PRAGMA table_info(units)")}
    assert unit_types["installed"] == "INTEGER" and unit_types["coverage"] == "REAL"
    indexes = {r[1] for r in con.execute("PRAGMA index_list(visits)")}
    assert any("ward_code" in name for name in indexes)
    assert any("household_id" in name for name in indexes)
    # counts equal the API's
    children = stats_children(client, headers, DISTRICT, "2099-12-31")
    assert con.execute("SELECT count(*) FROM visits").fetchone()[0] == sum(
        c["totals"]["visits"] for c in children.values()
    )
    assert con.execute("SELECT count(*) FROM households").fetchone()[0] == sum(
        c["totals"]["households"] for c in children.values()
    )
    for code, installed in con.execute("SELECT ward_code, installed FROM units"):
        assert installed == children[code]["totals"]["installed"]
    # raw values in the database: no spreadsheet guard, phones masked for a district officer
    assert con.execute("SELECT phone FROM households WHERE phone IS NOT NULL").fetchone() == (
        "*******789",
    )
    assert con.execute(
        "SELECT count(*) FROM visits WHERE notes = '=HYPERLINK(\"http://x\")'"
    ).fetchone() == (1,)
    meta = dict(con.execute("SELECT key, value FROM metadata"))
    assert meta["kind"] == "snapshot" and meta["unit"] == DISTRICT
    assert meta["exported_by"] == "dt.vangiang"
    assert json.loads(meta["row_counts"])["visits"] == 3 + len(TRICKY) + 1
    assert meta["exported_at"].endswith("Z")
    con.close()


# --- roles, scope, errors, audit ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["units.csv", "visits.csv", "households.xlsx", "snapshot.sqlite"])
def test_canvasser_is_forbidden(world, client, path):
    headers = world.headers(client, "cv.vg.001")
    body = download(client, headers, path, expect=403, unit=WARD_A).get_json()
    assert body["code"] == "forbidden"


def test_out_of_scope_units_are_not_found(world, client):
    cases = [
        ("sv.vangiang", WARD_B),
        ("sv.vangiang", DISTRICT),
        ("dt.vangiang", WARD_C),
        ("dt.vangiang", PROVINCE),
        ("admin", "gso-2020:99999"),
    ]
    for username, unit in cases:
        headers = world.headers(client, username)
        for path in ("units.csv", "visits.csv", "households.csv", "snapshot.sqlite"):
            body = download(client, headers, path, expect=404, unit=unit).get_json()
            assert body["code"] == "not_found", (username, unit, path)


def test_district_officer_reads_each_ward_of_the_district(world, client):
    headers = world.headers(client, "dt.vangiang")
    for unit in (WARD_A, WARD_B, DISTRICT):
        download(client, headers, "visits.csv", unit=unit)


@pytest.mark.parametrize(
    "path, params",
    [
        ("units.csv", {}),
        ("units.csv", {"unit": "nonsense"}),
        ("units.csv", {"unit": WARD_A, "layout": "fancy"}),
        ("units.csv", {"unit": WARD_A, "bom": "2"}),
        ("units.csv", {"unit": WARD_A, "sep": "tab"}),
        ("units.csv", {"unit": WARD_A, "lang": "fr"}),
        ("units.csv", {"unit": WARD_A, "to": "yesterday"}),
        ("units.csv", {"unit": WARD_A, "from": "2020-08-01"}),
        ("units.csv", {"unit": "gso-2020:12019-01"}),
        ("visits.csv", {"unit": WARD_A, "from": "2020-08-20", "to": "2020-08-10"}),
        ("visits.csv", {"unit": WARD_A, "review_status": "maybe"}),
        ("visits.csv", {"unit": WARD_A, "review_staus": "approved"}),
        ("households.xlsx", {"unit": WARD_A, "bom": "0"}),
        ("snapshot.sqlite", {"unit": WARD_A, "lang": "vi"}),
    ],
)
def test_bad_parameters_are_validation_failed(world, client, path, params):
    body = download(client, world.headers(client, "admin"), path, expect=422, **params).get_json()
    assert body["code"] == "validation_failed"
    assert body["errors"]


def test_each_export_writes_one_audit_row(world, client, canvassed):
    headers = world.headers(client, "dt.vangiang")
    download(client, headers, "visits.csv", unit=WARD_A, review_status="pending", to="2020-08-20")
    download(client, headers, "units.xlsx", unit=DISTRICT)
    with world.app.app_context():
        rows = list(
            db.session.execute(
                select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)
            ).scalars()
        )
    assert [(r.actor, r.target) for r in rows] == [
        ("dt.vangiang", WARD_A),
        ("dt.vangiang", DISTRICT),
    ]
    first, second = (json.loads(r.details) for r in rows)
    assert first == {
        "kind": "visits",
        "format": "csv",
        "unit": WARD_A,
        "filters": {"to": "2020-08-20", "review_status": "pending"},
        "phones": "masked",
    }
    assert second["kind"] == "units" and second["rows"] == 2 and second["format"] == "xlsx"
    assert rows[0].client_address


def test_the_api_and_the_cli_leave_the_same_audit_row(world, client, runner, canvassed, tmp_path):
    """The same export from the API and from `field-server export`: the same action,
    target and details; only the actor (and the address) differ."""
    admin = world.headers(client, "admin")
    cases = [
        ("visits.csv", {"unit": WARD_A, "to": "2020-08-20", "review_status": "pending"},
         ["visits", "--unit", WARD_A, "--to", "2020-08-20", "--review-status", "pending"]),
        ("units.xlsx", {"unit": DISTRICT, "to": "2020-08-20", "layout": "report"},
         ["units", "--unit", DISTRICT, "--to", "2020-08-20", "--layout", "report",
          "--format", "xlsx"]),
        ("households.csv", {"unit": WARD_A}, ["households", "--unit", WARD_A]),
        ("snapshot.sqlite", {"unit": DISTRICT}, ["snapshot", "--unit", DISTRICT]),
    ]  # fmt: skip
    for path, params, args in cases:
        download(client, admin, path, **params)
        result = runner.invoke(args=["export", *args, "-o", str(tmp_path / path)])
        assert result.exit_code == 0, result.output
    with world.app.app_context():
        rows = list(
            db.session.execute(
                select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)
            ).scalars()
        )
    assert len(rows) == 2 * len(cases)
    for api, cli in zip(rows[::2], rows[1::2], strict=True):
        assert (api.action, api.target) == (cli.action, cli.target)
        assert json.loads(api.details) == json.loads(cli.details)
        assert api.actor == "admin" and cli.actor.startswith("cli")
    details = [json.loads(r.details) for r in rows[::2]]
    assert details[1]["filters"] == {"to": "2020-08-20", "layout": "report"}
    assert details[3]["rows"] == 2 + 3 + len(TRICKY) + 1 + 3 + len(TRICKY)


def test_empty_ward_exports_a_header_only(world, client):
    headers = world.headers(client, "sv.hiennam")
    data = download(client, headers, "visits.csv", unit=WARD_C).data
    assert data.decode("utf-8-sig") == ",".join(c.name for c in VISIT_COLUMNS) + "\r\n"
    units = read_csv(download(client, headers, "units.csv", unit=WARD_C).data)
    assert units[0]["installed"] == "0" and units[0]["coverage"] == "0.0"


# --- field-server export ------------------------------------------------------------------------


def test_cli_csv_is_the_same_bytes_as_the_api(world, client, runner, canvassed):
    admin = world.headers(client, "admin")
    for kind, params, args in [
        ("households", {"unit": WARD_A}, []),
        ("visits", {"unit": DISTRICT, "to": "2020-08-15"}, ["--to", "2020-08-15"]),
        (
            "units",
            {"unit": DISTRICT, "layout": "report", "lang": "vi", "sep": "semicolon"},
            ["--layout", "report", "--lang", "vi", "--sep", "semicolon"],
        ),
    ]:
        api = download(client, admin, f"{kind}.csv", **params).data
        result = runner.invoke(args=["export", kind, "--unit", params["unit"], *args])
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes == api, kind


def test_cli_writes_a_file_with_a_progress_bar_and_an_audit_row(world, runner, canvassed, tmp_path):
    target = tmp_path / "visits.csv"
    result = runner.invoke(
        args=["export", "visits", "--unit", WARD_A, "--no-bom", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "Exporting rows" in result.stderr
    assert result.stdout == ""
    data = target.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert len(list(csv.DictReader(io.StringIO(data.decode(), newline="")))) == 3 + len(TRICKY)
    with world.app.app_context():
        entry = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "export")
        ).scalar_one()
    assert entry.actor.startswith("cli") and entry.target == WARD_A
    assert json.loads(entry.details)["phones"] == "clear"


def test_cli_snapshot_and_xlsx_with_masked_phones(world, runner, canvassed, tmp_path):
    target = tmp_path / "snap.sqlite"
    result = runner.invoke(
        args=["export", "snapshot", "--unit", DISTRICT, "--mask-phones", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(target)
    assert con.execute("SELECT phone FROM households WHERE phone IS NOT NULL").fetchone() == (
        "*******789",
    )
    assert con.execute("SELECT count(*) FROM visits").fetchone() == (3 + len(TRICKY) + 1,)
    con.close()
    book = tmp_path / "households.xlsx"
    result = runner.invoke(
        args=["export", "households", "--unit", WARD_A, "--format", "xlsx", "-o", str(book)]
    )
    assert result.exit_code == 0, result.output
    rows = open_xlsx(book.read_bytes())
    assert "0912 345 789" in {row[10] for row in rows[1:]}


@pytest.mark.parametrize(
    "args, message",
    [
        (["units", "--unit", "gso-2020:99999"], "no unit gso-2020:99999"),
        (["visits", "--unit", WARD_A, "--from", "2020-08-20", "--to", "2020-08-01"], "from"),
        (["visits", "--unit", WARD_A, "--to", "someday"], "to"),
        (["units", "--unit", "gso-2020:12019-01"], "choose a ward"),
        (["households", "--unit", WARD_A, "--format", "xlsx", "--sep", "semicolon"], "CSV only"),
    ],
)
def test_cli_refuses_bad_options(world, runner, args, message):
    result = runner.invoke(args=["export", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_csv_streams_and_built_files_are_deleted(world, client, canvassed, monkeypatch, caplog):
    import glob
    import logging
    import tempfile

    from field_server.store import exports as export_store

    monkeypatch.setattr(export_store, "PROGRESS_EVERY", 2)
    headers = world.headers(client, "admin")
    with caplog.at_level(logging.INFO, logger="field_server.exports"):
        response = client.get(f"/api/v1/exports/visits.csv?unit={WARD_A}", headers=headers)
        assert response.is_streamed
        assert len(read_csv(response.data)) == 3 + len(TRICKY)
    progress = [r.getMessage() for r in caplog.records if r.name == "field_server.exports"]
    assert "export visits of gso-2020:12019: 2 rows written" in progress
    assert progress[-1] == f"export visits of gso-2020:12019: done, {3 + len(TRICKY)} rows"
    pattern = f"{tempfile.gettempdir()}/field-export-*"
    before = set(glob.glob(pattern))
    for path in ("visits.xlsx", "snapshot.sqlite"):
        download(client, headers, path, unit=WARD_A)
    assert set(glob.glob(pattern)) <= before


def reference_visits_csv(world, params: dict) -> list[str]:
    """visits.csv as docs/exports.md describes it, written in Python from the stored visits
    (guard, RFC 3339 times, Python's floats, flags joined with |): the lines the database's
    rendering must give, byte for byte, on either backend (the row order may differ)."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from field_server.models import Unit, User, Visit

    sep = ";" if params.get("sep") == "semicolon" else ","
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    with world.app.app_context():
        units = {u.id: u for u in db.session.execute(select(Unit)).scalars()}
        users = {u.id: u.username for u in db.session.execute(select(User)).scalars()}
        visits = list(db.session.execute(select(Visit)).scalars())
        root = next(u for u in units.values() if u.ref == params["unit"])
        root_id, root_level, root_path = root.id, root.level, root.path
        wards = {u.id: (u.code, u.name, u.path) for u in units.values()}
        rows = []
        for v in visits:
            code, name, path = wards[v.ward_id]
            if root_level == "group" and v.group_id != root_id:
                continue
            if not path.startswith(root_path):
                continue
            day = v.visited_at.astimezone(zone).date()
            if "from" in params and day < date.fromisoformat(params["from"]):
                continue
            if "to" in params and day > date.fromisoformat(params["to"]):
                continue
            if params.get("review_status", v.review_status) != v.review_status:
                continue
            group = wards.get(v.group_id, (None, None, None))
            rows.append(
                [
                    v.id,
                    v.version,
                    v.household_id,
                    _utc(v.visited_at),
                    v.outcome,
                    v.adults,
                    v.smartphones,
                    v.installed_before,
                    v.installed_during,
                    v.priority_subjects,
                    v.priority_installed,
                    *(_real(x, sep) for x in (v.lat, v.lon, v.accuracy_m)),
                    _guard(v.notes),
                    _utc(v.come_back_at),
                    _guard(code),
                    _guard(name),
                    _guard(group[0]),
                    _guard(group[1]),
                    _guard(users[v.canvasser_id]),
                    v.device_id,
                    v.review_status,
                    _guard(v.review_comment),
                    "|".join(json.loads(v.flags)),
                    "true" if v.voided else "false",
                    _utc(v.received_at),
                ]
            )
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().split("\r\n")[:-1]


def _guard(value):
    return "'" + value if value and value[0] in TRICKY else value


def _utc(value):
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _real(value, sep):
    return None if value is None else repr(value).replace(".", "," if sep == ";" else ".")


def test_the_databases_visits_csv_is_the_documented_text(world, client, canvassed):
    """The database renders every cell of visits.csv (COPY on PostgreSQL, csv.writer over a
    plain cursor on SQLite): the lines must equal the documented rendering, written in
    Python from the stored visits, byte for byte (the row order may differ: sorted)."""
    a, _ = canvassed
    odd = a.household(address="Số 9")
    a.push(
        [
            odd,
            a.visit(
                odd["id"],
                visited_at="2020-08-17T23:59:59+07:00",
                notes='Nhà "số 5", ngõ 2; cạnh chợ\nhai dòng\r\nba',
                lat=20.950123456789012,
                accuracy_m=None,
                outcome="come_back",
                come_back_at="2020-08-18T17:00:00+07:00",
                **dict.fromkeys(counts(), None),
            ),
            # floats whose shortest text differs between PostgreSQL and Python unless
            # written with care: a whole number, the 1e15 decade, a tiny one
            a.visit(odd["id"], visited_at="2020-08-17T08:00:00+07:00", lat=-12.0, lon=1e-05,
                    accuracy_m=1234567890123456.8, notes=""),
            a.visit(odd["id"], visited_at="2020-08-17T08:30:00+07:00", lat=0.0, lon=-0.5,
                    accuracy_m=1e15, notes="a,b"),
        ]
    )  # fmt: skip
    headers = world.headers(client, "admin")
    visit_id = read_csv(download(client, headers, "visits.csv", unit=WARD_A).data)[0]["id"]
    review = client.post(
        f"/api/v1/visits/{visit_id}/review",
        json={"action": "reject", "comment": '=sai; "bịa"'},
        headers=headers,
    )
    assert review.status_code == 200, review.get_json()
    cases = [
        {"unit": DISTRICT},
        {"unit": WARD_A, "sep": "semicolon", "lang": "vi", "bom": 0},
        {"unit": WARD_A, "from": "2020-08-16", "to": "2020-08-17"},
        {"unit": DISTRICT, "review_status": "rejected"},
        {"unit": "gso-2020:12019-01"},
        {"unit": WARD_C},
        {"unit": PROVINCE},
    ]
    for params in cases:
        text = download(client, headers, "visits.csv", **params).data.decode("utf-8")
        head, *lines = text.removeprefix("\ufeff").split("\r\n")
        sep = ";" if params.get("sep") == "semicolon" else ","
        names = [c.vi if params.get("lang") == "vi" else c.name for c in VISIT_COLUMNS]
        assert head == sep.join(names)
        assert text.startswith("\ufeff") is (params.get("bom") != 0)
        assert lines[-1] == ""  # every line ends with CRLF
        expected = reference_visits_csv(world, params)
        assert sorted(lines[:-1]) == sorted(expected), params
    every = read_csv(download(client, headers, "visits.csv", unit=DISTRICT).data)
    assert len(every) == 3 + len(TRICKY) + 1 + 3
    rejected = read_csv(
        download(client, headers, "visits.csv", unit=WARD_A, review_status="rejected").data
    )
    assert [r["review_comment"] for r in rejected] == ['\'=sai; "bịa"']
    rows = read_csv(download(client, headers, "visits.csv", unit=WARD_A).data)
    odd_row = next(r for r in rows if r["outcome"] == "come_back")
    assert odd_row["notes"] == 'Nhà "số 5", ngõ 2; cạnh chợ\nhai dòng\r\nba'
    assert float(odd_row["lat"]) == pytest.approx(20.950123456789012)
    assert odd_row["accuracy_m"] == ""
    assert odd_row["come_back_at"] == "2020-08-18T10:00:00Z"
    wide = next(r for r in rows if r["lon"] == "1e-05")
    assert (wide["lat"], wide["accuracy_m"], wide["notes"]) == ("-12.0", "1234567890123456.8", "")
    assert next(r for r in rows if r["notes"] == "a,b")["accuracy_m"] == "1000000000000000.0"


@pytest.mark.parametrize(
    "phone, masked",
    [
        ("0912345789", "*******789"),
        ("+84 912 345 789", "********789"),
        ("(024) 3826-1234", "********234"),
        ("789", "***"),
        ("12", "**"),
        ("", ""),
        (None, ""),
    ],
)
def test_phones_are_masked_by_the_database(world, client, phone, masked):
    """Every digit but the last three becomes *, spaces + - . ( ) are dropped; admins get
    the number as stored, guarded when it starts like a formula (+84 ...)."""
    a = Tablet(world, client, "cv.vg.001")
    a.push([a.household(phone=phone, head_name="Chủ hộ")])
    for username, expected in [("sv.vangiang", masked), ("admin", _guard(phone) or "")]:
        headers = world.headers(client, username)
        (row,) = read_csv(download(client, headers, "households.csv", unit=WARD_A).data)
        assert row["phone"] == expected, username
        sheet = open_xlsx(download(client, headers, "households.xlsx", unit=WARD_A).data)
        cells = [*sheet[1], *[None] * 16]  # a row may end at its last filled cell
        assert (cells[10] or "") == expected, username
