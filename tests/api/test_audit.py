"""GET /api/v1/audit (docs/api-supervision.md): the audit trail, for admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from field_server.extensions import db
from field_server.store import audit
from tests.api.review_helpers import assert_error

AUDIT = "/api/v1/audit"
# 2020-08-15 00:30 in Hà Nội (UTC+7); the rows below run to 06:30 on the 16th
T0 = datetime(2020, 8, 14, 17, 30, tzinfo=UTC)


@pytest.fixture
def trail(app, world):
    """Five audit rows over two local days, written as the server writes them."""
    rows = [
        ("sv.vangiang", "visit.review", "v-1", T0),
        ("sv.vangiang", "visit.review", "v-2", T0 + timedelta(hours=23)),
        ("admin", "user.create", "cv.vg.010", T0 + timedelta(hours=23)),
        ("sv.xuanquan", "device.revoke", "dev-9", T0 + timedelta(hours=24)),
        ("sv.vangiang", "visit.correct", "v-1", T0 + timedelta(hours=30)),
    ]
    with app.app_context():
        for actor, action, target, at in rows:
            audit.record(
                action=action,
                actor=actor,
                target=target,
                client_address="10.1.2.3",
                at=at,
                details={"note": f"{action} {target}"},
            )
        db.session.commit()
    return rows


def read(client, headers, query: str = "", expect: int = 200) -> dict:
    response = client.get(f"{AUDIT}?{query}", headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def targets(body) -> list[tuple[str, str]]:
    return [(item["action"], item["target"]) for item in body["items"]]


def test_newest_first_with_every_field(world, client, trail):
    body = read(client, world.headers(client, "admin"), "actor=sv.vangiang")
    assert targets(body) == [
        ("visit.correct", "v-1"),
        ("visit.review", "v-2"),
        ("visit.review", "v-1"),
    ]
    first = body["items"][0]
    assert set(first) == {"id", "at", "actor", "action", "target", "client_address", "details"}
    assert first["at"] == "2020-08-15T23:30:00Z" and first["actor"] == "sv.vangiang"
    assert first["client_address"] == "10.1.2.3"
    assert first["details"] == {"note": "visit.correct v-1"}
    assert isinstance(first["id"], int)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=user.create", [("user.create", "cv.vg.010")]),
        (
            "action=visit.review&actor=sv.vangiang",
            [("visit.review", "v-2"), ("visit.review", "v-1")],
        ),
        ("actor=nobody", []),
        # local days: 00:30 and 23:30 of the 15th, both on the 15th
        (
            "from=2020-08-15&to=2020-08-15&actor=sv.vangiang",
            [("visit.review", "v-2"), ("visit.review", "v-1")],
        ),
        ("from=2020-08-16&actor=sv.vangiang", [("visit.correct", "v-1")]),
        ("to=2020-08-14", []),
    ],
)
def test_filters(world, client, trail, query, expected):
    assert targets(read(client, world.headers(client, "admin"), query)) == expected


def test_paging_gives_every_row_once(world, client, trail):
    headers = world.headers(client, "admin")
    everything = targets(read(client, headers, "limit=1000"))
    assert len(everything) == 5
    seen, cursor = [], None
    for _ in range(10):
        body = read(client, headers, "limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += targets(body)
        cursor = body["cursor"]
        if not body["has_more"]:
            assert cursor is None
            break
    assert seen == everything


def test_rows_with_the_same_time_page_by_id(world, client, trail):
    headers = world.headers(client, "admin")
    first = read(client, headers, "limit=2&from=2020-08-15&to=2020-08-15")
    rest = read(client, headers, f"limit=2&from=2020-08-15&to=2020-08-15&cursor={first['cursor']}")
    same_time = [i for i in first["items"] + rest["items"] if i["at"] == "2020-08-15T16:30:00Z"]
    assert len(same_time) == 2 and same_time[0]["id"] > same_time[1]["id"]
    assert len(first["items"] + rest["items"]) == 3


@pytest.mark.parametrize("user", ["dt.vangiang", "sv.vangiang", "cv.vg.001"])
def test_only_admins_read_the_trail(world, client, trail, user):
    assert_error(client.get(AUDIT, headers=world.headers(client, user)), 403, "forbidden")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("from=yesterday", 422, "validation_failed"),
        ("from=2020-08-16&to=2020-08-15", 422, "validation_failed"),
        ("limit=1001", 422, "validation_failed"),
        ("target=v-1", 422, "validation_failed"),
        ("cursor=abc", 400, "cursor_invalid"),
    ],
)
def test_refusals(world, client, trail, query, status, code):
    response = client.get(f"{AUDIT}?{query}", headers=world.headers(client, "admin"))
    assert_error(response, status, code)


def test_a_review_is_in_the_trail(world, client):
    from tests.api.review_helpers import canvass

    canvassed = canvass(world, client)
    visit_id = canvassed.visits["new"]
    response = client.post(
        f"/api/v1/visits/{visit_id}/review",
        json={"action": "reject", "comment": "Không có nhà này"},
        headers=world.headers(client, "sv.vangiang"),
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 200, response.get_json()
    body = read(client, world.headers(client, "admin"), "action=visit.review")
    assert len(body["items"]) == 1
    row = body["items"][0]
    assert row["actor"] == "sv.vangiang" and row["target"] == visit_id
    assert row["client_address"] == "192.0.2.7"
    assert row["details"] == {
        "action": "reject",
        "comment": "Không có nhà này",
        "previous_status": "pending",
        "review_status": "rejected",
    }
