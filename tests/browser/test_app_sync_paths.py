"""The app's sync engine (field_server/web/app/js/sync.js) on its harder paths, against the
real server: a scope change that resets the copy, a tablet handed over with records waiting,
an expired access token (refreshed, or a refresh refused) and a 503 with Retry-After.

As in test_app_sync.py, the live server (tests/browser/conftest.py) answers, the page and
the app's modules are routed onto its origin (tests/browser/app_js/serving.py), and what the
server holds afterwards is read through the API with the Flask test client. Every answer is
the server's, but for the faults injected: a Playwright route answering 503 once, and an
access token rewritten in IndexedDB as expired (signed with the server's key). The reset
test also wraps the sync's request, to note the pull's pages as they come and save a visit
between two of them; the answers pass through untouched.
The browser logs each 4xx and 5xx answer as a console error: a test names the ones it
expects (`answered`), any other fails it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest

from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet
from tests.browser.app_js.serving import open_page, serve
from tests.browser.conftest import TABLET

USER = "cv.vg.001"  # the whole ward A
OTHER = "cv.vg.002"  # group -01 of ward A


@pytest.fixture
def console() -> list[str]:
    """The page's console errors: a test fails on any it does not expect."""
    return []


@pytest.fixture
def tablet(browser: Any, live_server: str, console: list[str]) -> Iterator[Any]:
    """The store and sync page on the live server's origin, nobody logged in yet; each
    'status' event the sync sends is kept in `window.statuses`."""
    context = browser.new_context(**TABLET)
    serve(context, live_server)
    page = open_page(context, live_server, console)
    page.evaluate(
        "() => { window.statuses = [];"
        " T.app.sync.addEventListener('status', (e) => statuses.push(e.detail)); }"
    )
    try:
        yield page
    finally:
        context.close()
    assert console == []


def answered(console: list[str], *statuses: int) -> None:
    """The console errors are exactly the browser's reports of these HTTP answers, in order;
    then forget them."""
    seen = [re.match(r"Failed to load resource: .*status of (\d+)", e) for e in console]
    assert [int(m.group(1)) if m else e for m, e in zip(seen, console, strict=True)] == list(
        statuses
    )
    console.clear()


def log_in(page: Any, world: Any, user: str) -> None:
    """The user logs in on the tablet (as the login screen does) and syncs once."""
    page.evaluate("([u, p]) => T.app.sync.login(u, p, 'Tab 7')", [user, world.passwords[user]])
    page.evaluate("T.app.sync.syncNow()")


def households_of(
    world: Any, client: Any, user: str, ward: str, group: str | None, n: int, street: str
) -> list[str]:
    """``n`` households recorded by another tablet of ``user``; their ids."""
    other = Tablet(world, client, user)
    made = [
        other.household(ward=ward, group=group, address=f"Số {i}, {street}")
        for i in range(1, n + 1)
    ]
    other.push(made)
    return [h["id"] for h in made]


SAVE_VISITS = """async ([user, households]) => {
  const ids = [];
  for (const h of households) {
    const v = T.visit(h);
    await T.app.store.saveRecord(user, v);
    ids.push(v.id);
  }
  return ids;
}"""


def save_visits(page: Any, user: str, households: list[str]) -> list[str]:
    """A visit at each household, saved on the tablet (offline: nothing is sent)."""
    return list(page.evaluate(SAVE_VISITS, [user, households]))


def copy_households(page: Any, user: str) -> list[str]:
    ids = page.evaluate(f"async () => (await T.app.store.households({user!r})).map((h) => h.id)")
    return sorted(ids)


def watch_auth(page: Any) -> list[str]:
    """The paths of the /auth/ requests the page sends from now on (a login, a refresh)."""
    calls: list[str] = []

    def note(request: Any) -> None:
        if "/api/v1/auth/" in request.url:
            calls.append(request.url.split("/api/v1", 1)[1])

    page.on("request", note)
    return calls


def server_visits(world: Any, client: Any, *wards: str) -> dict[str, dict[str, Any]]:
    """The visits the server holds in these wards (admin's view), by id."""
    headers = world.headers(client, "admin")
    found: dict[str, dict[str, Any]] = {}
    for ward in wards or (WARD_A,):
        answer = client.get(f"/api/v1/visits?ward={ward}&limit=1000", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["has_more"] is False
        for visit in body["items"]:
            assert visit["id"] not in found
            found[visit["id"]] = visit
    return found


def last_status(page: Any) -> dict[str, Any]:
    """The 'status' event the sync sent as it ended (it follows the sync's promise)."""
    page.wait_for_function("() => statuses.length > 0 && !statuses[statuses.length - 1].syncing")
    return dict(page.evaluate("statuses[statuses.length - 1]"))


SYNC_OUTCOME = "T.app.sync.syncNow().then(() => null, (e) => ({code: e.code, message: e.message}))"


# --- 1. a scope change: pull reset ---------------------------------------------------------


def end_long_ago(app: Any, username: str, unit_code: str) -> None:
    """The user's ended assignment to the unit ended before the grace period: out of scope.
    (The API ends an assignment now; the grace period, 7 days, cannot pass in a test.)"""
    from sqlalchemy import select, update

    from field_server.clock import utcnow
    from field_server.extensions import db
    from field_server.models import Assignment, Unit, User

    days = app.config["ASSIGNMENT_GRACE_DAYS"] + 1
    with app.app_context():
        user_id = select(User.id).where(User.username == username).scalar_subquery()
        unit_id = select(Unit.id).where(Unit.code == unit_code).scalar_subquery()
        ended = db.session.scalars(
            select(Assignment.id).where(
                Assignment.user_id == user_id,
                Assignment.unit_id == unit_id,
                Assignment.ends_at.is_not(None),
            )
        ).all()
        assert len(ended) == 1
        db.session.execute(
            update(Assignment)
            .where(Assignment.id.in_(ended))
            .values(ends_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()


SAVE_OFFLINE = """async ([user, ward, group, known]) => {
  const s = T.app.store;
  const h = T.household(ward, group, "Số 40, ngõ 9");
  await s.saveRecord(user, h);
  const visits = [T.visit(h.id), T.visit(known)];
  for (const v of visits) await s.saveRecord(user, v);
  return {household: h.id, visits: visits.map((v) => v.id)};
}"""

# One sync, the pull in pages of 2. Each pull answer is noted (the server's, untouched); once
# the first page of the new copy is in, what the screens read then is noted and the
# canvasser saves a visit (the sync has already taken its push batch).
SYNC_THROUGH_RESET = """async ([user, household]) => {
  const { sync, store } = T.app;
  const send = sync.request;
  const seen = { pulls: [], during: null, saved: null };
  sync.pageSize = 2;
  sync.request = async (method, path, options) => {
    const answer = await send(method, path, options);
    if (path.startsWith("/sync/pull") && answer.status === 200) {
      seen.pulls.push({ reset: answer.body.reset, has_more: answer.body.has_more });
      if (seen.pulls.length === 2) {
        seen.during = (await store.households(user)).map((h) => h.id).sort();
        const v = T.visit(household);
        await store.saveRecord(user, v);
        seen.saved = v.id;
      }
    }
    return answer;
  };
  try {
    await sync.syncNow();
  } finally {
    sync.request = send;
  }
  return seen;
}"""


VERSIONS = """async ([user, ids]) => Promise.all(ids.map(async (id) => {
  const row = await T.app.store.record(user, "visits", id);
  return row && [row.version, row.local];
}))"""


def test_a_scope_change_rebuilds_the_copy_and_keeps_the_outbox(
    tablet: Any, world: Any, client: Any, app: Any, console: list[str]
) -> None:
    group = households_of(world, client, OTHER, WARD_A, GROUP_A1, 2, "ngõ 1")  # stays in scope
    ward_only = households_of(world, client, USER, WARD_A, None, 2, "ngõ 2")  # leaves it
    ward_b = households_of(world, client, "cv.xq.001", WARD_B, None, 2, "thôn 1")  # comes in
    log_in(tablet, world, USER)
    assert copy_households(tablet, USER) == sorted(group + ward_only)
    gen = tablet.evaluate(f"T.app.store.syncState({USER!r})")["gen"]
    offline = tablet.evaluate(SAVE_OFFLINE, [USER, WARD_A, GROUP_A1, group[0]])
    auth_calls = watch_auth(tablet)

    # The admin moves the canvasser from the whole ward A to its group -01 and ward B; the
    # ward A assignment's grace period has passed.
    answer = client.patch(
        f"/api/v1/users/{USER}",
        json={"units": [GROUP_A1, WARD_B]},
        headers=world.headers(client, "admin"),
    )
    assert answer.status_code == 200, answer.get_json()
    end_long_ago(app, USER, "12019")

    seen = tablet.evaluate(SYNC_THROUGH_RESET, [USER, group[1]])
    # The units changed: the access token is refused once and refreshed, no password asked.
    answered(console, 401)
    assert auth_calls == ["/auth/refresh"]
    # The server said reset, over several pages; meanwhile the screens read the old copy.
    assert seen["pulls"][0]["reset"] is True
    assert len(seen["pulls"]) > 2
    assert [p["has_more"] for p in seen["pulls"]] == [True] * (len(seen["pulls"]) - 1) + [False]
    assert seen["during"] == sorted(group + ward_only + [offline["household"]])
    # The new copy: ward B's households in, ward A's of no group out.
    assert copy_households(tablet, USER) == sorted(group + ward_b + [offline["household"]])
    state = tablet.evaluate(f"T.app.store.syncState({USER!r})")
    assert (state["gen"], state["building"]) == (gen + 1, None)
    units = tablet.evaluate(f"async () => (await T.app.store.units({USER!r})).map((u) => u.id)")
    assert f"unit/{WARD_B}" in units
    # What was saved offline went before the pull; the visit saved during it still waits,
    # shown in the new copy as the tablet's own.
    assert tablet.evaluate(f"T.app.store.waiting({USER!r})")[0]["id"] == seen["saved"]
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 1
    mine = tablet.evaluate(VERSIONS, [USER, [*offline["visits"], seen["saved"]]])
    assert mine == [[1, False], [1, False], [0, True]]
    assert sorted(server_visits(world, client)) == sorted(offline["visits"])

    tablet.evaluate("T.app.sync.syncNow()")
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 0
    on_server = server_visits(world, client, WARD_A, WARD_B)
    assert sorted(on_server) == sorted([*offline["visits"], seen["saved"]])
    assert {v["canvasser"] for v in on_server.values()} == {USER}
    assert last_status(tablet)["error"] is None


# --- 2. a tablet handed over with records waiting --------------------------------------------


def test_a_hand_over_with_records_waiting_loses_and_doubles_nothing(
    tablet: Any, world: Any, client: Any, console: list[str]
) -> None:
    seeded = households_of(world, client, OTHER, WARD_A, GROUP_A1, 2, "ngõ 1")
    log_in(tablet, world, USER)
    mine = save_visits(tablet, USER, [*seeded, seeded[0]])
    waiting_before = tablet.evaluate(f"T.app.store.waiting({USER!r})")
    # What the switch-user screen reads to ask the canvasser to sync before handing over.
    assert tablet.evaluate("T.app.store.waitingByUser()") == {USER: 3}

    # Handed over all the same (no network to sync): the other canvasser logs in and works.
    tablet.evaluate("T.app.sync.logout()")
    log_in(tablet, world, OTHER)  # nothing of theirs waits: their copy comes
    assert copy_households(tablet, OTHER) == sorted(seeded)
    theirs = save_visits(tablet, OTHER, seeded[:1])
    refused = tablet.evaluate(SYNC_OUTCOME)
    assert refused == {
        "code": "other_user_waiting",
        "message": f"{USER} must sync the records waiting on this tablet first.",
    }
    answered(console, 409)  # mutation_gap: the server waits for the first user's records
    assert last_status(tablet)["error"]["code"] == "other_user_waiting"
    # The app's Sync speaks Vietnamese: so does this message of its own.
    tablet.evaluate("T.app.sync.lang = 'vi'")
    assert tablet.evaluate(SYNC_OUTCOME) == {
        "code": "other_user_waiting",
        "message": f"{USER} cần đăng nhập và đồng bộ các bản ghi đang chờ gửi trên máy này trước.",
    }
    answered(console, 409)
    tablet.evaluate("T.app.sync.lang = 'en'")
    # Nothing of the first user's was touched, nothing was sent.
    assert tablet.evaluate(f"T.app.store.waiting({USER!r})") == waiting_before
    assert tablet.evaluate("T.app.store.waitingByUser()") == {USER: 3, OTHER: 1}
    assert server_visits(world, client) == {}

    # The tablet goes back to its first user, who syncs; then to the other one again.
    tablet.evaluate("T.app.sync.logout()")
    log_in(tablet, world, USER)
    assert tablet.evaluate("T.app.store.waitingByUser()") == {OTHER: 1}
    tablet.evaluate("T.app.sync.logout()")
    log_in(tablet, world, OTHER)
    assert tablet.evaluate("T.app.store.waitingByUser()") == {}
    assert last_status(tablet)["error"] is None

    device = tablet.evaluate("T.app.store.device()")["device_id"]
    on_server = server_visits(world, client)
    assert {i: (v["canvasser"], v["device_id"]) for i, v in on_server.items()} == {
        **{i: (USER, device) for i in mine},
        **{i: (OTHER, device) for i in theirs},
    }


# --- 3. an expired access token ---------------------------------------------------------------


def expired(app: Any, token: str) -> str:
    """The same access token, its lifetime over an hour ago (signed with the server's key)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    lifetime = claims["exp"] - claims["iat"]
    claims["iat"] -= lifetime + 3600
    claims["exp"] = claims["iat"] + lifetime
    return jwt.encode(claims, app.config["JWT_KEY"], algorithm=app.config["JWT_ALGORITHM"])


def expire_access_token(page: Any, app: Any, user: str) -> dict[str, str]:
    """Replace the user's stored access token with the same one, expired; the session as it
    was before."""
    session = page.evaluate(f"T.app.store.session({user!r})")
    page.evaluate(
        "([user, access, refresh]) => T.app.store.saveSession(user,"
        " {access_token: access, refresh_token: refresh})",
        [user, expired(app, session["access_token"]), session["refresh_token"]],
    )
    return dict(session)


def test_an_expired_access_token_is_refreshed_once_without_the_password(
    tablet: Any, world: Any, client: Any, app: Any, console: list[str]
) -> None:
    seeded = households_of(world, client, OTHER, WARD_A, GROUP_A1, 1, "ngõ 1")
    log_in(tablet, world, USER)
    visits = save_visits(tablet, USER, seeded * 2)
    before = expire_access_token(tablet, app, USER)
    auth_calls = watch_auth(tablet)
    tablet.evaluate("T.app.sync.syncNow()")
    answered(console, 401)  # token_expired, once
    assert auth_calls == ["/auth/refresh"]
    after = tablet.evaluate(f"T.app.store.session({USER!r})")
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and kept
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 0
    assert sorted(server_visits(world, client)) == sorted(visits)
    # The new access token serves the next sync as it is.
    tablet.evaluate("T.app.sync.syncNow()")
    assert auth_calls == ["/auth/refresh"]
    assert last_status(tablet)["error"] is None


def rotate_twice(world: Any, client: Any, page: Any, token: str | None = None) -> None:
    """Someone else uses the tablet's refresh token, and its successor: the tablet's next
    refresh is a reuse."""
    if token is None:
        token = page.evaluate(f"T.app.store.session({USER!r})")["refresh_token"]
    for _ in range(2):
        answer = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert answer.status_code == 200, answer.get_json()
        token = answer.get_json()["refresh_token"]


def revoke_device(world: Any, client: Any, page: Any) -> None:
    """The supervisor revokes the tablet (reported lost)."""
    device = page.evaluate("T.app.store.device()")["device_id"]
    answer = client.post(
        f"/api/v1/devices/{device}/revoke", headers=world.headers(client, "sv.vangiang")
    )
    assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize(
    ("code", "refuse"), [("refresh_reused", rotate_twice), ("device_revoked", revoke_device)]
)
def test_a_refused_refresh_ends_the_session_and_keeps_the_outbox(
    tablet: Any, world: Any, client: Any, app: Any, console: list[str], code: str, refuse: Any
) -> None:
    from field_server.errors import ERRORS

    seeded = households_of(world, client, OTHER, WARD_A, GROUP_A1, 1, "ngõ 1")
    log_in(tablet, world, USER)
    visits = save_visits(tablet, USER, seeded * 2)
    waiting = tablet.evaluate(f"T.app.store.waiting({USER!r})")
    expire_access_token(tablet, app, USER)
    refuse(world, client, tablet)

    refused = tablet.evaluate(SYNC_OUTCOME)
    message = ERRORS[code].message  # the server's, in the page's language (English here)
    assert refused == {"code": code, "message": message}
    answered(console, 401, 401)  # the request (token_expired), then the refresh
    # The session is over: nobody is logged in, so the app shows its login, with the
    # server's message; the outbox and the copy stay.
    assert last_status(tablet) == {
        "user": None,
        "waiting": 0,
        "last_sync_at": None,
        "syncing": False,
        "error": {"code": code, "message": message},
    }
    gone = tablet.evaluate(
        f"async () => [T.app.sync.user, await T.app.store.currentUser(),"
        f" await T.app.store.session({USER!r})]"
    )
    assert gone == [None, None, None]
    assert tablet.evaluate(f"T.app.store.waiting({USER!r})") == waiting
    in_copy = tablet.evaluate(f"async () => (await T.app.store.visits({USER!r})).map((v) => v.id)")
    assert sorted(in_copy) == sorted(visits)
    assert server_visits(world, client) == {}

    login = "([u, p]) => T.app.sync.login(u, p).then(() => null, (e) => e.code)"
    again = tablet.evaluate(login, [USER, world.passwords[USER]])
    if code == "device_revoked":
        # A revoked tablet stays out (its id is refused at login); its records stay on it.
        assert again == "device_revoked"
        answered(console, 401)
        assert tablet.evaluate(f"T.app.store.waiting({USER!r})") == waiting
        return
    # Logged in again with the password, the records waiting go, once.
    assert again is None
    tablet.evaluate("T.app.sync.syncNow()")
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 0
    assert sorted(server_visits(world, client)) == sorted(visits)


# --- 4. 503 storage_unavailable with Retry-After ------------------------------------------------

# The sleep between attempts waits for real (Retry-After: 1, bounded) and notes what it was
# asked for, with what the canvasser was shown and what waited at that moment.
REAL_SLEEP = """(user) => {
  window.slept = [];
  T.app.sync.sleep = async (ms) => {
    slept.push({ ms, status: statuses[statuses.length - 1],
                 waiting: await T.app.store.waitingCount(user) });
    await new Promise((resolve) => setTimeout(resolve, ms));
  };
}"""


@pytest.mark.parametrize("path", ["/api/v1/sync/push", "/api/v1/sync/pull"])
def test_a_503_with_retry_after_is_waited_out_and_nothing_doubles(
    tablet: Any, world: Any, client: Any, live_server: str, console: list[str], path: str
) -> None:
    from field_server.errors import ERRORS

    seeded = households_of(world, client, OTHER, WARD_A, GROUP_A1, 2, "ngõ 1")
    log_in(tablet, world, USER)
    visits = save_visits(tablet, USER, seeded * 3)
    tablet.evaluate(REAL_SLEEP, USER)
    refused: list[str] = []

    def unavailable_once(route: Any) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        body = {
            "ok": False,
            "status": 503,
            "code": "storage_unavailable",
            "message": ERRORS["storage_unavailable"].message,
            "errors": {},
            "details": {},
        }
        route.fulfill(
            status=503,
            headers={"Retry-After": "1"},
            content_type="application/json",
            body=json.dumps(body),
        )

    tablet.route(re.compile(re.escape(f"{live_server}{path}") + r"(\?.*)?$"), unavailable_once)
    tablet.evaluate("T.app.sync.syncNow()")
    assert len(refused) == 1
    answered(console, 503)
    # One wait, as long as the server asked (plus at most 0.5 s of jitter); meanwhile the
    # canvasser saw a sync under way, no error, and the records still counted as waiting
    # (or, the push done, none).
    [wait] = tablet.evaluate("slept")
    assert 1000 <= wait["ms"] <= 1500
    assert wait["status"]["syncing"] is True
    assert wait["status"]["error"] is None
    assert wait["waiting"] == (6 if path.endswith("push") else 0)
    assert wait["status"]["waiting"] == wait["waiting"]
    # The retry went through: everything on the server once, the copy complete.
    assert tablet.evaluate(f"T.app.store.waitingCount({USER!r})") == 0
    assert sorted(server_visits(world, client)) == sorted(visits)
    in_copy = tablet.evaluate(
        f"async () => (await T.app.store.visits({USER!r})).map((v) => [v.id, v.version, v.local])"
    )
    assert sorted(in_copy) == sorted([v, 1, False] for v in visits)
    assert last_status(tablet)["error"] is None
    assert tablet.evaluate(f"T.app.store.syncState({USER!r})")["last_sync_at"]


# --- the same, in the app the canvasser uses ---------------------------------------------------

# On /app/: a visit saved through the app's own store module (as the visit screen saves it),
# and the user's stored access token replaced.
APP_SAVE_VISIT = """async ([user, household]) => {
  const { open, newId } = await import("/app/js/store.js");
  const store = await open();
  const id = newId();
  await store.saveRecord(user, { type: "visit.create", id, data: {
    household_id: household, visited_at: "2020-08-15T09:31:00+07:00", outcome: "not_home",
    adults: null, smartphones: null, installed_before: null, installed_during: null,
    priority_subjects: null, priority_installed: null, notes: "" } });
  store.close();
  return id;
}"""
APP_SESSION = """async (user) => {
  const store = await (await import("/app/js/store.js")).open();
  const session = await store.session(user);
  store.close();
  return session;
}"""
APP_SET_ACCESS = """async ([user, access]) => {
  const { open } = await import("/app/js/store.js");
  const store = await open();
  const session = await store.session(user);
  await store.saveSession(user, { access_token: access, refresh_token: session.refresh_token });
  store.close();
}"""


def app_log_in(page: Any, world: Any, user: str) -> None:
    """The login screen, then the home screen once its first sync has ended."""
    page.get_by_label("Tên đăng nhập").fill(user)
    page.get_by_label("Mật khẩu").fill(world.passwords[user])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("body[data-shown=groups]")
    page.wait_for_selector("#last-sync:not([data-last-sync=''])")


def test_in_the_app_an_ended_session_shows_the_login_and_the_records_wait(
    browser: Any, live_server: str, world: Any, client: Any, app: Any, console: list[str]
) -> None:
    from field_server.errors import ERRORS
    from field_server.messages import translate

    seeded = households_of(world, client, OTHER, WARD_A, GROUP_A1, 1, "ngõ 1")
    context = browser.new_context(viewport={"width": 360, "height": 800}, **TABLET)
    try:
        page = context.new_page()
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(str(e)))
        page.goto(f"{live_server}/app/")
        page.wait_for_selector("body[data-ready=true]")
        app_log_in(page, world, USER)
        visit = page.evaluate(APP_SAVE_VISIT, [USER, seeded[0]])
        session = page.evaluate(APP_SESSION, USER)
        page.evaluate(APP_SET_ACCESS, [USER, expired(app, session["access_token"])])
        rotate_twice(world, client, page, session["refresh_token"])

        page.get_by_role("button", name="Đồng bộ").click()
        # The login again, with the server's reason in Vietnamese; nothing of theirs is gone.
        page.wait_for_selector("#login", state="visible")
        message = translate(ERRORS["refresh_reused"].message, "vi")
        assert message != ERRORS["refresh_reused"].message
        assert page.locator("#status").inner_text() == f"Không thực hiện được: {message}"
        answered(console, 401, 401)
        assert server_visits(world, client) == {}
        # The header and the login say what waits, and whose it is.
        page.wait_for_selector("#waiting[data-waiting='1']")
        assert page.locator("#login-waiting").inner_text().endswith(f"{USER} (1)")

        # Logged in again, the visit that waited goes, once; the sync ends with no error.
        app_log_in(page, world, USER)
        page.wait_for_function(
            "() => document.getElementById('waiting').dataset.waiting === '0'"
            " && !document.getElementById('sync-now').disabled"
            " && document.getElementById('status').textContent === ''"
        )
        assert list(server_visits(world, client)) == [visit]
    finally:
        context.close()
    assert console == []
