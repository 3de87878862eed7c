"""POST /api/v1/auth/login: the answer, devices, refusals, and failed-login limiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from field_server.extensions import db
from field_server.models import AuditEntry, Device, LoginFailure, RefreshFamily, RefreshToken, User
from field_server.store.engine import write_transaction
from tests.conftest import device_secret_for

LOGIN = "/api/v1/auth/login"
TABLET = "5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f"
OTHER_TABLET = "0d2a6b7c-1e2f-4a3b-8c4d-5e6f7a8b9c0d"


def post_login(client, username, password, **extra):
    """A login as the tablet would send it: a device id comes with that device's secret."""
    if extra.get("device_id") and "device_secret" not in extra:
        extra["device_secret"] = device_secret_for(extra["device_id"])
    return client.post(LOGIN, json={"username": username, "password": password, **extra})


def assert_error(response, status, code):
    body = response.get_json()
    assert response.status_code == status, body
    assert body["ok"] is False
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


# --- success --------------------------------------------------------------------------------


def test_canvasser_login_answers_tokens_user_units_and_device(client, world):
    body = world.login(client, "cv.vg.001", device_id=TABLET, device_name="Tab 7 - tổ 3")
    assert set(body) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "user",
        "device",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["user"] == {
        "username": "cv.vg.001",
        "role": "canvasser",
        "units": [
            {"scheme": "gso-2020", "code": "12019", "name": "Thị trấn Văn Giang", "level": "ward"}
        ],
    }
    assert body["device"] == {"device_id": TABLET, "last_mutation_id": 0}
    # The access token works on a real endpoint.
    units = client.get("/api/v1/units", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert units.status_code == 200


def test_supervisor_without_device_gets_device_null(client, world):
    body = world.login(client, "sv.vangiang")
    assert body["device"] is None
    assert body["user"]["role"] == "supervisor"
    assert [u["code"] for u in body["user"]["units"]] == ["12019"]


def test_admin_has_no_units(client, world):
    body = world.login(client, "admin")
    assert body["user"] == {"username": "admin", "role": "admin", "units": []}


def test_first_login_registers_device_and_each_login_opens_a_family(app, client, world):
    before = datetime.now(UTC)
    world.login(client, "cv.vg.001", device_id=TABLET, device_name="Tab 7")
    world.login(client, "cv.vg.001", device_id=TABLET)
    with app.app_context():
        device = db.session.get(Device, TABLET)
        owner = db.session.get(User, device.user_id)
        assert owner.username == "cv.vg.001"
        assert device.name == "Tab 7"  # kept when a later login gives no name
        assert device.last_seen_at >= before
        families = db.session.execute(select(RefreshFamily)).scalars().all()
        assert len(families) == 2
        assert {f.device_id for f in families} == {TABLET}
        assert db.session.execute(select(func.count()).select_from(RefreshToken)).scalar() == 2


def test_login_updates_last_seen(app, client, world):
    world.login(client, "cv.vg.001", device_id=TABLET)
    old = datetime(2020, 8, 1, tzinfo=UTC)
    with app.app_context(), write_transaction():
        db.session.execute(update(Device).values(last_seen_at=old))
    world.login(client, "cv.vg.001", device_id=TABLET)
    with app.app_context():
        assert db.session.get(Device, TABLET).last_seen_at > old


def test_device_numbering_is_reported_so_a_wiped_tablet_can_go_on(app, client, world):
    world.login(client, "cv.vg.001", device_id=TABLET)
    with app.app_context(), write_transaction():
        db.session.execute(update(Device).values(last_mutation_id=42))
    body = world.login(client, "cv.vg.001", device_id=TABLET)
    assert body["device"] == {"device_id": TABLET, "last_mutation_id": 42}


def test_shared_tablet_passes_to_next_user_and_keeps_numbering(app, client, world):
    first = world.login(client, "cv.vg.001", device_id=TABLET)
    with app.app_context(), write_transaction():
        db.session.execute(update(Device).values(last_mutation_id=7))
    second = world.login(client, "cv.vg.002", device_id=TABLET)
    assert second["device"] == {"device_id": TABLET, "last_mutation_id": 7}
    with app.app_context():
        owner = db.session.get(User, db.session.get(Device, TABLET).user_id)
        assert owner.username == "cv.vg.002"
    # The previous owner's session on that tablet has ended.
    old_access = {"Authorization": f"Bearer {first['access_token']}"}
    assert_error(client.get("/api/v1/units", headers=old_access), 401, "token_invalid")
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(refreshed, 401, "token_invalid")
    new_access = {"Authorization": f"Bearer {second['access_token']}"}
    assert client.get("/api/v1/units", headers=new_access).status_code == 200


def test_revoked_device_cannot_log_in(app, client, world):
    world.login(client, "cv.vg.001", device_id=TABLET)
    with app.app_context(), write_transaction():
        db.session.execute(update(Device).values(revoked_at=datetime.now(UTC)))
    response = post_login(client, "cv.vg.001", world.passwords["cv.vg.001"], device_id=TABLET)
    assert_error(response, 401, "device_revoked")
    # A new device id gets in.
    assert world.login(client, "cv.vg.001", device_id=OTHER_TABLET)["device"]["device_id"] == (
        OTHER_TABLET
    )


# --- refusals -------------------------------------------------------------------------------


def test_canvasser_without_device_id_is_422_naming_the_field(client, world):
    response = post_login(client, "cv.vg.001", world.passwords["cv.vg.001"])
    body = assert_error(response, 422, "validation_failed")
    assert list(body["errors"]) == ["device_id"]


def test_missing_device_id_is_not_revealed_before_the_password_is_right(client, world):
    response = post_login(client, "cv.vg.001", "wrong password")
    assert_error(response, 401, "invalid_credentials")


@pytest.mark.parametrize(
    "bad",
    [
        "5B0C3F1E-8D2A-4C1B-9E7F-0A1B2C3D4E5F",
        "{5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f}",
        "5b0c3f1e8d2a4c1b9e7f0a1b2c3d4e5f",
        "tablet-7",
        "",
    ],
)
def test_device_id_must_be_a_lowercase_uuid(client, world, bad):
    response = post_login(client, "sv.vangiang", world.passwords["sv.vangiang"], device_id=bad)
    body = assert_error(response, 422, "validation_failed")
    assert "device_id" in body["errors"]


def test_unknown_field_is_422(client, world):
    response = post_login(client, "admin", world.passwords["admin"], role="admin")
    body = assert_error(response, 422, "validation_failed")
    assert "role" in body["errors"]


@pytest.mark.parametrize("missing", ["username", "password"])
def test_missing_field_is_422(client, world, missing):
    body = {"username": "admin", "password": world.passwords["admin"]}
    del body[missing]
    response = client.post(LOGIN, json=body)
    assert missing in assert_error(response, 422, "validation_failed")["errors"]


def test_form_body_is_415_and_broken_json_400(client, world):
    form = client.post(LOGIN, data={"username": "admin", "password": "x"})
    assert_error(form, 415, "unsupported_media_type")
    broken = client.post(LOGIN, data="{nope", content_type="application/json")
    assert_error(broken, 400, "json_invalid")


def test_inactive_user_gets_invalid_credentials_even_with_the_right_password(app, client, world):
    with app.app_context(), write_transaction():
        db.session.execute(update(User).where(User.username == "sv.vangiang").values(active=False))
    response = post_login(client, "sv.vangiang", world.passwords["sv.vangiang"])
    assert_error(response, 401, "invalid_credentials")


def test_unknown_user_and_wrong_password_answer_identically(client, world):
    unknown = post_login(client, "nobody.here", "whatever-password")
    wrong = post_login(client, "sv.vangiang", "whatever-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()
    assert unknown.get_json()["code"] == "invalid_credentials"
    english = client.post(
        LOGIN,
        json={"username": "nobody.here", "password": "x"},
        headers={"Accept-Language": "en"},
    )
    assert english.get_json()["message"] == "Wrong username or password."


def test_an_unknown_user_costs_one_full_password_verification(app, client, world, monkeypatch):
    """The work behind "about the same time": an unknown username is verified against a
    hash of the same cost as a real one. (The times themselves are measured in
    tests/benchmarks/bench_login_timing.py: wall-clock asserts flake.)"""
    from argon2 import Parameters, PasswordHasher, extract_parameters

    checked: list[Parameters] = []
    real_verify = PasswordHasher.verify

    def verify(self, hash, password):
        checked.append(extract_parameters(hash))
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    assert post_login(client, "sv.vangiang", "a-wrong-password").status_code == 401
    assert post_login(client, "nobody.at.all", "a-wrong-password").status_code == 401
    assert len(checked) == 2
    assert checked[0] == checked[1]  # same algorithm, cost, memory, lanes and lengths


def test_failed_login_is_audited_with_the_username_as_target(app, client, world):
    post_login(
        client,
        "sv.vangiang",
        "nope",
    )
    post_login(client, "ghost", "nope")
    with app.app_context():
        rows = (
            db.session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "login.failed")
                .order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
        assert [r.target for r in rows] == ["sv.vangiang", "ghost"]
        assert all(r.client_address == "127.0.0.1" for r in rows)


# --- failed-login limiting ------------------------------------------------------------------


def test_eleventh_failure_within_a_minute_is_429_across_two_server_processes(make_app, app, world):
    # Two app instances on one database stand for two server processes: the counter must
    # be shared, not kept in either one's memory.
    other = make_app()
    clients = [app.test_client(), other.test_client()]
    for attempt in range(10):
        response = post_login(clients[attempt % 2], "sv.vangiang", f"guess-{attempt}")
        assert_error(response, 401, "invalid_credentials")
    limited = post_login(clients[0], "sv.vangiang", "guess-10")
    body = assert_error(limited, 429, "rate_limited")
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["details"] == {"retry_after": retry_after}
    # The right password is refused too while the limit holds, by either process.
    right = post_login(clients[1], "sv.vangiang", world.passwords["sv.vangiang"])
    assert_error(right, 429, "rate_limited")
    # Other users are not affected.
    assert world.login(clients[1], "sv.xuanquan")["user"]["username"] == "sv.xuanquan"


def test_retry_after_counts_down_to_when_the_oldest_failure_leaves(app, client, world):
    for attempt in range(10):
        post_login(client, "sv.vangiang", f"guess-{attempt}")
    now = datetime.now(UTC)
    with app.app_context(), write_transaction():
        oldest = db.session.execute(select(func.min(LoginFailure.id))).scalar()
        # The oldest failure happened 50 s ago: it leaves the minute in about 10 s.
        db.session.execute(
            update(LoginFailure)
            .where(LoginFailure.id == oldest)
            .values(at=now - timedelta(seconds=50))
        )
    limited = post_login(client, "sv.vangiang", "again")
    assert 9 <= int(limited.headers["Retry-After"]) <= 11


def test_limit_lifts_when_failures_leave_the_window(app, client, world):
    for attempt in range(10):
        post_login(client, "sv.vangiang", f"guess-{attempt}")
    assert post_login(client, "sv.vangiang", "x").status_code == 429
    with app.app_context(), write_transaction():
        db.session.execute(
            update(LoginFailure).values(at=datetime.now(UTC) - timedelta(seconds=61))
        )
    assert world.login(client, "sv.vangiang")["user"]["username"] == "sv.vangiang"


def test_successful_login_does_not_reset_the_counter(client, world):
    for attempt in range(9):
        post_login(client, "sv.vangiang", f"guess-{attempt}")
    world.login(client, "sv.vangiang")
    assert post_login(client, "sv.vangiang", "guess-9").status_code == 401
    assert_error(post_login(client, "sv.vangiang", "guess-10"), 429, "rate_limited")


def test_unknown_usernames_are_limited_too(client, world):
    for attempt in range(10):
        assert post_login(client, "ghost", f"guess-{attempt}").status_code == 401
    assert_error(post_login(client, "ghost", "guess"), 429, "rate_limited")


def test_clear_failures_unlocks_a_user(app, client, world):
    from field_server.store.logins import clear_failures

    for attempt in range(10):
        post_login(client, "sv.vangiang", f"guess-{attempt}")
    post_login(client, "sv.xuanquan", "guess")
    with app.app_context(), write_transaction():
        assert clear_failures("sv.vangiang") == 10
    assert world.login(client, "sv.vangiang")["user"]["username"] == "sv.vangiang"
    with app.app_context():
        # Only that user's rows went.
        assert db.session.execute(select(LoginFailure.username)).scalars().all() == ["sv.xuanquan"]


def test_old_failures_are_deleted_when_a_new_one_is_recorded(app, client, world):
    post_login(client, "sv.vangiang", "guess")
    with app.app_context(), write_transaction():
        db.session.execute(update(LoginFailure).values(at=datetime.now(UTC) - timedelta(minutes=5)))
    post_login(client, "sv.vangiang", "guess again")
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(LoginFailure)).scalar() == 1


def test_per_address_limit_spans_usernames(make_app, app, world):
    limited_app = make_app(LOGIN_MAX_FAILURES_PER_ADDRESS=3)
    client = limited_app.test_client()
    for username in ("a.one", "a.two", "a.three"):
        assert post_login(client, username, "x").status_code == 401
    assert_error(post_login(client, "a.four", "x"), 429, "rate_limited")
    # Another address is not affected.
    elsewhere = limited_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert world.login(elsewhere, "sv.vangiang")["device"] is None


def test_forwarded_for_counts_only_behind_a_trusted_proxy(make_app, app, world):
    untrusted = make_app(LOGIN_MAX_FAILURES_PER_ADDRESS=2).test_client()
    for n in range(2):
        post_login(untrusted, f"u.{n}", "x", headers=None) if False else untrusted.post(
            LOGIN,
            json={"username": f"u.{n}", "password": "x"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    # The header was ignored: both failures counted against 127.0.0.1.
    spoofed = untrusted.post(
        LOGIN,
        json={"username": "u.9", "password": "x"},
        headers={"X-Forwarded-For": "198.51.100.77"},
    )
    assert_error(spoofed, 429, "rate_limited")

    proxied = make_app(LOGIN_MAX_FAILURES_PER_ADDRESS=2, TRUSTED_PROXIES="127.0.0.1").test_client()
    # Behind a trusted proxy each phone's own address is counted, not the proxy's.
    response = proxied.post(
        LOGIN,
        json={"username": "u.10", "password": "x"},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert response.status_code == 401
    with app.app_context():
        addresses = (
            db.session.execute(select(LoginFailure.address).where(LoginFailure.username == "u.10"))
            .scalars()
            .all()
        )
        assert addresses == ["198.51.100.200"]
