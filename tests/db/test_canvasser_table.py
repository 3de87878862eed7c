"""The ward dashboard's canvassers' table (services/dashboard.py ``ward_canvassers``), on
SQLite and PostgreSQL: each canvasser's visits, installs, flagged visits and last visit in
one ward, against a hand count and against a recount from the visits' rows the slow way;
their sums against the ward's own figures; each flag's count against the review queue's
rows; tablets and last sync from the devices list, also for a canvasser with a tablet and
no visit and for one whose only tablet was revoked; and who may read it.

The world is made the way the API tests make it: tablets' pushes through the API, a
supervisor's rejection, a tablet's void.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from field_server.auth.scope import scope_of
from field_server.clock import utcnow
from field_server.errors import ApiError
from field_server.extensions import db
from field_server.models import Unit, User, Visit
from field_server.services import dashboard, devices, stats, visits
from field_server.services.context import Caller, Settings
from field_server.store.people import get_user
from tests.api.sync_helpers import WARD_A, WARD_B, Tablet, counts

FAR = {"lat": 21.5, "lon": 106.5}  # far from the household's position: gps_far_from_household
ZONE = "Asia/Ho_Chi_Minh"


def caller(username: str) -> Caller:
    user = get_user(username)
    assert user is not None
    return Caller(user.id, user.username, user.role, scope_of(user.id, user.role))


@pytest.fixture
def canvassed(client: Any, world: Any) -> dict[str, Any]:
    """Ward A: cv.vg.001 visits four households (one visit far from its household and later
    rejected, one far and later voided); cv.vg.002 signs in on a tablet and records nothing.
    Ward B: cv.xq.001 visits one household."""
    a = Tablet(world, client, "cv.vg.001")
    Tablet(world, client, "cv.vg.002")
    b = Tablet(world, client, "cv.xq.001")
    homes = [a.household(address=f"Số {n}, ngõ 9") for n in range(4)]
    plain = a.visit(homes[0]["id"], visited_at="2020-08-15T09:00:00+07:00")
    partial = a.visit(
        homes[1]["id"],
        outcome="partial",
        visited_at="2020-08-15T10:00:00+07:00",
        **counts(before=0, during=1),
    )
    rejected = a.visit(homes[2]["id"], visited_at="2020-08-15T11:00:00+07:00", **FAR)
    voided = a.visit(
        homes[3]["id"], visited_at="2020-08-16T09:00:00+07:00", **counts(before=0, during=3), **FAR
    )
    answer = a.push([*homes, plain, partial, rejected, voided])
    assert all(r["status"] == "applied" for r in answer["results"]), answer
    a.push([a.mutation("visit.void", voided["id"], {"reason": "nhầm nhà"}, base_version=1)])
    reviewed = client.post(
        f"/api/v1/visits/{rejected['id']}/review",
        json={"action": "reject", "comment": "Không có nhà này"},
        headers=world.headers(client, "sv.vangiang"),
    )
    assert reviewed.status_code == 200, reviewed.get_json()
    home = b.household(ward=WARD_B, address="Thôn 1")
    assert b.push([home, b.visit(home["id"])])["results"][1]["status"] == "applied"
    return {"a": a, "rejected": rejected["id"], "voided": voided["id"]}


def table(username: str = "sv.vangiang") -> dict[str, dashboard.CanvasserRow]:
    rows = dashboard.ward_canvassers(caller(username), WARD_A, now=utcnow())
    assert [r.username for r in rows] == sorted(r.username for r in rows)
    return {r.username: r for r in rows}


def recount(ward_ref: str) -> dict[str, dict[str, Any]]:
    """Each canvasser's figures in the ward from their visits' rows, decoded in Python."""
    scheme, code = ward_ref.split(":")
    ward = db.session.execute(select(Unit).filter_by(scheme=scheme, code=code)).scalar_one()
    names = dict(db.session.execute(select(User.id, User.username)).all())
    out: dict[str, dict[str, Any]] = {}
    for v in db.session.execute(select(Visit).where(Visit.ward_id == ward.id)).scalars():
        mine = out.setdefault(
            names[v.canvasser_id],
            {"visits": 0, "installs": 0, "flagged": 0, "by_flag": {}, "last_visit": None},
        )
        if v.voided:
            continue
        flags = json.loads(v.flags)
        mine["flagged"] += bool(flags)
        for name in flags:
            mine["by_flag"][name] = mine["by_flag"].get(name, 0) + 1
        if mine["last_visit"] is None or v.visited_at > mine["last_visit"]:
            mine["last_visit"] = v.visited_at
        if v.review_status != "rejected":
            mine["visits"] += 1
            mine["installs"] += v.installed_during or 0
    return out


def test_each_canvassers_figures_by_hand_and_by_recount(app, canvassed):
    with app.app_context():
        shown = table()
        mine = shown["cv.vg.001"]
        # The rejected and the voided visits do not count; the rejected one is still flagged.
        assert (mine.visits, mine.installs, mine.flagged) == (2, 3, 1)
        assert mine.by_flag == {"gps_far_from_household": 1}
        assert mine.last_visit == datetime(2020, 8, 15, 4, 0, tzinfo=UTC)
        idle = shown["cv.vg.002"]
        assert (idle.visits, idle.installs, idle.flagged, idle.by_flag) == (0, 0, 0, {})
        assert idle.last_visit is None and idle.tablets == 1
        assert "cv.xq.001" not in shown  # another ward's canvasser
        expected = recount(WARD_A)
        for username, figures in expected.items():
            row = shown[username]
            assert {name: getattr(row, name) for name in figures} == figures, username


def test_the_sums_are_the_wards_figures(app, canvassed):
    with app.app_context():
        shown = table()
        ward = stats.unit_stats(
            caller("sv.vangiang"),
            WARD_A,
            start=date(2020, 8, 1),
            end=date(2020, 8, 31),
            now=utcnow(),
            settings=Settings(),
        )
        assert sum(r.visits for r in shown.values()) == ward.totals["visits"] == 2
        assert sum(r.installs for r in shown.values()) == sum(
            day.installed_during for day in ward.daily
        )


def test_each_flag_count_is_the_review_queues_rows(app, canvassed):
    with app.app_context():
        supervisor = caller("sv.vangiang")
        for username, row in table().items():
            for flag in ("gps_far_from_household", "too_fast"):
                page = visits.queue_page(
                    supervisor,
                    ward=WARD_A,
                    group=None,
                    canvasser=username,
                    outcome=None,
                    review_status=None,
                    flag=flag,
                    since=None,
                    until=None,
                    after=None,
                    limit=1000,
                    timezone=ZONE,
                )
                listed = [v for v in page.items if not v.voided]
                assert row.by_flag.get(flag, 0) == len(listed), (username, flag)
                if (username, flag) == ("cv.vg.001", "gps_far_from_household"):
                    # The queue lists the voided visit too; the table counts it nowhere.
                    assert {v.id for v in page.items} == {
                        canvassed["rejected"],
                        canvassed["voided"],
                    }


def test_tablets_and_last_sync_come_from_the_devices_list(app, client, world, canvassed):
    with app.app_context():
        supervisor = caller("sv.vangiang")
        listed = devices.list_devices(supervisor, ward=WARD_A, after=None, limit=100, now=utcnow())
        seen = {d.owner: d.last_seen for d in listed.items}
        shown = table()
        for username in ("cv.vg.001", "cv.vg.002"):
            assert shown[username].tablets == 1
            assert shown[username].last_sync == seen[username]
            assert shown[username].last_sync is not None
    revoked = client.post(
        f"/api/v1/devices/{canvassed['a'].device_id}/revoke",
        headers=world.headers(client, "sv.vangiang"),
    )
    assert revoked.status_code == 200, revoked.get_json()
    with app.app_context():
        gone = table()["cv.vg.001"]
        # No tablet any more, and still their visits.
        assert (gone.tablets, gone.last_sync, gone.visits) == (0, None, 2)


@pytest.mark.parametrize(
    "username, code",
    [("sv.xuanquan", "not_found"), ("sv.hiennam", "not_found"), ("cv.vg.001", "forbidden")],
)
def test_outside_the_callers_units_it_is_refused(app, canvassed, username, code):
    with app.app_context(), pytest.raises(ApiError) as refused:
        table(username)
    assert refused.value.code == code


def test_district_officer_and_admin_read_the_same_table(app, canvassed):
    with app.app_context():
        assert table("dt.vangiang") == table("admin") == table()


def test_a_unit_that_is_not_a_ward_is_refused(app, canvassed):
    with app.app_context(), pytest.raises(ApiError) as refused:
        dashboard.ward_canvassers(caller("dt.vangiang"), "gso-2020:326", now=utcnow())
    assert refused.value.code == "validation_failed"
