"""GET /api/v1/units (docs/api.md): each caller sees their units, what lies below, and the
ancestors."""

import pytest


def refs(response):
    return {f"{u['scheme']}:{u['code']}" for u in response.get_json()["items"]}


ALL = {
    "gso-2020:33",
    "gso-2020:326",
    "gso-2020:323",
    "gso-2020:12019",
    "gso-2020:12022",
    "gso-2020:11953",
    "gso-2020:12019-01",
    "gso-2020:12022-01",
}


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("admin", ALL),
        (
            "dt.vangiang",
            {
                "gso-2020:33",
                "gso-2020:326",
                "gso-2020:12019",
                "gso-2020:12022",
                "gso-2020:12019-01",
                "gso-2020:12022-01",
            },
        ),
        ("sv.vangiang", {"gso-2020:33", "gso-2020:326", "gso-2020:12019", "gso-2020:12019-01"}),
        ("cv.vg.002", {"gso-2020:33", "gso-2020:326", "gso-2020:12019", "gso-2020:12019-01"}),
        ("cv.xq.001", {"gso-2020:33", "gso-2020:326", "gso-2020:12022", "gso-2020:12022-01"}),
    ],
)
def test_scope(world, client, username, expected):
    response = client.get("/api/v1/units", headers=world.headers(client, username))
    assert response.status_code == 200
    assert refs(response) == expected


def test_unit_fields(world, client):
    response = client.get(
        "/api/v1/units?level=ward&parent=gso-2020:326", headers=world.headers(client, "admin")
    )
    items = response.get_json()["items"]
    assert items == [
        {
            "scheme": "gso-2020",
            "code": "12019",
            "name": "Thị trấn Văn Giang",
            "level": "ward",
            "parent": "gso-2020:326",
            "adult_population": 9000,
            "target_rate": 0.6,
        },
        {
            "scheme": "gso-2020",
            "code": "12022",
            "name": "Xã Xuân Quan",
            "level": "ward",
            "parent": "gso-2020:326",
            "adult_population": 7000,
            "target_rate": 0.6,
        },
    ]
    top = client.get("/api/v1/units?level=province", headers=world.headers(client, "admin"))
    assert top.get_json()["items"][0]["parent"] is None
    assert top.get_json()["items"][0]["adult_population"] is None


def test_paging_yields_each_unit_once(world, client):
    headers = world.headers(client, "admin")
    seen, cursor = [], ""
    for _ in range(20):
        body = client.get(f"/api/v1/units?limit=3&cursor={cursor}", headers=headers).get_json()
        seen += [f"{u['scheme']}:{u['code']}" for u in body["items"]]
        if not body["has_more"]:
            assert body["cursor"] is None
            break
        cursor = body["cursor"]
    assert sorted(seen) == sorted(ALL)


def test_cursor_is_bound_to_the_caller(world, client):
    admin = world.headers(client, "admin")
    cursor = client.get("/api/v1/units?limit=1", headers=admin).get_json()["cursor"]
    other = client.get(
        f"/api/v1/units?cursor={cursor}", headers=world.headers(client, "sv.vangiang")
    )
    assert other.status_code == 400
    assert other.get_json()["code"] == "cursor_invalid"
    damaged = client.get(f"/api/v1/units?cursor={cursor[:-2]}xx", headers=admin)
    assert damaged.get_json()["code"] == "cursor_invalid"


def test_bad_queries(world, client):
    headers = world.headers(client, "sv.vangiang")
    assert client.get("/api/v1/units?level=city", headers=headers).status_code == 422
    assert client.get("/api/v1/units?colour=red", headers=headers).status_code == 422
    assert client.get("/api/v1/units?parent=12019", headers=headers).status_code == 422
    hidden = client.get("/api/v1/units?parent=gso-2020:12022", headers=headers)
    assert hidden.status_code == 404
    missing = client.get("/api/v1/units?parent=gso-2020:00000", headers=headers)
    assert missing.status_code == 404
    assert hidden.get_json() == missing.get_json() | {"message": hidden.get_json()["message"]}


def test_needs_a_token(client):
    response = client.get("/api/v1/units")
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
