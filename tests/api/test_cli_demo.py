"""`field-server demo [--if-empty]` through the CLI runner, on both backends."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import device_secret_for

VAN_GIANG_WARDS = {
    "12019": "Thị trấn Văn Giang",
    "12022": "Xã Xuân Quan",
    "12025": "Xã Cửu Cao",
    "12028": "Xã Phụng Công",
    "12031": "Xã Nghĩa Trụ",
    "12034": "Xã Long Hưng",
    "12037": "Xã Vĩnh Khúc",
    "12040": "Xã Liên Nghĩa",
    "12043": "Xã Tân Tiến",
    "12046": "Xã Thắng Lợi",
    "12049": "Xã Mễ Sở",
}


def credentials(app: Any) -> tuple[Path, list[list[str]]]:
    path = Path(app.instance_path) / "demo-credentials.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")
    return path, [line.split("\t") for line in lines[1:]]


def snapshot(app: Any) -> tuple:
    from field_server.extensions import db
    from field_server.models import Assignment, Unit, User

    with app.app_context():
        result = tuple(
            tuple(tuple(r) for r in db.session.execute(select(*t.__table__.columns)))
            for t in (Unit, User, Assignment)
        )
        db.session.rollback()
    return result


def test_demo_loads_van_giang_with_real_codes(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "Units: 46 loaded" in result.output
    from field_server.extensions import db
    from field_server.models import Unit

    with app.app_context():
        units = {u.code: u for u in db.session.execute(select(Unit)).scalars()}
        province, district = units["33"], units["326"]
        assert (province.name, province.level) == ("Tỉnh Hưng Yên", "province")
        assert (district.name, district.parent_id) == ("Huyện Văn Giang", province.id)
        wards = {c: u for c, u in units.items() if u.level == "ward"}
        assert {c: u.name for c, u in wards.items()} == VAN_GIANG_WARDS
        assert all(u.scheme == "gso-2020" for u in units.values())
        assert all(u.parent_id == district.id and u.adult_population for u in wards.values())
        groups = [u for u in units.values() if u.level == "group"]
        assert len(groups) == 3 * len(wards)
        assert all("(demo)" in g.name and units[g.code[:5]].id == g.parent_id for g in groups)


def test_credentials_file_is_private_and_every_password_logs_in(app, runner, client):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    path, rows = credentials(app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    roles = {row[1] for row in rows}
    assert roles == {"admin", "district", "supervisor", "canvasser"}
    assert {"admin", "dt.vangiang", "sv.vangiang", "cv.vg.001"} <= {row[0] for row in rows}
    for username, role, password, unit_list in rows:
        body = {"username": username, "password": password}
        if role == "canvasser":
            body["device_id"] = str(uuid.uuid4())
            body["device_secret"] = device_secret_for(body["device_id"])
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, (username, response.get_json())
        user = response.get_json()["user"]
        assert user["role"] == role
        shown = sorted(f"{u['scheme']}:{u['code']}" for u in user["units"])
        expected = [] if unit_list == "-" else sorted(unit_list.split(","))
        assert shown == expected


def test_supervisor_sees_their_ward(app, runner, client):
    assert runner.invoke(args=["demo"]).exit_code == 0
    _, rows = credentials(app)
    password = next(row[2] for row in rows if row[0] == "sv.vangiang")
    login = client.post(
        "/api/v1/auth/login", json={"username": "sv.vangiang", "password": password}
    )
    token = login.get_json()["access_token"]
    response = client.get("/api/v1/units?level=ward", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    assert [u["code"] for u in response.get_json()["items"]] == ["12019"]


def test_if_empty_does_nothing_the_second_time(app, runner):
    first = runner.invoke(args=["demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    path, _ = credentials(app)
    before, file_before = snapshot(app), path.read_bytes()
    second = runner.invoke(args=["demo", "--if-empty"])
    assert second.exit_code == 0, second.output
    assert "Demo not loaded: the database already holds 46 unit(s)" in second.output
    assert snapshot(app) == before
    assert path.read_bytes() == file_before


def test_demo_on_a_non_empty_database_is_an_error(app, runner, tmp_path):
    csv = tmp_path / "one.csv"
    csv.write_text(
        "scheme,code,name,level,parent_code,adult_population,target_rate\n"
        "gso-2020,01,Thành phố Hà Nội,province,,,\n",
        encoding="utf-8",
    )
    assert runner.invoke(args=["units", "import", str(csv)]).exit_code == 0
    before = snapshot(app)
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "fresh database" in result.stderr
    assert snapshot(app) == before
    assert not (Path(app.instance_path) / "demo-credentials.txt").exists()


def test_an_old_credentials_file_is_replaced_and_made_private(app, runner):
    path = Path(app.instance_path) / "demo-credentials.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("stale\n")
    path.chmod(0o644)
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "stale" not in path.read_text()


def test_demo_day_leaves_reviews_a_merge_and_an_open_duplicate(app, runner, client):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    _, rows = credentials(app)
    password = next(row[2] for row in rows if row[0] == "sv.vangiang")
    login = client.post(
        "/api/v1/auth/login", json={"username": "sv.vangiang", "password": password}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    totals = client.get("/api/v1/stats?unit=gso-2020:12019&to=2020-08-31", headers=headers)
    review = totals.get_json()["totals"]["review"]
    assert (review["approved"], review["flagged"], review["rejected"]) == (10, 1, 1)
    assert totals.get_json()["totals"]["open_conflicts"] >= 1
    conflicts = client.get(
        "/api/v1/conflicts?ward=gso-2020:12019&kind=possible_duplicate", headers=headers
    ).get_json()["items"]
    assert sorted(c["status"] for c in conflicts) == ["open", "resolved"]
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0


def test_the_hint_to_start_the_server_is_left_out_on_request(app, runner):
    """`make run` starts the server right after the demo: it passes --no-hint."""
    quiet = runner.invoke(args=["demo", "--if-empty", "--no-hint"])
    assert quiet.exit_code == 0, quiet.output
    assert "Demo loaded." in quiet.output
    assert "field-server serve" not in quiet.output


def test_demo_leaves_the_audit_rows_of_units_import_and_users_create(app, runner):
    """The demo loads through the operations of `units import` and `users create`."""
    from field_server.extensions import db
    from field_server.models import AuditEntry

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "Start the server with: field-server serve" in result.output
    with app.app_context():
        statement = select(AuditEntry.action, AuditEntry.actor, AuditEntry.target)
        rows = db.session.execute(statement.order_by(AuditEntry.id)).all()
        db.session.rollback()
    imports = [r for r in rows if r.action == "units.import"]
    created = [r.target for r in rows if r.action == "user.create"]
    assert len(imports) == 1 and imports[0].actor.startswith("cli")
    assert created == ["admin", "dt.vangiang", "sv.vangiang", "sv.xuanquan", "cv.vg.001",
                       "cv.vg.002", "cv.vg.003", "cv.xq.001", "cv.cc.001"]  # fmt: skip
