"""Access tokens as an attacker or a stale client would present them (docs/errors.md,
docs/api-auth.md).

Tokens are built by hand with PyJWT from the claims of a real login, then altered one way
each; every refusal must come in the docs/errors.md envelope with the code clients branch on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import select, update

from field_server.extensions import db
from field_server.models import RefreshFamily, Unit, User
from field_server.store import people
from field_server.store.engine import write_transaction
from tests.conftest import TEST_JWT_KEY

UNITS = "/api/v1/units"
CLAIMS = ("sub", "role", "dev", "iat", "exp", "jti", "iss", "aud", "ver")
OTHER_KEY = "another-jwt-key-that-is-long-enough-0123456789"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def sign(claims: dict, key: str = TEST_JWT_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def get_units(client, token: str):
    return client.get(UNITS, headers={"Authorization": f"Bearer {token}"})


def assert_401(response, code):
    body = response.get_json()
    assert response.status_code == 401, body
    assert body["ok"] is False
    assert body["status"] == 401
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body["errors"] == {}
    assert isinstance(body["details"], dict)


@pytest.fixture
def session(client, world):
    """A canvasser's fresh login (bound to a device)."""
    return world.login(client, "cv.vg.001")


def test_genuine_token_rebuilt_by_hand_is_accepted(client, session):
    # Proves the builder itself is right, so the refusals below are due to the one change.
    token = sign(claims_of(session["access_token"]))
    assert get_units(client, token).status_code == 200


def test_claims_are_the_ones_the_spec_lists(session):
    claims = claims_of(session["access_token"])
    assert set(claims) == set(CLAIMS)
    assert claims["role"] == "canvasser"
    assert claims["dev"] == session["device"]["device_id"]
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(session["access_token"])["alg"] == "HS256"


def test_alg_none_is_refused(client, session):
    token = jwt.encode(claims_of(session["access_token"]), None, algorithm="none")
    assert_401(get_units(client, token), "token_invalid")


@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_another_algorithm_with_the_right_key_is_refused(client, session, algorithm):
    token = sign(claims_of(session["access_token"]), algorithm=algorithm)
    assert_401(get_units(client, token), "token_invalid")


def test_algorithm_follows_the_setting(make_app, app, world):
    key = "k" * 64  # RFC 7518 wants a key as long as the hash for HS512
    hs512 = make_app(JWT_ALGORITHM="HS512", JWT_KEY=key)
    client = hs512.test_client()
    token = world.login(client, "admin")["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    assert get_units(client, token).status_code == 200
    assert_401(get_units(client, sign(claims_of(token), key=key)), "token_invalid")


def test_bad_signature_is_refused(client, session):
    token = sign(claims_of(session["access_token"]), key=OTHER_KEY)
    assert_401(get_units(client, token), "token_invalid")


def test_tampered_payload_is_refused(client, world):
    token = world.login(client, "sv.vangiang")["access_token"]
    header, _payload, signature = token.split(".")
    other = world.login(client, "admin")["access_token"].split(".")[1]
    assert_401(get_units(client, f"{header}.{other}.{signature}"), "token_invalid")


@pytest.mark.parametrize("claim", CLAIMS)
def test_each_missing_claim_is_refused(client, session, claim):
    claims = claims_of(session["access_token"])
    del claims[claim]
    assert_401(get_units(client, sign(claims)), "token_invalid")


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-else"), ("iss", "another-server"), ("ver", "1"), ("sub", "99999")],
)
def test_wrong_claim_value_is_refused(client, session, claim, value):
    claims = claims_of(session["access_token"])
    claims[claim] = value
    assert_401(get_units(client, sign(claims)), "token_invalid")


def test_device_of_another_user_is_refused(client, world, session):
    other = world.login(client, "cv.xq.001")
    claims = claims_of(session["access_token"])
    claims["dev"] = other["device"]["device_id"]
    assert_401(get_units(client, sign(claims)), "token_invalid")


def test_expired_token_is_token_expired(client, session):
    claims = claims_of(session["access_token"])
    now = int(time.time())
    claims["iat"], claims["exp"] = now - 1000, now - 100
    assert_401(get_units(client, sign(claims)), "token_expired")


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "Bearer abc"]
)
def test_missing_or_garbled_authorization_is_token_invalid(client, world, header):
    headers = {"Authorization": header} if header else {}
    assert_401(client.get(UNITS, headers=headers), "token_invalid")


def test_older_token_version_is_token_expired_and_refresh_gives_new_claims(app, client, world):
    session = world.login(client, "cv.vg.001")
    with app.app_context(), write_transaction():
        user = people.get_user("cv.vg.001")
        group = db.session.execute(select(Unit).where(Unit.code == "12019-01")).scalar_one()
        assert people.assign(user, group, datetime.now(UTC))  # units changed: ver bumped
    assert_401(get_units(client, session["access_token"]), "token_expired")
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.get_json()
    new = refreshed.get_json()
    assert claims_of(new["access_token"])["ver"] == claims_of(session["access_token"])["ver"] + 1
    assert get_units(client, new["access_token"]).status_code == 200


def test_role_change_is_token_expired_and_refresh_carries_the_new_role(app, client, world):
    session = world.login(client, "sv.vangiang")
    with app.app_context(), write_transaction():
        db.session.execute(
            update(User)
            .where(User.username == "sv.vangiang")
            .values(role="district", token_version=User.token_version + 1)
        )
    assert_401(get_units(client, session["access_token"]), "token_expired")
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status_code == 200
    body = refreshed.get_json()
    assert claims_of(body["access_token"])["role"] == "district"
    assert body["user"]["role"] == "district"


def test_deactivated_user_token_is_invalid_and_their_sessions_end(app, client, world):
    session = world.login(client, "cv.vg.001")
    with app.app_context(), write_transaction():
        people.set_active(people.get_user("cv.vg.001"), False, datetime.now(UTC))
    assert_401(get_units(client, session["access_token"]), "token_invalid")
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert_401(refreshed, "token_invalid")
    with app.app_context():
        family = db.session.execute(select(RefreshFamily)).scalar_one()
        assert family.revoked_reason == "user_deactivated"


def test_messages_follow_accept_language(client, world):
    vi = client.get(UNITS, headers={"Accept-Language": "vi"})
    en = client.get(UNITS, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert vi.get_json()["code"] == en.get_json()["code"] == "token_invalid"
    assert vi.get_json()["message"] != en.get_json()["message"]
    assert "access token" in en.get_json()["message"]
