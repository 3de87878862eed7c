"""GET /api/v1/stats (docs/figures.md) and `field-server stats verify|rebuild`."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import Unit, UnitDayFigures
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet, counts
from tests.figures_oracle import assert_totals_match, expected_totals

DISTRICT = "gso-2020:326"
PROVINCE = "gso-2020:33"


def stats(client, headers, unit: str, **params) -> dict:
    query = "&".join([f"unit={unit}", *(f"{k}={v}" for k, v in params.items())])
    response = client.get(f"/api/v1/stats?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def check_against_oracle(world, client, units, to: str = "2020-08-31", start: str | None = None):
    admin = world.headers(client, "admin")
    for ref in units:
        params = {"to": to, **({"from": start} if start else {})}
        body = stats(client, admin, ref, **params)
        with world.app.app_context():
            scheme, code = ref.split(":")
            unit = db.session.execute(
                select(Unit).where(Unit.scheme == scheme, Unit.code == code)
            ).scalar_one()
            want = expected_totals(
                unit, date.fromisoformat(to), date.fromisoformat(start) if start else None
            )
        assert_totals_match(body["totals"], want)


@pytest.fixture
def canvassed(world, client):
    """Two wards of one district canvassed over two days."""
    a = Tablet(world, client, "cv.vg.001")
    b = Tablet(world, client, "cv.xq.001")
    h1 = a.household()
    v1 = a.visit(h1["id"], visited_at="2020-08-15T09:00:00+07:00")
    h2 = a.household(address="Số 5, ngõ 2")
    refused = counts(adults=2, smartphones=2, before=0, during=0)
    v2 = a.visit(h2["id"], outcome="refused", visited_at="2020-08-15T10:00:00+07:00", **refused)
    # a later visit finds one more install at h2
    partial = counts(adults=2, smartphones=2, before=0, during=1)
    v3 = a.visit(h2["id"], outcome="partial", visited_at="2020-08-16T10:00:00+07:00", **partial)
    a.push([h1, v1, h2, v2, v3])
    h3 = b.household(ward=WARD_B)
    none = dict.fromkeys(counts(), None)
    b.push(
        [h3, b.visit(h3["id"], outcome="not_home", visited_at="2020-08-16T08:00:00+07:00", **none)]
    )
    return a, b


def test_ward_figures_count_what_the_tablets_pushed(world, client, canvassed):
    body = stats(client, world.headers(client, "sv.vangiang"), WARD_A, to="2020-08-20")
    totals = body["totals"]
    assert body["unit"] == {
        "scheme": "gso-2020",
        "code": "12019",
        "name": "Thị trấn Văn Giang",
        "level": "ward",
    }
    assert body["as_of"] == "2020-08-20"
    assert totals["households"] == 2
    assert totals["households_visited"] == 2
    assert totals["visits"] == 3
    assert totals["adults_counted"] == 4 + 2
    assert totals["installed"] == 3 + 1
    assert totals["installed_during_campaign"] == 2 + 1
    assert totals["by_outcome"]["installed"] == 1 and totals["by_outcome"]["partial"] == 1
    assert totals["review"] == {"pending": 3, "approved": 0, "rejected": 0, "flagged": 0}
    assert totals["adult_population"] == 9000
    assert totals["coverage"] == pytest.approx(4 / 9000, abs=1e-6)
    assert totals["coverage_of_smartphones"] == pytest.approx(4 / 5, abs=1e-6)
    assert totals["gap_to_target"] == 5400 - 4


def test_state_as_of_a_past_day_ignores_later_visits(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    day_one = stats(client, headers, WARD_A, to="2020-08-15")["totals"]
    assert day_one["installed"] == 3  # h2's install on the 16th does not count yet
    assert day_one["visits"] == 2
    daily = stats(client, headers, WARD_A, **{"from": "2020-08-14", "to": "2020-08-17"})["daily"]
    assert [d["date"] for d in daily] == ["2020-08-14", "2020-08-15", "2020-08-16", "2020-08-17"]
    assert [d["visits"] for d in daily] == [0, 2, 1, 0]
    assert [d["cumulative_installed"] for d in daily] == [0, 3, 4, 4]
    assert [d["installed_during"] for d in daily] == [0, 2, 1, 0]


def test_flow_figures_count_only_the_range(world, client, canvassed):
    headers = world.headers(client, "sv.vangiang")
    body = stats(client, headers, WARD_A, **{"from": "2020-08-16", "to": "2020-08-16"})
    assert body["totals"]["visits"] == 1
    assert body["totals"]["installed"] == 4  # state: everything up to the 16th


def test_district_rolls_up_wards_with_ranks(world, client, canvassed):
    body = stats(client, world.headers(client, "dt.vangiang"), DISTRICT, to="2020-08-20")
    assert body["totals"]["households"] == 3
    assert body["totals"]["adult_population"] == 9000 + 7000
    assert body["totals"]["target_rate"] == 0.6
    children = {c["unit"]["code"]: c for c in body["children"]}
    assert set(children) == {"12019", "12022"}
    assert children["12019"]["rank"] == 1  # 4 installs against none
    assert children["12022"]["rank"] == 2
    ward = stats(client, world.headers(client, "sv.xuanquan"), WARD_B, to="2020-08-20")
    assert (ward["rank"], ward["of"]) == (2, 2)
    check_against_oracle(world, client, [WARD_A, WARD_B, DISTRICT, PROVINCE, GROUP_A1])


def test_void_stops_counting(world, client, canvassed):
    a, _ = canvassed
    visit_id = None
    with world.app.app_context():
        from field_server.models import Visit

        visit = db.session.execute(select(Visit).where(Visit.outcome == "partial")).scalar_one()
        visit_id = visit.id
    a.push([a.mutation("visit.void", visit_id, {"reason": "sai nhà"}, base_version=1)])
    totals = stats(client, world.headers(client, "admin"), WARD_A, to="2020-08-20")["totals"]
    assert totals["visits"] == 2
    assert totals["installed"] == 3
    check_against_oracle(world, client, [WARD_A, DISTRICT, PROVINCE])


def test_supervisor_correction_changes_the_figures(world, client, canvassed):
    with world.app.app_context():
        from field_server.models import Visit

        visit = db.session.execute(select(Visit).where(Visit.outcome == "installed")).scalar_one()
        visit_id = visit.id
    headers = world.headers(client, "sv.vangiang")
    response = client.patch(
        f"/api/v1/visits/{visit_id}",
        json={"base_version": 1, "data": {"installed_during": 0}},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert stats(client, headers, WARD_A, to="2020-08-20")["totals"]["installed"] == 1 + 1
    check_against_oracle(world, client, [WARD_A, DISTRICT])


def test_unknown_population_gives_null_rates(world, client):
    a = Tablet(world, client, "cv.vg.002")  # works in group -01, which has no population
    h = a.household(group=GROUP_A1)
    a.push([h, a.visit(h["id"], visited_at="2020-08-15T09:00:00+07:00")])
    body = stats(client, world.headers(client, "sv.vangiang"), GROUP_A1, to="2020-08-20")
    assert body["totals"]["installed"] == 3
    assert body["totals"]["adult_population"] is None
    assert body["totals"]["coverage"] is None
    assert body["totals"]["gap_to_target"] is None
    assert body["totals"]["coverage_of_counted"] == pytest.approx(3 / 4, abs=1e-6)


@pytest.mark.parametrize(
    ("user", "unit", "status", "code"),
    [
        ("cv.vg.001", WARD_A, 403, "forbidden"),
        ("sv.vangiang", WARD_B, 404, "not_found"),
        ("sv.vangiang", DISTRICT, 404, "not_found"),
        ("dt.vangiang", "gso-2020:11953", 404, "not_found"),
        ("admin", "gso-2020:99999", 404, "not_found"),
    ],
)
def test_scope(world, client, user, unit, status, code):
    device = {"device_id": "0d7f6c2e-8a44-4a53-9a36-7a0a4a9b1c01"} if user.startswith("cv") else {}
    response = client.get(
        f"/api/v1/stats?unit={unit}", headers=world.headers(client, user, **device)
    )
    assert response.status_code == status
    assert response.get_json()["code"] == code


@pytest.mark.parametrize(
    "query",
    ["", "unit=12019", f"unit={WARD_A}&from=2020-08-20&to=2020-08-10", f"unit={WARD_A}&to=x",
     f"unit={WARD_A}&colour=red", f"unit={WARD_A}&from=2017-01-01&to=2020-01-01"],
)  # fmt: skip
def test_bad_queries_are_422(world, client, query):
    response = client.get(f"/api/v1/stats?{query}", headers=world.headers(client, "admin"))
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_failed"


def test_verify_finds_a_tampered_counter_and_rebuild_repairs_it(world, client, canvassed):
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["stats", "verify"])
    assert result.exit_code == 0, result.output
    with world.app.app_context():
        row = db.session.execute(select(UnitDayFigures).limit(1)).scalar_one()
        row.installed += 7
        db.session.commit()
    result = runner.invoke(args=["stats", "verify"])
    assert result.exit_code == 1
    assert "installed is" in result.output
    result = runner.invoke(args=["stats", "verify", "--unit", WARD_B])
    assert result.exit_code in (0, 1)
    result = runner.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "1 counter(s)" in result.output
    assert runner.invoke(args=["stats", "verify"]).exit_code == 0
    assert runner.invoke(args=["stats", "verify", "--unit", "gso-2020:nope"]).exit_code == 2
