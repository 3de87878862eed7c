"""Users API (docs/api-auth.md): who may list, create and change whom; passwords shown once."""

import pytest

# What a tablet sends beside its device id when it logs in (API v1.1).
DEVICE_SECRET = "a-tablet-secret-0123456789abcdefghij"


def auth(world, client, username):
    return world.headers(client, username)


def usernames(response):
    return [u["username"] for u in response.get_json()["items"]]


def test_admin_lists_everyone_with_units(world, client):
    response = client.get("/api/v1/users", headers=auth(world, client, "admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert set(usernames(response)) == set(world.passwords)
    assert body["has_more"] is False
    sv = next(u for u in body["items"] if u["username"] == "sv.vangiang")
    assert sv["role"] == "supervisor" and sv["active"] is True
    assert sv["units"] == [
        {"scheme": "gso-2020", "code": "12019", "name": "Thị trấn Văn Giang", "level": "ward"}
    ]


def test_supervisor_sees_only_canvassers_of_their_wards(world, client):
    headers = auth(world, client, "sv.vangiang")
    response = client.get("/api/v1/users", headers=headers)
    # cv.vg.002 works in a group of the ward: still the supervisor's canvasser.
    assert sorted(usernames(response)) == ["cv.vg.001", "cv.vg.002"]
    response = client.get("/api/v1/users?role=supervisor", headers=headers)
    assert usernames(response) == []
    other_ward = client.get("/api/v1/users?unit=gso-2020:12022", headers=headers)
    assert other_ward.status_code == 404


def test_filters_and_paging(world, client):
    headers = auth(world, client, "admin")
    response = client.get("/api/v1/users?role=canvasser&unit=gso-2020:12019", headers=headers)
    assert sorted(usernames(response)) == ["cv.vg.001", "cv.vg.002"]
    seen, cursor = [], None
    for _ in range(10):
        query = "/api/v1/users?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(query, headers=headers).get_json()
        seen += [u["username"] for u in body["items"]]
        if not body["has_more"]:
            break
        cursor = body["cursor"]
    assert sorted(seen) == sorted(world.passwords)
    assert client.get("/api/v1/users?cursor=forged", headers=headers).get_json()["code"] == (
        "cursor_invalid"
    )
    assert client.get("/api/v1/users?limit=1001", headers=headers).status_code == 422


@pytest.mark.parametrize("username", ["dt.vangiang", "cv.vg.001"])
def test_district_officers_and_canvassers_may_not_manage_users(world, client, username):
    headers = auth(world, client, username)
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    response = client.post(
        "/api/v1/users",
        json={"username": "cv.new.001", "role": "canvasser", "units": ["gso-2020:12019"]},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"


def test_supervisor_creates_a_canvasser_who_can_log_in(world, client):
    headers = auth(world, client, "sv.vangiang")
    response = client.post(
        "/api/v1/users",
        json={
            "username": "cv.vg.010",
            "role": "canvasser",
            "units": ["gso-2020:12019-01"],
            "full_name": "Nguyễn Thị Lan",
        },
        headers=headers,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["units"][0]["code"] == "12019-01"
    assert body["user"]["full_name"] == "Nguyễn Thị Lan"
    login = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.010",
            "password": body["password"],
            "device_id": "0b4f5d1e-58a5-4c1e-9d7e-2a3b4c5d6e7f",
            "device_secret": DEVICE_SECRET,
        },
    )
    assert login.status_code == 200
    assert login.get_json()["user"]["units"][0]["code"] == "12019-01"


def test_supervisor_limits(world, client):
    headers = auth(world, client, "sv.vangiang")
    as_supervisor = client.post(
        "/api/v1/users",
        json={"username": "sv.new", "role": "supervisor", "units": ["gso-2020:12019"]},
        headers=headers,
    )
    assert as_supervisor.status_code == 403
    other_ward = client.post(
        "/api/v1/users",
        json={"username": "cv.new.002", "role": "canvasser", "units": ["gso-2020:12022"]},
        headers=headers,
    )
    assert other_ward.status_code == 404
    for name in ("cv.xq.001", "sv.xuanquan", "nobody"):
        response = client.patch(f"/api/v1/users/{name}", json={"active": False}, headers=headers)
        assert response.status_code == 404, name
        assert client.post(f"/api/v1/users/{name}/password", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "X", "role": "canvasser", "units": ["gso-2020:12019"]}, "username"),
        ({"username": "cv.a.01", "role": "boss", "units": ["gso-2020:12019"]}, "role"),
        ({"username": "cv.a.01", "role": "canvasser", "units": ["12019"]}, "units"),
        ({"username": "cv.a.01", "role": "canvasser", "units": ["gso-2020:99999"]}, "units"),
        ({"username": "cv.a.01", "role": "canvasser", "units": []}, "units"),
        ({"username": "cv.a.01", "role": "canvasser", "units": ["gso-2020:326"]}, "units"),
        ({"username": "sv.a.01", "role": "supervisor", "units": ["gso-2020:12019-01"]}, "units"),
        ({"username": "admin2", "role": "admin", "units": ["gso-2020:12019"]}, "units"),
        ({"username": "admin", "role": "admin"}, "username"),
        (
            {
                "username": "cv.a.01",
                "role": "canvasser",
                "units": ["gso-2020:12019"],
                "password": "x",
            },
            "password",
        ),
    ],
)
def test_create_refuses_bad_input_and_changes_nothing(world, client, body, field):
    headers = auth(world, client, "admin")
    before = client.get("/api/v1/users", headers=headers).get_json()["items"]
    response = client.post("/api/v1/users", json=body, headers=headers)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get("/api/v1/users", headers=headers).get_json()["items"] == before


def test_units_change_expires_old_tokens(world, client):
    old = auth(world, client, "cv.vg.001")
    admin = auth(world, client, "admin")
    response = client.patch(
        "/api/v1/users/cv.vg.001", json={"units": ["gso-2020:12022"]}, headers=admin
    )
    assert response.status_code == 200
    assert [u["code"] for u in response.get_json()["units"]] == ["12022"]
    stale = client.get("/api/v1/units", headers=old)
    assert stale.status_code == 401
    assert stale.get_json()["code"] == "token_expired"


def test_a_canvasser_shared_with_another_ward_is_the_admins_to_change(world, client):
    admin = auth(world, client, "admin")
    client.patch(
        "/api/v1/users/cv.vg.001",
        json={"units": ["gso-2020:12019", "gso-2020:12022"]},
        headers=admin,
    )
    sv = auth(world, client, "sv.vangiang")
    response = client.patch(
        "/api/v1/users/cv.vg.001", json={"units": ["gso-2020:12019-01"]}, headers=sv
    )
    assert response.status_code == 404
    response = client.patch(
        "/api/v1/users/cv.vg.001", json={"units": ["gso-2020:12019-01"]}, headers=admin
    )
    assert response.status_code == 200
    assert [u["code"] for u in response.get_json()["units"]] == ["12019-01"]


def test_deactivation_ends_sessions(world, client):
    login = world.login(client, "cv.vg.001")
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    admin = auth(world, client, "sv.vangiang")
    response = client.patch("/api/v1/users/cv.vg.001", json={"active": False}, headers=admin)
    assert response.status_code == 200 and response.get_json()["active"] is False
    after = client.get("/api/v1/units", headers=headers)
    assert after.status_code == 401 and after.get_json()["code"] == "token_invalid"
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert refresh.status_code == 401
    again = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.001",
            "password": world.passwords["cv.vg.001"],
            "device_id": "0b4f5d1e-58a5-4c1e-9d7e-2a3b4c5d6e7f",
        },
    )
    assert again.status_code == 401


def test_patch_validation(world, client):
    admin = auth(world, client, "admin")
    assert client.patch("/api/v1/users/cv.vg.001", json={}, headers=admin).status_code == 422
    bad = client.patch("/api/v1/users/cv.vg.001", json={"role": "admin"}, headers=admin)
    assert bad.status_code == 422 and "role" in bad.get_json()["errors"]
    bad = client.patch("/api/v1/users/cv.vg.001", json={"active": "no"}, headers=admin)
    assert bad.status_code == 422


def test_password_reset_gives_a_new_password_once(world, client):
    sv = auth(world, client, "sv.vangiang")
    response = client.post("/api/v1/users/cv.vg.002/password", headers=sv)
    assert response.status_code == 200
    new = response.get_json()["password"]
    device = "0b4f5d1e-58a5-4c1e-9d7e-2a3b4c5d6e70"
    old_login = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.002",
            "password": world.passwords["cv.vg.002"],
            "device_id": device,
            "device_secret": DEVICE_SECRET,
        },
    )
    assert old_login.status_code == 401
    new_login = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.002",
            "password": new,
            "device_id": device,
            "device_secret": DEVICE_SECRET,
        },
    )
    assert new_login.status_code == 200


def test_every_user_change_is_audited(world, client, app):
    from field_server.extensions import db
    from field_server.models import AuditEntry

    admin = auth(world, client, "admin")
    client.post(
        "/api/v1/users",
        json={"username": "cv.vg.020", "role": "canvasser", "units": ["gso-2020:12019"]},
        headers=admin,
    )
    client.patch("/api/v1/users/cv.vg.020", json={"full_name": "Trần Văn B"}, headers=admin)
    client.post("/api/v1/users/cv.vg.020/password", headers=admin)
    with app.app_context():
        rows = db.session.query(AuditEntry).filter_by(target="cv.vg.020").all()
        assert [(r.action, r.actor) for r in rows] == [
            ("user.create", "admin"),
            ("user.update", "admin"),
            ("user.password_reset", "admin"),
        ]
        assert all(r.client_address for r in rows)
