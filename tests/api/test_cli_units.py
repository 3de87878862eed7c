"""`field-server units import` and `units list` through the CLI runner, on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

HEADER = "scheme,code,name,level,parent_code,adult_population,target_rate"
BASE = [
    "gso-2020,33,Tỉnh Hưng Yên,province,,,",
    "gso-2020,326,Huyện Văn Giang,district,33,,",
    "gso-2020,327,Huyện Yên Mỹ,district,33,,",
    "gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,",
    "gso-2020,12022,Xã Xuân Quan,ward,326,7400,0.7",
    "gso-2020,12019-01,Tổ dân phố 1,group,12019,,",
    "gso-2020,12019-02,Tổ dân phố 2,group,12019,,",
]


def write_csv(tmp_path: Path, lines: list[str], name: str = "units.csv", **kw: Any) -> Path:
    path = tmp_path / name
    text = "\n".join([kw.get("header", HEADER), *lines]) + "\n"
    path.write_bytes(kw.get("prefix", b"") + text.encode(kw.get("encoding", "utf-8")))
    return path


def run_import(runner: Any, path: Path, *extra: str) -> Any:
    return runner.invoke(args=["units", "import", str(path), *extra])


def dump(app: Any) -> list[tuple]:
    """Every column of every unit, and how many audit rows: "the database as it was"."""
    from field_server.extensions import db
    from field_server.models import AuditEntry, Unit

    with app.app_context():
        columns = list(Unit.__table__.columns)
        rows = [tuple(r) for r in db.session.execute(select(*columns).order_by(Unit.id))]
        audits = db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        db.session.rollback()
    return [*rows, ("audit rows", audits)]


def units_by_code(app: Any) -> dict[str, Any]:
    from field_server.extensions import db
    from field_server.models import Unit

    with app.app_context():
        units = db.session.execute(select(Unit)).scalars().all()
        result = {u.code: u for u in units}
        for unit in units:
            db.session.expunge(unit)
    return result


def test_import_creates_the_tree_with_paths_and_defaults(app, runner, tmp_path):
    result = run_import(runner, write_csv(tmp_path, BASE))
    assert result.exit_code == 0, result.output
    assert "7 created, 0 updated, 0 unchanged" in result.output
    units = units_by_code(app)
    province, district, ward = units["33"], units["326"], units["12019"]
    assert province.parent_id is None and province.path == f"/{province.id}/"
    assert district.parent_id == province.id
    assert ward.path == f"/{province.id}/{district.id}/{ward.id}/"
    assert units["12019-01"].path == f"{ward.path}{units['12019-01'].id}/"
    assert ward.adult_population == 9200
    assert ward.target_rate == pytest.approx(app.config["TARGET_RATE"])  # the campaign's
    assert units["12022"].target_rate == pytest.approx(0.7)
    assert district.target_rate is None and district.adult_population is None
    assert {u.version for u in units.values()} == {1}


def test_import_twice_changes_nothing(app, runner, tmp_path):
    path = write_csv(tmp_path, BASE)
    assert run_import(runner, path).exit_code == 0
    before = dump(app)
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 7 unchanged" in result.output
    assert dump(app) == before


def test_parents_may_come_after_their_children(app, runner, tmp_path):
    result = run_import(runner, write_csv(tmp_path, list(reversed(BASE))))
    assert result.exit_code == 0, result.output
    units = units_by_code(app)
    group, ward = units["12019-01"], units["12019"]
    assert group.parent_id == ward.id
    assert group.path.startswith(ward.path) and ward.path.startswith(units["326"].path)


def test_update_of_names_and_populations_bumps_only_changed_units(app, runner, tmp_path):
    assert run_import(runner, write_csv(tmp_path, BASE)).exit_code == 0
    before = units_by_code(app)
    changed = [
        line.replace("Xã Xuân Quan", "Xã Xuân Quan (mới)")
        .replace("9200", "9500")
        .replace(",7400,0.7", ",,")  # empty figures keep what is stored
        for line in BASE
    ]
    result = run_import(runner, write_csv(tmp_path, changed, name="v2.csv"))
    assert result.exit_code == 0, result.output
    assert "0 created, 2 updated, 5 unchanged" in result.output
    after = units_by_code(app)
    assert after["12022"].name == "Xã Xuân Quan (mới)"
    assert (after["12022"].adult_population, after["12022"].target_rate) == (7400, 0.7)
    assert after["12019"].adult_population == 9500
    for code, unit in after.items():
        bumped = code in ("12019", "12022")
        assert unit.version == before[code].version + (1 if bumped else 0), code
        assert (unit.updated_at > before[code].updated_at) == bumped, code
        assert unit.path == before[code].path


def test_moving_a_ward_rewrites_the_paths_of_its_subtree(app, runner, tmp_path):
    assert run_import(runner, write_csv(tmp_path, BASE)).exit_code == 0
    moved = [line.replace("ward,326,9200", "ward,327,9200") for line in BASE]
    result = run_import(runner, write_csv(tmp_path, moved, name="moved.csv"))
    assert result.exit_code == 0, result.output
    assert "0 created, 1 updated, 6 unchanged" in result.output
    units = units_by_code(app)
    ward, new_district = units["12019"], units["327"]
    assert ward.parent_id == new_district.id
    assert ward.path == f"{new_district.path}{ward.id}/"
    for group in ("12019-01", "12019-02"):
        assert units[group].path == f"{ward.path}{units[group].id}/"
        assert units[group].version == 1  # their own values did not change
    assert units["12022"].path.startswith(units["326"].path)


def test_a_new_file_may_add_children_under_stored_units(app, runner, tmp_path):
    assert run_import(runner, write_csv(tmp_path, BASE)).exit_code == 0
    extra = ["gso-2020,12022-01,Thôn 1,group,12022,,"]
    result = run_import(runner, write_csv(tmp_path, extra, name="more.csv"))
    assert result.exit_code == 0, result.output
    assert "1 created, 0 updated, 0 unchanged" in result.output
    units = units_by_code(app)
    assert units["12022-01"].path == f"{units['12022'].path}{units['12022-01'].id}/"


BAD_FILES = [
    pytest.param(
        [*BASE, "gso-2020,12025,Xã Cửu Cao,ward,999,,"], 9, "parent_code", id="unknown-parent"
    ),
    pytest.param([*BASE, "gso-2020,12025,Xã Cửu Cao,xa,326,,"], 9, "level", id="bad-level"),
    pytest.param(
        [*BASE, "gso-2020,12019,Thị trấn Văn Giang,ward,326,,"], 9, "code", id="duplicate-code"
    ),
    pytest.param(
        [*BASE, "gso-2020,12025,Xã Cửu Cao,ward,326,8.100,"],
        9,
        "adult_population",
        id="non-numeric-population",
    ),
    pytest.param(
        [*BASE, "gso-2020,12025,Xã Cửu Cao,ward,326,,1.5"], 9, "target_rate", id="bad-rate"
    ),
]


@pytest.mark.parametrize(("lines", "line", "column"), BAD_FILES)
def test_bad_input_exits_1_names_line_and_column_and_leaves_the_database(
    app, runner, tmp_path, lines, line, column
):
    assert run_import(runner, write_csv(tmp_path, BASE, name="base.csv")).exit_code == 0
    # The bad file also renames a stored unit: none of it may be written.
    lines = [lines[0].replace("Tỉnh Hưng Yên", "Renamed"), *lines[1:]]
    before = dump(app)
    path = write_csv(tmp_path, lines, name="bad.csv")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert f"{path}:{line}: column {column}: " in result.stderr
    assert "nothing was imported" in result.stderr
    assert dump(app) == before


def test_wrong_columns_are_reported_on_line_1(app, runner, tmp_path):
    before = dump(app)
    header = HEADER.replace("parent_code", "parent") + ",notes"
    path = write_csv(tmp_path, [line + "," for line in BASE], header=header)
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert f"{path}:1: column parent: unknown column" in result.stderr
    assert f"{path}:1: column notes: unknown column" in result.stderr
    assert f"{path}:1: column parent_code: missing column" in result.stderr
    assert dump(app) == before


def test_every_error_is_listed(app, runner, tmp_path):
    lines = [
        *BASE,
        "gso-2020,12025,Xã Cửu Cao,ward,999,,",
        "gso-2020,12028,Xã Phụng Công,village,326,,",
        "gso-2020,12031,Xã Nghĩa Trụ,ward,326,many,",
    ]
    path = write_csv(tmp_path, lines)
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert [ln.split(": ")[0:2] for ln in result.stderr.splitlines()[:3]] == [
        [f"{path}:9", "column parent_code"],
        [f"{path}:10", "column level"],
        [f"{path}:11", "column adult_population"],
    ]
    assert dump(app) == [("audit rows", 0)]


def test_excel_bom_is_accepted(app, runner, tmp_path):
    result = run_import(runner, write_csv(tmp_path, BASE, prefix=b"\xef\xbb\xbf"))
    assert result.exit_code == 0, result.output
    assert "7 created" in result.output


def test_a_file_that_is_not_utf8_gets_a_clear_message(app, runner, tmp_path):
    path = write_csv(tmp_path, BASE, encoding="utf-16")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert f"{path}:1: the file is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.output
    assert dump(app) == [("audit rows", 0)]


def test_a_spreadsheet_is_not_csv(app, runner, tmp_path):
    path = tmp_path / "units.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(128, 256)))
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "not UTF-8" in result.stderr or "not a CSV" in result.stderr


def test_a_missing_file_is_a_clear_error(app, runner, tmp_path):
    result = run_import(runner, tmp_path / "nope.csv")
    assert result.exit_code != 0
    assert "nope.csv" in result.output
    assert "Traceback" not in result.output


def test_dry_run_writes_nothing(app, runner, tmp_path):
    result = run_import(runner, write_csv(tmp_path, BASE), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would be 7 created" in result.output
    assert dump(app) == [("audit rows", 0)]


def test_import_is_audited_only_when_something_changed(app, runner, tmp_path):
    path = write_csv(tmp_path, BASE)
    run_import(runner, path)
    run_import(runner, path)
    assert dump(app)[-1] == ("audit rows", 1)


def test_units_list_prints_the_tree(app, runner, tmp_path):
    assert run_import(runner, write_csv(tmp_path, BASE)).exit_code == 0
    result = runner.invoke(args=["units", "list", "--scheme", "gso-2020"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("gso-2020:33\tprovince\tTỉnh Hưng Yên")
    assert lines[1].startswith("  gso-2020:326\tdistrict")
    assert lines[2] == "    gso-2020:12019\tward\tThị trấn Văn Giang\t9200\t0.6"
    assert lines[3].startswith("      gso-2020:12019-01\tgroup")
    wards = runner.invoke(args=["units", "list", "--level", "ward"]).output.splitlines()
    assert [w.split("\t")[0].strip() for w in wards] == ["gso-2020:12019", "gso-2020:12022"]
