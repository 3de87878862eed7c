"""What the pages promise without a browser: CSRF on every form, headers on every page,
the session's cookie, and the login's shared limits (docs/web.md, Security)."""

from __future__ import annotations

import re
from typing import Any

import pytest

FORMS = ["/login", "/logout", "/language", "/review"]


def csrf_token(client: Any, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def sign_in(client: Any, world: Any, username: str) -> Any:
    return client.post(
        "/login",
        data={
            "username": username,
            "password": world.passwords[username],
            "csrf_token": csrf_token(client),
        },
    )


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("token", [None, "forged-token", ""])
def test_a_form_post_without_its_csrf_token_is_refused(client, world, path, token):
    sign_in(client, world, "sv.vangiang")
    data = {"username": "sv.vangiang", "password": "x", "lang": "en"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(path, data=data, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "csrf_invalid"


def test_a_login_with_its_token_signs_in_with_a_private_cookie(client, world):
    response = sign_in(client, world, "sv.vangiang")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert client.get("/review").status_code == 200


def test_the_cookie_is_secure_under_https(client, world):
    token = csrf_token(client)
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"username": "sv.vangiang", "password": world.passwords["sv.vangiang"],
              "csrf_token": token},
    )  # fmt: skip
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("path", ["/login", "/", "/units/gso-2020:12019", "/review", "/nowhere"])
def test_every_page_carries_the_security_headers(client, world, path):
    sign_in(client, world, "sv.vangiang")
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert "'unsafe-inline'" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_deactivated_user_is_signed_out_at_the_next_page(client, world):
    sign_in(client, world, "cv.vg.001")
    assert client.get("/").status_code == 200
    admin = world.headers(client, "admin")
    assert (
        client.patch("/api/v1/users/cv.vg.001", json={"active": False}, headers=admin).status_code
        == 200
    )
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_web_and_api_logins_share_the_failed_login_limit(client, world):
    for n in range(10):
        client.post(
            "/api/v1/auth/login", json={"username": "sv.vangiang", "password": f"wrong-{n}"}
        )
    response = client.post(
        "/login",
        data={"username": "sv.vangiang", "password": world.passwords["sv.vangiang"],
              "csrf_token": csrf_token(client)},
    )  # fmt: skip
    assert response.status_code == 429
    assert response.headers["Retry-After"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_the_login_never_sends_anyone_to_another_site(client, world, target):
    response = client.post(
        "/login",
        data={"username": "sv.vangiang", "password": world.passwords["sv.vangiang"],
              "csrf_token": csrf_token(client), "next": target},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_page_for_another_role_is_403(client, world):
    sign_in(client, world, "cv.vg.001")
    assert client.get("/review").status_code == 403


def test_a_review_page_cursor_serves_only_the_person_it_was_made_for(
    client, app, world, monkeypatch
):
    """A "next page" link of the review queue is bound to whoever was shown it, as the API's
    cursors are to their token's user: pasted by another signed-in person it is refused."""
    from field_server.web import views_review
    from tests.api.sync_helpers import Tablet

    tablet = Tablet(world, client, "cv.vg.001")
    homes = [tablet.household(address=f"Số {n}, ngõ 9") for n in range(2)]
    answer = tablet.push([*homes, *(tablet.visit(h["id"]) for h in homes)])
    assert all(r["status"] == "applied" for r in answer["results"])
    monkeypatch.setattr(views_review, "PAGE_SIZE", 1)

    sign_in(client, world, "sv.vangiang")
    first = client.get("/review").get_data(as_text=True)
    found = re.search(r'href="(/review\?[^"]*cursor=[^"]+)"', first)
    assert found, "a second page is offered"
    next_page = found.group(1).replace("&amp;", "&")
    assert client.get(next_page).status_code == 200

    other = app.test_client()
    sign_in(other, world, "dt.vangiang")  # sees the same ward, but did not get this link
    refused = other.get(next_page, headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.get_json()["code"] == "cursor_invalid"
