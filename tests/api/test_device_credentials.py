"""Device credentials (API v1.1, docs/api-auth.md): a device id alone no longer claims a tablet.

Before credentials, anyone who knew a device id (pulled visits showed them) could log in
naming it, cut the owner off, void the owner's visits and burn mutation ids so that the
owner's next records came back `mutation_id_reused` and were lost. Each test here is an
attack or a legitimate hand-over, and what the server must answer.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update

from field_server.extensions import db
from field_server.models import AuditEntry, Device, LoginFailure, RefreshFamily
from field_server.store.engine import write_transaction
from tests.api.sync_helpers import GROUP_A1, Tablet
from tests.conftest import device_secret_for

LOGIN = "/api/v1/auth/login"


def login(client, world, username, device_id, secret, **extra):
    body = {"username": username, "password": world.passwords[username], "device_id": device_id}
    if secret is not None:
        body["device_secret"] = secret
    return client.post(LOGIN, json={**body, **extra})


def assert_refused(response, code="device_credentials_invalid", status=401):
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == code
    return body


def device_row(app, device_id):
    with app.app_context():
        return db.session.get(Device, device_id)


def ledger_state(app, device_id):
    """What an attacker must not change: the owner, the numbering, the open sessions."""
    with app.app_context():
        device = db.session.get(Device, device_id)
        families = db.session.execute(
            select(func.count())
            .select_from(RefreshFamily)
            .where(RefreshFamily.device_id == device_id, RefreshFamily.revoked_at.is_(None))
        ).scalar_one()
        return device.user_id, device.last_mutation_id, families


@pytest.fixture
def owner(app, client, world):
    """cv.vg.001's tablet, with one household and one visit synced."""
    tablet = Tablet(world, client, "cv.vg.001")
    household = tablet.household()
    tablet.push([household, tablet.visit(household["id"])])
    return tablet


@pytest.mark.parametrize("intruder", ["cv.vg.002", "cv.xq.001", "sv.hiennam", "admin"])
@pytest.mark.parametrize("secret", [None, "a-guess-that-is-long-enough-0123456789"])
def test_nobody_else_can_claim_a_known_device(app, client, world, owner, intruder, secret):
    before = ledger_state(app, owner.device_id)
    response = login(client, world, intruder, owner.device_id, secret)
    assert_refused(response)
    assert "access_token" not in response.get_json()
    # Nothing changed: the owner keeps the tablet, its numbering and its session...
    assert ledger_state(app, owner.device_id) == before
    household = owner.household(address="Số 99, ngõ 1")
    answer = owner.push([household])
    assert [r["status"] for r in answer["results"]] == ["applied"]
    assert answer["last_mutation_id"] == 3


def test_a_refused_claim_counts_as_a_failed_login_and_is_audited(app, client, world, owner):
    login(client, world, "cv.xq.001", owner.device_id, None)
    with app.app_context():
        failures = db.session.execute(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.username == "cv.xq.001")
        ).scalar_one()
        audit = db.session.execute(
            select(AuditEntry.details).where(
                AuditEntry.action == "login.failed", AuditEntry.target == "cv.xq.001"
            )
        ).scalar_one()
    assert failures == 1
    assert "device_secret_missing" in str(audit)


def test_guessing_a_device_secret_is_limited_like_a_password(client, world, owner):
    for n in range(10):
        assert_refused(login(client, world, "cv.xq.001", owner.device_id, f"{n:040d}"))
    response = login(client, world, "cv.xq.001", owner.device_id, "q" * 40)
    assert_refused(response, "rate_limited", 429)
    assert response.headers["Retry-After"]


def test_a_shared_tablet_changes_hands_with_its_secret(app, client, world, owner):
    first_holder = ledger_state(app, owner.device_id)[0]
    response = login(
        client, world, "cv.vg.002", owner.device_id, device_secret_for(owner.device_id)
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["device"] == {"device_id": owner.device_id, "last_mutation_id": 2}
    assert ledger_state(app, owner.device_id)[0] != first_holder
    # The previous holder's session on that tablet has ended.
    pushed = client.post(
        "/api/v1/sync/push",
        json={"device_id": owner.device_id, "mutations": []},
        headers=owner.headers,
    )
    assert pushed.status_code == 401


def test_a_new_device_must_bring_a_secret_and_nothing_is_registered(app, client, world):
    device_id = str(uuid.uuid4())
    assert_refused(login(client, world, "cv.vg.001", device_id, None))
    assert device_row(app, device_id) is None


def test_the_server_keeps_only_a_hash_of_the_secret(app, client, world):
    device_id = str(uuid.uuid4())
    secret = "s3cret-" + "x" * 40
    assert login(client, world, "cv.vg.001", device_id, secret).status_code == 200
    stored = device_row(app, device_id).secret_hash
    assert stored and secret not in stored and len(stored) == 64


@pytest.mark.parametrize(
    "body, field",
    [
        ({"device_secret": "short"}, "device_secret"),
        ({"device_secret": "y" * 129}, "device_secret"),
        ({"device_secret": ["x" * 40]}, "device_secret"),
    ],
)
def test_a_malformed_secret_is_422(client, world, body, field):
    response = login(client, world, "cv.vg.001", str(uuid.uuid4()), None, **body)
    answer = assert_refused(response, "validation_failed", 422)
    assert list(answer["errors"]) == [field]


def test_a_secret_without_a_device_is_422(client, world):
    response = client.post(
        LOGIN,
        json={
            "username": "sv.vangiang",
            "password": world.passwords["sv.vangiang"],
            "device_secret": device_secret_for("none"),
        },
    )
    assert list(assert_refused(response, "validation_failed", 422)["errors"]) == ["device_secret"]


def test_a_device_from_before_credentials_takes_its_owners_first_secret(app, client, world, owner):
    with app.app_context(), write_transaction():
        db.session.execute(update(Device).values(secret_hash=None))
    # Someone else cannot use the window: the device has no secret to prove.
    assert_refused(login(client, world, "cv.vg.002", owner.device_id, "z" * 40))
    # The owner's old app (no secret) still gets in...
    assert login(client, world, "cv.vg.001", owner.device_id, None).status_code == 200
    # ...and the first secret the owner presents is the device's from then on.
    assert login(client, world, "cv.vg.001", owner.device_id, "w" * 40).status_code == 200
    assert_refused(login(client, world, "cv.vg.001", owner.device_id, None))
    assert_refused(login(client, world, "cv.vg.001", owner.device_id, "z" * 40))
    assert login(client, world, "cv.vg.001", owner.device_id, "w" * 40).status_code == 200


def test_a_pull_names_no_other_users_device(client, world, owner):
    """cv.vg.002 works in group -01 of the same ward and pulls cv.vg.001's visits there."""
    colleague = Tablet(world, client, "cv.vg.002")
    household = owner.household(group=GROUP_A1, address="Số 7, tổ 1")
    owner.push([household, owner.visit(household["id"])])
    mine = colleague.visit(household["id"], outcome="not_home", adults=None, smartphones=None,
                           installed_before=None, installed_during=None, priority_subjects=None,
                           priority_installed=None)  # fmt: skip
    assert colleague.push([mine])["results"][0]["status"] == "applied"

    changes, _, _ = colleague.pull_all()
    visits = {c["id"]: c["data"] for c in changes if c["entity"] == "visit" and c["op"] == "upsert"}
    assert len(visits) == 2
    assert visits[mine["id"]]["device_id"] == colleague.device_id
    others = [v for key, v in visits.items() if key != mine["id"]]
    assert [v["device_id"] for v in others] == [None]
    assert owner.device_id not in str(changes)
    # The owner still sees its own device on its own visits.
    own, _, _ = owner.pull_all()
    assert any(
        c["entity"] == "visit" and c["data"].get("device_id") == owner.device_id for c in own
    )
