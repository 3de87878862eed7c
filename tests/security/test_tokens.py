"""Access tokens an attacker could forge or smuggle, beyond tests/api/test_auth_tokens.py.

That file already holds alg ``none``, other HMAC algorithms, each missing claim, wrong
audience and issuer, expiry, stale ``ver``, role change, deactivation and tampering (see
docs/security.md). Here: algorithm confusion (a token claiming an asymmetric algorithm, and
one signed with a public-key-like string), keys named in the token's own header, and the
token offered anywhere but the Authorization header.

How the defences were checked: with the signature check removed from
``services.sessions.decode_access_token`` (``options={"verify_signature": False}``) every
forgery test here fails (the forged token is accepted); with ``bearer_token`` taught to fall
back to ``request.args`` / cookies, the query-string and cookie tests fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest

from tests.conftest import TEST_JWT_KEY

UNITS = "/api/v1/units"

# What an attacker who read a "public key" from somewhere would sign with.
PUBLIC_KEY_LIKE = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
    "-----END PUBLIC KEY-----\n"
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], key: str, digest: Any) -> str:
    """A JWT assembled by hand: PyJWT refuses to HMAC with a PEM key, an attacker does not."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def assert_token_invalid(response: Any) -> None:
    body = response.get_json()
    assert response.status_code == 401, body
    assert body["code"] == "token_invalid"


@pytest.fixture
def claims(client, world) -> dict[str, Any]:
    """The claims of a genuine admin token (the most valuable one to forge)."""
    return claims_of(world.login(client, "admin")["access_token"])


def test_hand_forged_token_with_the_real_key_is_accepted(client, claims):
    # Proves forge() builds what the server accepts, so each refusal below is due to the
    # one thing changed.
    token = forge({"alg": "HS256", "typ": "JWT"}, claims, TEST_JWT_KEY, hashlib.sha256)
    assert client.get(UNITS, headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA"])
def test_asymmetric_algorithm_in_the_header_is_refused(client, claims, alg):
    # The classic confusion: the header names a public-key algorithm while the signature is
    # an HMAC. Even with the server's own key behind the HMAC, the pinned list refuses it.
    token = forge({"alg": alg, "typ": "JWT"}, claims, TEST_JWT_KEY, hashlib.sha256)
    assert_token_invalid(client.get(UNITS, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_hmac_with_a_public_key_like_string_is_refused(client, claims, alg):
    token = forge({"alg": alg, "typ": "JWT"}, claims, PUBLIC_KEY_LIKE, hashlib.sha256)
    assert_token_invalid(client.get(UNITS, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    "extra_header",
    [
        {"jwk": {"kty": "oct", "k": b64(b"attacker-key-attacker-key-attacker-key!")}},
        {"jku": "http://attacker.example/keys.json"},
        {"kid": "../../../../dev/null"},
        {"x5u": "http://attacker.example/cert.pem"},
    ],
)
def test_keys_named_in_the_header_are_ignored(client, claims, extra_header):
    # Signed with the attacker's key, naming that key in the header: the server never
    # takes its key from the token.
    key = "attacker-key-attacker-key-attacker-key!"
    token = forge({"alg": "HS256", "typ": "JWT", **extra_header}, claims, key, hashlib.sha256)
    assert_token_invalid(client.get(UNITS, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("name", ["access_token", "token", "jwt", "authorization", "bearer"])
def test_token_in_the_query_string_is_not_accepted(client, world, name):
    # Query strings end up in access logs, proxies and browser history.
    token = world.login(client, "admin")["access_token"]
    assert_token_invalid(client.get(f"{UNITS}?{name}={token}"))


def test_token_in_a_cookie_is_not_accepted(client, world):
    token = world.login(client, "admin")["access_token"]
    for name in ("access_token", "token", "Authorization"):
        client.set_cookie(name, token)
    assert_token_invalid(client.get(UNITS))


def test_token_in_a_json_body_is_not_accepted(client, world):
    token = world.login(client, "admin")["access_token"]
    response = client.post(
        "/api/v1/users",
        json={"username": "cv.new", "role": "canvasser", "access_token": token},
    )
    assert_token_invalid(response)


def test_refresh_token_is_not_an_access_token(client, world):
    session = world.login(client, "admin")
    response = client.get(UNITS, headers={"Authorization": f"Bearer {session['refresh_token']}"})
    assert_token_invalid(response)
