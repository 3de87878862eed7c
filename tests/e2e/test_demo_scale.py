"""`field-server demo --scale province|country`: the GSO-2020 list it ships, the records it
generates, and a province loaded through the sync service on both backends.

The country itself is never loaded here (minutes, not seconds: docs/cli.md has the times);
a province with 2,000 visits goes through the same code. The province loaded is Đà Nẵng,
the smallest (56 wards, 7 districts), urban, with the addresses of Huế and Đà Nẵng.
"""

from __future__ import annotations

import csv
import random
import stat
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.address import normalise_address
from field_server.cli import demo_campaign
from field_server.cli.demo_campaign import Campaign, address, geography, people, written_otherwise

DEMO_DATA = Path(demo_campaign.__file__).resolve().parent.parent / "demo_data"
PROVINCE = "48"  # Thành phố Đà Nẵng
WARDS = 56
DISTRICTS = 7


def rows(name: str) -> list[dict[str, str]]:
    with (DEMO_DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- the shipped list ----------------------------------------------------------------------


def test_units_file_is_the_whole_2020_list_with_its_tree_intact():
    units = rows("gso-2020-units.csv")
    levels = Counter(row["level"] for row in units)
    assert levels == {"province": 63, "district": 707, "ward": 10_767}
    codes = [row["code"] for row in units]
    assert len(set(codes)) == len(codes)
    level_of = {row["code"]: row["level"] for row in units}
    parent_level = {"province": None, "district": "province", "ward": "district"}
    for row in units:
        assert row["scheme"] == "gso-2020"
        wanted = parent_level[row["level"]]
        assert (level_of.get(row["parent_code"]) if row["parent_code"] else None) == wanted, row
        # GSO widths: 2 digits for a province, 3 for a district, 5 for a ward.
        assert len(row["code"]) == {"province": 2, "district": 3, "ward": 5}[row["level"]]
        if row["level"] == "ward":
            assert 0 < int(row["adult_population"]) < 100_000
            assert row["name"].split()[0] in ("Phường", "Xã", "Thị")
        else:
            assert row["adult_population"] == ""


def test_van_giang_is_the_same_as_in_the_district_demo():
    district_demo = [r for r in rows("vangiang-gso-2020.csv") if r["level"] != "group"]
    whole = {r["code"]: r for r in rows("gso-2020-units.csv")}
    assert len(district_demo) == 13  # the province, the district, its 11 wards
    for row in district_demo:
        assert whole[row["code"]] == row


def test_populations_are_shaped_by_the_kind_of_ward():
    wards = [r for r in rows("gso-2020-units.csv") if r["level"] == "ward"]

    def median(prefix: str) -> int:
        values = sorted(int(r["adult_population"]) for r in wards if r["name"].startswith(prefix))
        return values[len(values) // 2]

    assert median("Phường") > median("Thị trấn") > median("Xã")


# --- what the tablets record ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("province", "shape"),
    [("01", "ngõ"), ("46", "K"), ("79", "/"), ("33", "thôn"), ("89", "ấp")],
)
def test_addresses_are_unique_in_a_ward_and_duplicates_differ_only_in_writing(province, shape):
    geo = geography(province)
    _, tablets = people(geo)
    rng = random.Random(7)
    seen_shape = False
    for ward in geo.wards[:12]:
        houses = demo_campaign._Houses(ward, rng)
        drawn = [houses.draw() for _ in range(300)]
        written = [address(ward, h) for h in drawn]
        seen_shape = seen_shape or any(shape in w for w in written)
        assert len({normalise_address(w) for w in written}) == len(drawn), ward
        for house in drawn[:40]:
            other = written_otherwise(ward, house, rng)
            assert normalise_address(other) == normalise_address(address(ward, house))
    assert seen_shape
    assert len(tablets) == 3 * len(geo.wards)


def test_the_campaign_is_the_same_every_run_and_keeps_to_the_visits_asked():
    geo = geography("33")
    _, tablets = people(geo)
    first = [logs.logs for logs in Campaign(geo, tablets, 3000)]
    again = [logs.logs for logs in Campaign(geo, tablets, 3000)]
    assert first == again
    visits = sum(
        m["type"] == "visit.create" for logs in first for log in logs.values() for m in log
    )
    assert visits == 3000
    for logs in first:
        for log in logs.values():
            assert [m["mutation_id"] for m in log] == list(range(1, len(log) + 1))
    # Tablets with wrong clocks: left on UTC (visits before 7 in the morning, local time)
    # or a day behind (visits dated before the drive began, on 13 August).
    stamps = [
        datetime.fromisoformat(m["data"]["visited_at"])
        for logs in first
        for log in logs.values()
        for m in log
        if m["type"] == "visit.create"
    ]
    assert any(s.hour < 7 for s in stamps)
    assert any(s.date() < date(2020, 8, 13) for s in stamps)
    assert all(s.utcoffset() == timedelta(hours=7) for s in stamps)


# --- a province, loaded -------------------------------------------------------------------


def expected(visits: int) -> Counter[str]:
    geo = geography(PROVINCE)
    _, tablets = people(geo)
    made: Counter[str] = Counter()
    for logs in Campaign(geo, tablets, visits):
        for name in ("households", "revisits", "duplicates", "voids"):
            made[name] += getattr(logs, name)
        made["mutations"] += sum(len(log) for log in logs.logs.values())
    return made


def counts(app: Any) -> dict[str, Any]:
    from field_server.extensions import db
    from field_server.models import (
        Conflict,
        Device,
        DeviceMutation,
        Household,
        Unit,
        User,
        Visit,
    )

    def count(model: Any, *where: Any) -> int:
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()

    with app.app_context():
        per_household = (
            select(Visit.household_id)
            .group_by(Visit.household_id)
            .having(func.count() > 1)
            .subquery()
        )
        found = {
            "units": count(Unit),
            "wards": count(Unit, Unit.level == "ward"),
            "users": {
                role: n
                for role, n in db.session.execute(
                    select(User.role, func.count()).group_by(User.role)
                )
            },
            "devices": count(Device),
            "ledger": count(DeviceMutation),
            "households": count(Household),
            "visits": count(Visit),
            "voided": count(Visit, Visit.voided.is_(True)),
            "revisited": count(per_household),
            "first_not_home": count(
                Visit,
                Visit.household_id.in_(select(per_household.c.household_id)),
                Visit.outcome.in_(("not_home", "come_back")),
            ),
            "duplicates": count(Conflict, Conflict.kind == "possible_duplicate"),
            "conflicts": count(Conflict),
            "rejected": count(DeviceMutation, DeviceMutation.status == "rejected"),
        }
        db.session.rollback()
    return found


def test_province_scale_pushes_a_campaign_that_the_figures_recount_exactly(app, runner):
    result = runner.invoke(
        args=["demo", "--scale", "province", "--province", PROVINCE, "--visits", "2000"]
    )
    assert result.exit_code == 0, result.output
    assert f"Visits: 2,000 by {3 * WARDS} tablets" in result.output
    assert "rejected" not in result.output

    made = expected(2000)
    found = counts(app)
    assert found["units"] == 1 + DISTRICTS + WARDS * 6
    assert found["wards"] == WARDS
    assert found["users"] == {
        "admin": 1,
        "district": 1 + DISTRICTS,
        "supervisor": WARDS,
        "canvasser": 2 * WARDS,
    }
    assert found["devices"] == 3 * WARDS
    assert found["visits"] == 2000
    assert found["ledger"] == made["mutations"]
    assert found["rejected"] == 0
    assert found["households"] == made["households"] + made["duplicates"]
    # Every duplicate made on purpose is reported, and nothing else is.
    assert found["duplicates"] == found["conflicts"] == made["duplicates"] > 0
    assert found["voided"] == made["voids"]
    # Revisits: households visited again after nobody was at home.
    assert found["revisited"] >= made["revisits"] > 0
    assert found["first_not_home"] >= made["revisits"]

    verify = runner.invoke(args=["stats", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "The figures equal a full recount from the visits." in verify.output


def test_province_scale_credentials_log_in_and_stay_private(app, runner, client):
    args = ["demo", "--scale", "province", "--province", PROVINCE, "--visits", "0", "--no-hint"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    path = Path(app.instance_path) / "demo-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(lines) == 1 + 1 + DISTRICTS + 3 * WARDS
    assert len({line[2] for line in lines}) == 1  # one password for all
    ward = geography(PROVINCE).wards[0]
    by_name = {line[0]: line for line in lines}
    assert by_name[f"sv.{ward.code}"][1:] == ["supervisor", lines[0][2], ward.ref]
    answer = client.post(
        "/api/v1/auth/login",
        json={"username": f"sv.{ward.code}", "password": by_name[f"sv.{ward.code}"][2]},
    )
    assert answer.status_code == 200, answer.get_json()
    assert [u["code"] for u in answer.get_json()["user"]["units"]] == [ward.code]


def test_scale_options_are_checked_before_anything_is_loaded(app, runner):
    assert runner.invoke(args=["demo", "--visits", "10"]).exit_code == 2
    assert runner.invoke(args=["demo", "--scale", "country", "--province", "33"]).exit_code == 2
    wrong = runner.invoke(args=["demo", "--scale", "province", "--province", "99"])
    assert wrong.exit_code == 2
    assert "not a province code" in wrong.output
    assert counts(app)["units"] == 0


def test_if_empty_skips_a_loaded_database(app, runner):
    assert runner.invoke(args=["demo", "--no-hint"]).exit_code == 0
    again = runner.invoke(args=["demo", "--scale", "province", "--if-empty"])
    assert again.exit_code == 0
    assert "Demo not loaded" in again.output
    refused = runner.invoke(args=["demo", "--scale", "country"])
    assert refused.exit_code == 1
