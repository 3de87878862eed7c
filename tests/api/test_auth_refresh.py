"""POST /api/v1/auth/refresh and /auth/logout: rotation, lost responses, reuse, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select, update

from field_server.extensions import db
from field_server.models import AuditEntry, Device, RefreshFamily, RefreshToken
from field_server.store import people
from field_server.store.engine import write_transaction

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
UNITS = "/api/v1/units"
TABLET = "5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f"
OTHER_TABLET = "0d2a6b7c-1e2f-4a3b-8c4d-5e6f7a8b9c0d"


def refresh(client, token, **extra):
    return client.post(REFRESH, json={"refresh_token": token, **extra})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status, code):
    body = response.get_json()
    assert response.status_code == status, body
    assert body["ok"] is False and body["code"] == code and body["status"] == status
    return body


def token_id(value):
    return value.split(".", 1)[0]


def age_rotation(app, refresh_value, seconds):
    """Pretend the token was rotated ``seconds`` ago (instead of sleeping)."""
    with app.app_context(), write_transaction():
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id(refresh_value))
            .values(rotated_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


@pytest.fixture
def tablet(client, world):
    return world.login(client, "cv.vg.001", device_id=TABLET)


# --- rotation -----------------------------------------------------------------------------


def test_refresh_rotates_to_a_new_working_pair(app, client, tablet):
    response = refresh(client, tablet["refresh_token"], device_id=TABLET)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_token"] != tablet["refresh_token"]
    assert body["access_token"] != tablet["access_token"]
    assert body["user"]["username"] == "cv.vg.001"
    assert body["device"] == {"device_id": TABLET, "last_mutation_id": 0}
    assert client.get(UNITS, headers=bearer(body["access_token"])).status_code == 200
    with app.app_context():
        old = db.session.get(RefreshToken, token_id(tablet["refresh_token"]))
        assert old.replaced_by == token_id(body["refresh_token"])
        assert old.rotated_at is not None and old.rotated_from_address == "127.0.0.1"
        new = db.session.get(RefreshToken, old.replaced_by)
        assert new.family_id == old.family_id
        assert (
            new.access_jti
            == jwt.decode(body["access_token"], options={"verify_signature": False})["jti"]
        )


def test_the_new_refresh_token_rotates_again(client, tablet):
    second = refresh(client, tablet["refresh_token"]).get_json()
    third = refresh(client, second["refresh_token"])
    assert third.status_code == 200
    assert third.get_json()["refresh_token"] not in (
        tablet["refresh_token"],
        second["refresh_token"],
    )


def test_refresh_updates_the_device_last_seen(app, client, tablet):
    old = datetime(2020, 8, 1, tzinfo=UTC)
    with app.app_context(), write_transaction():
        db.session.execute(update(Device).values(last_seen_at=old))
    refresh(client, tablet["refresh_token"])
    with app.app_context():
        assert db.session.get(Device, TABLET).last_seen_at > old


# --- a lost response: the same pair again ------------------------------------------------


def test_same_device_within_leeway_gets_the_very_same_pair(client, tablet):
    first = refresh(client, tablet["refresh_token"], device_id=TABLET)
    again = refresh(client, tablet["refresh_token"], device_id=TABLET)
    assert first.status_code == again.status_code == 200
    assert again.get_json()["access_token"] == first.get_json()["access_token"]
    assert again.get_json()["refresh_token"] == first.get_json()["refresh_token"]
    # And the family lives on: the pair it got works and rotates.
    assert client.get(UNITS, headers=bearer(again.get_json()["access_token"])).status_code == 200
    assert refresh(client, again.get_json()["refresh_token"]).status_code == 200


def test_same_address_without_device_id_within_leeway_gets_the_same_pair(client, world):
    session = world.login(client, "sv.vangiang")
    first = refresh(client, session["refresh_token"]).get_json()
    again = refresh(client, session["refresh_token"])
    assert again.status_code == 200
    assert again.get_json()["refresh_token"] == first["refresh_token"]
    assert again.get_json()["access_token"] == first["access_token"]


def test_leeway_does_not_apply_once_the_successor_rotated(client, tablet):
    second = refresh(client, tablet["refresh_token"], device_id=TABLET).get_json()
    third = refresh(client, second["refresh_token"], device_id=TABLET).get_json()
    assert_error(refresh(client, tablet["refresh_token"], device_id=TABLET), 401, "refresh_reused")
    assert_error(refresh(client, third["refresh_token"]), 401, "refresh_reused")


# --- reuse ----------------------------------------------------------------------------------


def test_reuse_after_the_leeway_ends_the_family(app, client, tablet):
    newer = refresh(client, tablet["refresh_token"], device_id=TABLET).get_json()
    age_rotation(app, tablet["refresh_token"], 31)
    body = assert_error(
        refresh(client, tablet["refresh_token"], device_id=TABLET), 401, "refresh_reused"
    )
    assert body["message"]
    # The newer token of the family stops working too, and keeps saying why.
    assert_error(refresh(client, newer["refresh_token"], device_id=TABLET), 401, "refresh_reused")
    with app.app_context():
        family = db.session.execute(select(RefreshFamily)).scalar_one()
        assert family.revoked_reason == "reuse" and family.revoked_at is not None
        audit = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "refresh.reused")
        ).scalar_one()
        assert audit.actor == "cv.vg.001" and audit.target == family.id


def test_leeway_zero_means_any_reuse_ends_the_family(make_app, app, world):
    strict = make_app(REFRESH_REUSE_LEEWAY=0).test_client()
    session = world.login(strict, "cv.vg.001", device_id=TABLET)
    newer = refresh(strict, session["refresh_token"], device_id=TABLET).get_json()
    assert_error(refresh(strict, session["refresh_token"], device_id=TABLET), 401, "refresh_reused")
    assert_error(refresh(strict, newer["refresh_token"], device_id=TABLET), 401, "refresh_reused")


def test_reuse_by_another_device_within_leeway_ends_the_family(client, tablet):
    newer = refresh(client, tablet["refresh_token"], device_id=TABLET).get_json()
    stolen = refresh(client, tablet["refresh_token"], device_id=OTHER_TABLET)
    assert_error(stolen, 401, "refresh_reused")
    assert_error(refresh(client, newer["refresh_token"], device_id=TABLET), 401, "refresh_reused")


def test_reuse_from_another_address_without_device_id_ends_the_family(app, client, world):
    session = world.login(client, "sv.vangiang")
    newer = refresh(client, session["refresh_token"]).get_json()
    thief = app.test_client()
    thief.environ_base["REMOTE_ADDR"] = "203.0.113.50"
    assert_error(refresh(thief, session["refresh_token"]), 401, "refresh_reused")
    assert_error(refresh(client, newer["refresh_token"]), 401, "refresh_reused")


def test_reuse_revocation_is_committed_even_though_the_answer_is_an_error(make_app, app, world):
    # A second server process reads the database afresh: the family must be revoked there.
    client, other = app.test_client(), make_app().test_client()
    session = world.login(client, "cv.vg.001", device_id=TABLET)
    newer = refresh(client, session["refresh_token"], device_id=TABLET).get_json()
    assert_error(
        refresh(client, session["refresh_token"], device_id=OTHER_TABLET), 401, "refresh_reused"
    )
    assert_error(refresh(other, newer["refresh_token"], device_id=TABLET), 401, "refresh_reused")


def test_other_logins_of_the_user_survive_a_reuse(client, world):
    phone = world.login(client, "sv.vangiang")
    laptop = world.login(client, "sv.vangiang")
    refresh(client, phone["refresh_token"])
    assert_error(
        refresh(client, phone["refresh_token"], device_id=OTHER_TABLET), 401, "refresh_reused"
    )
    assert refresh(client, laptop["refresh_token"]).status_code == 200


# --- other refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "code"),
    [
        ("garbage", 401, "token_invalid"),
        ("abc.def", 401, "token_invalid"),
        ("", 422, "validation_failed"),
        ("x" * 300, 422, "validation_failed"),
    ],
)
def test_garbled_refresh_token(client, world, value, status, code):
    assert_error(refresh(client, value), status, code)


def test_forged_refresh_token_is_invalid(client, tablet):
    tid, mac = tablet["refresh_token"].split(".")
    forged = f"{tid}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    assert_error(refresh(client, forged), 401, "token_invalid")
    # Someone else's genuine-looking id with a made-up MAC is no better.
    assert_error(
        refresh(client, "00000000-0000-4000-8000-000000000000.abcdef"), 401, "token_invalid"
    )


def test_genuine_value_of_a_token_that_does_not_exist_is_invalid(app, client, world):
    from field_server.auth.tokens import refresh_token_value

    with app.test_request_context():
        value = refresh_token_value("11111111-1111-4111-8111-111111111111")
    assert_error(refresh(client, value), 401, "token_invalid")


def test_expired_refresh_token_is_token_expired(app, client, tablet):
    with app.app_context(), write_transaction():
        db.session.execute(
            update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_error(refresh(client, tablet["refresh_token"]), 401, "token_expired")


def test_refresh_tokens_live_thirty_days(app, client, tablet):
    with app.app_context():
        token = db.session.get(RefreshToken, token_id(tablet["refresh_token"]))
        assert token.expires_at - token.issued_at == timedelta(days=30)


def test_revoked_device_refresh_is_device_revoked(app, client, world, tablet):
    headers = world.headers(client, "sv.vangiang")
    assert client.post(f"/api/v1/devices/{TABLET}/revoke", headers=headers).status_code == 200
    assert_error(refresh(client, tablet["refresh_token"]), 401, "device_revoked")


def test_password_change_ends_sessions(app, client, world, tablet):
    with app.app_context(), write_transaction():
        people.set_password_hash(people.get_user("cv.vg.001"), "x", datetime.now(UTC))
    assert_error(refresh(client, tablet["refresh_token"]), 401, "token_invalid")


def test_inactive_user_cannot_refresh_even_if_the_family_is_open(app, client, world, tablet):
    from field_server.models import User

    with app.app_context(), write_transaction():
        db.session.execute(update(User).where(User.username == "cv.vg.001").values(active=False))
    assert_error(refresh(client, tablet["refresh_token"]), 401, "token_invalid")


def test_unrotated_token_presented_for_another_device_is_refused_but_not_revoked(client, tablet):
    assert_error(
        refresh(client, tablet["refresh_token"], device_id=OTHER_TABLET), 401, "token_invalid"
    )
    assert refresh(client, tablet["refresh_token"], device_id=TABLET).status_code == 200


def test_refresh_refuses_unknown_fields(client, tablet):
    response = refresh(client, tablet["refresh_token"], username="x")
    assert "username" in assert_error(response, 422, "validation_failed")["errors"]


# --- logout -------------------------------------------------------------------------------


def test_logout_on_a_device_ends_its_sessions(client, world, tablet):
    response = client.post(LOGOUT, headers=bearer(tablet["access_token"]))
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    assert_error(refresh(client, tablet["refresh_token"]), 401, "token_invalid")
    # The user's sessions elsewhere are untouched.
    other = world.login(client, "cv.vg.001", device_id=OTHER_TABLET)
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_logout_without_device_ends_only_the_calling_session(client, world):
    browser = world.login(client, "sv.vangiang")
    elsewhere = world.login(client, "sv.vangiang")
    assert client.post(LOGOUT, headers=bearer(browser["access_token"])).status_code == 200
    assert_error(refresh(client, browser["refresh_token"]), 401, "token_invalid")
    assert refresh(client, elsewhere["refresh_token"]).status_code == 200


def test_logout_finds_the_session_of_a_rotated_access_token(client, world):
    session = world.login(client, "sv.vangiang")
    rotated = refresh(client, session["refresh_token"]).get_json()
    assert client.post(LOGOUT, headers=bearer(rotated["access_token"]), json={}).status_code == 200
    assert_error(refresh(client, rotated["refresh_token"]), 401, "token_invalid")


def test_logout_with_a_refresh_token_ends_that_family(client, world):
    one = world.login(client, "sv.vangiang")
    two = world.login(client, "sv.vangiang")
    response = client.post(
        LOGOUT, headers=bearer(one["access_token"]), json={"refresh_token": two["refresh_token"]}
    )
    assert response.status_code == 200
    assert_error(refresh(client, two["refresh_token"]), 401, "token_invalid")
    assert refresh(client, one["refresh_token"]).status_code == 200


def test_logout_refuses_someone_elses_refresh_token(client, world):
    mine = world.login(client, "sv.vangiang")
    theirs = world.login(client, "sv.xuanquan")
    response = client.post(
        LOGOUT,
        headers=bearer(mine["access_token"]),
        json={"refresh_token": theirs["refresh_token"]},
    )
    assert "refresh_token" in assert_error(response, 422, "validation_failed")["errors"]
    assert refresh(client, theirs["refresh_token"]).status_code == 200


def test_logout_needs_a_valid_access_token(client, tablet):
    assert_error(client.post(LOGOUT), 401, "token_invalid")
    assert refresh(client, tablet["refresh_token"]).status_code == 200


def test_logout_is_idempotent_and_refuses_unknown_fields(client, world):
    session = world.login(client, "sv.vangiang")
    assert client.post(LOGOUT, headers=bearer(session["access_token"])).status_code == 200
    assert client.post(LOGOUT, headers=bearer(session["access_token"])).status_code == 200
    bad = client.post(LOGOUT, headers=bearer(session["access_token"]), json={"all": True})
    assert "all" in assert_error(bad, 422, "validation_failed")["errors"]


# --- concurrency --------------------------------------------------------------------------


def test_two_processes_rotating_one_token_at_once_hand_out_one_pair(make_app, app, world):
    # A flaky link makes a tablet send the same refresh twice, and a load balancer gives the
    # two copies to two server processes. One rotates; the other must wait for it and then
    # answer the same pair, not rotate a second time (which would fork the family).
    import threading

    session = world.login(app.test_client(), "cv.vg.001", device_id=TABLET)
    clients = [app.test_client(), make_app().test_client()]
    barrier = threading.Barrier(2)
    answers = [None, None]

    def present(index):
        barrier.wait()
        answers[index] = refresh(clients[index], session["refresh_token"], device_id=TABLET)

    threads = [threading.Thread(target=present, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200], [a.get_json() for a in answers]
    assert answers[0].get_json()["refresh_token"] == answers[1].get_json()["refresh_token"]
    assert answers[0].get_json()["access_token"] == answers[1].get_json()["access_token"]
    with app.app_context():
        assert len(db.session.execute(select(RefreshToken)).scalars().all()) == 2
