"""The national view of docs/figures.md: GET /api/v1/stats?unit=SCHEME:* (admins only), every
province ranked and the country's totals, added up from the provinces' own answers."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from field_server.extensions import db
from tests.api.sync_helpers import WARD_A, WARD_B, Tablet, counts

COUNTRY = "gso-2020:*"
PROVINCE = "gso-2020:33"
TO = "2020-08-31"
# Two more provinces through the real `units import`: one whose ward knows its adults, one
# where nobody knows them (its coverage is unknown: ranked last).
MORE_PROVINCES = """scheme,code,name,level,parent_code,adult_population,target_rate
gso-2020,01,Thành phố Hà Nội,province,,,
gso-2020,001,Quận Ba Đình,district,01,,
gso-2020,00001,Phường Phúc Xá,ward,001,10000,0.6
gso-2020,02,Tỉnh Hà Giang,province,,,
gso-2020,024,Thành phố Hà Giang,district,02,,
gso-2020,00688,Phường Quang Trung,ward,024,,
"""
SUMMED = ("households", "households_visited", "visits", "adults_counted", "smartphones",
          "installed", "installed_during_campaign", "priority_subjects", "priority_installed",
          "open_conflicts")  # fmt: skip


def get_stats(client, headers, unit: str, **params) -> dict:
    query = "&".join([f"unit={unit}", *(f"{k}={v}" for k, v in params.items())])
    response = client.get(f"/api/v1/stats?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def country(world, client, runner, tmp_path: Path):
    """Three provinces; visits in two wards of Hưng Yên over two days."""
    path = tmp_path / "more.csv"
    path.write_text(MORE_PROVINCES)
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    a = Tablet(world, client, "cv.vg.001")
    b = Tablet(world, client, "cv.xq.001")
    h1 = a.household()
    v1 = a.visit(h1["id"], visited_at="2020-08-15T09:00:00+07:00")
    h2 = a.household(address="Số 5, ngõ 2")
    refused = counts(adults=2, smartphones=2, before=0, during=0)
    v2 = a.visit(h2["id"], outcome="refused", visited_at="2020-08-16T10:00:00+07:00", **refused)
    a.push([h1, v1, h2, v2])
    h3 = b.household(ward=WARD_B)
    b.push([h3, b.visit(h3["id"], visited_at="2020-08-16T08:00:00+07:00")])
    return world


def test_the_country_ranks_every_province_and_adds_their_figures_up(country, client):
    admin = country.headers(client, "admin")
    body = get_stats(client, admin, COUNTRY, to=TO)
    assert body["unit"] == {
        "scheme": "gso-2020",
        "code": "*",
        "name": "Cả nước",
        "level": "country",
    }
    assert (body["rank"], body["of"]) == (1, 1)
    assert body["as_of"] == TO

    provinces = {c["unit"]["code"]: c for c in body["children"]}
    assert [c["unit"]["code"] for c in body["children"]] == ["33", "01", "02"]  # by id
    assert {code: c["rank"] for code, c in provinces.items()} == {"33": 1, "01": 2, "02": 3}
    # Each province's row is what the province's own answer says, and its rank there too.
    for code, child in provinces.items():
        own = get_stats(client, admin, f"gso-2020:{code}", to=TO)
        assert child["unit"] == own["unit"]
        assert child["totals"] == own["totals"]
        assert (own["rank"], own["of"]) == (child["rank"], 3)

    totals = body["totals"]
    for name in SUMMED:
        assert totals[name] == sum(c["totals"][name] for c in provinces.values()), name
    for group in ("by_outcome", "review"):
        for key, value in totals[group].items():
            assert value == sum(c["totals"][group][key] for c in provinces.values()), key
    assert totals["installed"] == 3 + 0 + 3  # h1 and h3 found 3 installs each, h2 none
    assert totals["adult_population"] == 9000 + 7000 + 8000 + 10000  # Hà Giang's unknown
    assert totals["target_rate"] == 0.6  # the campaign's
    assert totals["coverage"] == round(6 / 34000, 6)
    assert totals["gap_to_target"] == math.ceil(Decimal("0.6") * 34000) - 6
    assert body["daily"] == get_stats(client, admin, PROVINCE, to=TO)["daily"]
    assert [d["date"] for d in body["daily"]][:2] == ["2020-08-15", "2020-08-16"]


def test_the_country_within_a_range_counts_only_its_visits(country, client):
    admin = country.headers(client, "admin")
    body = get_stats(client, admin, COUNTRY, **{"from": "2020-08-16", "to": "2020-08-16"})
    assert body["totals"]["visits"] == 2
    assert body["totals"]["installed"] == 6  # state figures: as of the end of `to`
    assert [(d["date"], d["visits"]) for d in body["daily"]] == [("2020-08-16", 2)]
    before = get_stats(client, admin, COUNTRY, to="2020-08-15")
    assert before["totals"]["visits"] == 1 and before["totals"]["installed"] == 3


def test_a_country_without_any_province_in_its_scheme_is_not_found(world, client):
    response = client.get("/api/v1/stats?unit=nso-2025:*", headers=world.headers(client, "admin"))
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("user", ["dt.vangiang", "sv.vangiang", "cv.vg.001"])
def test_only_admins_see_the_country(world, client, user):
    response = client.get(f"/api/v1/stats?unit={COUNTRY}", headers=world.headers(client, user))
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"
    # ...while their own units still answer (the canvasser: never).
    if not user.startswith("cv."):
        unit = "gso-2020:326" if user.startswith("dt.") else WARD_A
        assert (
            client.get(
                f"/api/v1/stats?unit={unit}", headers=world.headers(client, user)
            ).status_code
            == 200
        )


@pytest.mark.parametrize("unit", ["gso-2020:**", "gso-2020:*1", "*", ":*", "gso-2020:*\n"])
def test_other_uses_of_the_star_are_422(world, client, unit):
    response = client.get(
        "/api/v1/stats", query_string={"unit": unit}, headers=world.headers(client, "admin")
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_failed"


def test_the_ready_answer_is_what_the_schema_would_dump(country, client):
    """/stats sends its answer as ready JSON (a hot path): byte for byte the schema's dump,
    key order included, for a ward, a district, a province and the country."""
    from datetime import UTC, date, datetime

    from field_server.services import stats as stats_service
    from field_server.services.context import Caller, Settings
    from schemas.stats import StatsSchema

    app = country.app
    with app.app_context():
        settings = Settings.from_config(app.config)
        for ref in (WARD_A, "gso-2020:326", PROVINCE, COUNTRY):
            found = stats_service.unit_stats(
                Caller.operator("test"),
                ref,
                start=None,
                end=date(2020, 8, 31),
                now=datetime.now(UTC),
                settings=settings,
            )
            ready, dumped = found.as_json(), StatsSchema().dump(found)
            assert json.dumps(ready) == json.dumps(dumped), ref
            answered = client.get(
                f"/api/v1/stats?unit={ref}&to=2020-08-31",
                headers=country.headers(client, "admin"),
            )
            assert json.loads(answered.data) == dumped
            assert list(json.loads(answered.data)) == list(dumped)


def test_the_country_daily_series_adds_up_every_province_and_verify_checks_it(
    country, client, runner
):
    """The country keeps its own row per day: its series is every province's added up, day
    by day, and `stats verify` / `stats rebuild` check and repair those rows too."""
    assigned = runner.invoke(args=["users", "assign", "cv.xq.001", "--unit", "gso-2020:00001"])
    assert assigned.exit_code == 0, assigned.output
    tablet = Tablet(country, client, "cv.xq.001")
    h4 = tablet.household(ward="gso-2020:00001", address="Số 7, ngõ 8")
    v4 = tablet.visit(h4["id"], visited_at="2020-08-16T11:00:00+07:00")  # Hưng Yên's day too
    h5 = tablet.household(ward="gso-2020:00001", address="Số 9, ngõ 8")
    v5 = tablet.visit(h5["id"], visited_at="2020-08-18T11:00:00+07:00")  # only Hà Nội's
    tablet.push([h4, v4, h5, v5])
    admin = country.headers(client, "admin")

    def by_day(daily: list[dict]) -> dict[str, tuple[int, int, int]]:
        return {
            d["date"]: (d["visits"], d["installed_during"], d["cumulative_installed"])
            for d in daily
        }

    body = get_stats(client, admin, COUNTRY, to=TO)
    provinces = [
        by_day(get_stats(client, admin, f"gso-2020:{code}", to=TO)["daily"])
        for code in ("33", "01", "02")
    ]
    days = by_day(body["daily"])
    assert list(days)[:4] == ["2020-08-15", "2020-08-16", "2020-08-17", "2020-08-18"]
    for day, (visits, during, cumulative) in days.items():
        assert visits == sum(p[day][0] for p in provinces if day in p), day
        assert during == sum(p[day][1] for p in provinces if day in p), day
        # A province's series starts at its own first day: nothing installed before it.
        assert cumulative == sum(p[day][2] for p in provinces if day in p), day
    assert days["2020-08-16"][0] == 3 and days["2020-08-18"][0] == 1
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0

    with country.app.app_context():
        db.session.execute(
            text("UPDATE country_day_figures SET visits = visits + 5 WHERE day = '2020-08-16'")
        )
        db.session.commit()
    assert by_day(get_stats(client, admin, COUNTRY, to=TO)["daily"])["2020-08-16"][0] == 8
    verified = runner.invoke(args=["stats", "verify"])
    assert verified.exit_code == 1
    assert "gso-2020:* 2020-08-16: visits is 8, the visits give 3" in verified.output
    rebuilt = runner.invoke(args=["stats", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "1 counter(s)" in rebuilt.output
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0
    assert by_day(get_stats(client, admin, COUNTRY, to=TO)["daily"]) == days
