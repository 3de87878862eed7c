"""Every change leaves an audit row naming who made it (docs/api-supervision.md, audit).

The write operations are read from the app itself (every POST, PATCH, PUT and DELETE it
declares), and each must appear in exactly one of the two tables below: AUDITED, with a way
to perform it and the actor its audit row must name, or NOT_AUDITED, with the reason and
where the change is traced instead. A new write operation fails
``test_every_write_operation_is_accounted_for`` until it is given one or the other.
Exports, the one read that is audited, are held by tests/api/test_exports.py
(``test_each_export_writes_one_audit_row``).

How the defences were checked: with ``services.writes.Write.audit`` made a no-op, every
AUDITED case fails except failed logins, refresh reuse and reviews (their rows come through
``Write.audit_many``); with ``audit_many`` a no-op as well, all of them fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from field_server.extensions import db
from field_server.models import AuditEntry, DeviceMutation
from tests.api.sync_helpers import WARD_A, Tablet
from tests.security.routes import WRITE_METHODS, api_routes
from tests.security.scene import Scene, build_scene


@dataclass
class Ctx:
    world: Any
    client: Any
    scene: Scene

    def headers(self, username: str) -> dict[str, str]:
        return self.world.headers(self.client, username)

    def ok(self, response: Any) -> Any:
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()


def _resolve(c: Ctx) -> str:
    conflict = c.scene.conflicts[WARD_A]
    c.ok(
        c.client.post(
            f"/api/v1/conflicts/{conflict}/resolve",
            json={"resolution": "keep_server"},
            headers=c.headers("sv.vangiang"),
        )
    )
    return "sv.vangiang"


def _dismiss(c: Ctx) -> str:
    conflict = c.scene.conflicts[WARD_A]
    url = f"/api/v1/conflicts/{conflict}/dismiss"
    c.ok(c.client.post(url, headers=c.headers("sv.vangiang")))
    return "sv.vangiang"


def _revoke(c: Ctx) -> str:
    url = f"/api/v1/devices/{c.scene.devices[WARD_A]}/revoke"
    c.ok(c.client.post(url, headers=c.headers("sv.vangiang")))
    return "sv.vangiang"


def _merge(c: Ctx) -> str:
    h = c.scene.canvassed.households
    c.ok(
        c.client.post(
            f"/api/v1/households/{h['h2']}/merge",
            json={"into": h["h1"]},
            headers=c.headers("sv.vangiang"),
        )
    )
    return "sv.vangiang"


def _apply(c: Ctx) -> str:
    headers = c.headers("sv.vangiang")
    rejection = c.scene.rejections[WARD_A]
    items = c.ok(c.client.get(f"/api/v1/rejections?ward={WARD_A}", headers=headers))["items"]
    [item] = [i for i in items if i["id"] == rejection]
    data = {**item["payload"]["data"], "smartphones": 1}  # the counts made right
    c.ok(
        c.client.post(f"/api/v1/rejections/{rejection}/apply", json={"data": data}, headers=headers)
    )
    return "sv.vangiang"


def _create_user(c: Ctx) -> str:
    body = {"username": "cv.vg.050", "role": "canvasser", "units": [WARD_A]}
    c.ok(c.client.post("/api/v1/users", json=body, headers=c.headers("admin")))
    return "admin"


def _patch_user(c: Ctx) -> str:
    body = {"full_name": "Nguyễn Văn Mới"}
    c.ok(c.client.patch("/api/v1/users/cv.vg.002", json=body, headers=c.headers("sv.vangiang")))
    return "sv.vangiang"


def _reset_password(c: Ctx) -> str:
    headers = c.headers("sv.vangiang")
    c.ok(c.client.post("/api/v1/users/cv.vg.002/password", headers=headers))
    return "sv.vangiang"


def _correct(c: Ctx) -> str:
    visit = c.scene.canvassed.visits["new"]
    body = {"base_version": 1, "data": {"notes": "đã kiểm tra lại"}}
    c.ok(c.client.patch(f"/api/v1/visits/{visit}", json=body, headers=c.headers("sv.vangiang")))
    return "sv.vangiang"


def _review(c: Ctx) -> str:
    visit = c.scene.canvassed.visits["new"]
    body = {"action": "approve", "comment": "ổn"}
    c.ok(
        c.client.post(f"/api/v1/visits/{visit}/review", json=body, headers=c.headers("sv.vangiang"))
    )
    return "sv.vangiang"


def _bulk_review(c: Ctx) -> str:
    v = c.scene.canvassed.visits
    body = {"ids": [v["new"], v["old"]], "action": "flag", "comment": "xem lại"}
    c.ok(c.client.post("/api/v1/visits/review", json=body, headers=c.headers("admin")))
    return "admin"


def _failed_login(c: Ctx) -> str:
    response = c.client.post(
        "/api/v1/auth/login", json={"username": "sv.vangiang", "password": "not-the-password"}
    )
    assert response.status_code == 401
    return "sv.vangiang"  # as the target: nobody is authenticated


def _refresh_reuse(c: Ctx) -> str:
    session = c.world.login(c.client, "sv.vangiang")
    first = c.client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert first.status_code == 200
    # Presented again from another "device" than the session's: theft, the family ends.
    again = c.client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": session["refresh_token"]},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert again.status_code == 401 and again.get_json()["code"] == "refresh_reused"
    return "sv.vangiang"


# operation -> how to perform it (answers the username the audit row must name).
AUDITED: dict[str, Callable[[Ctx], str]] = {
    "POST /api/v1/conflicts/<conflict_id>/resolve": _resolve,
    "POST /api/v1/conflicts/<conflict_id>/dismiss": _dismiss,
    "POST /api/v1/devices/<device_id>/revoke": _revoke,
    "POST /api/v1/households/<household_id>/merge": _merge,
    "POST /api/v1/rejections/<rejection_id>/apply": _apply,
    "POST /api/v1/users": _create_user,
    "PATCH /api/v1/users/<username>": _patch_user,
    "POST /api/v1/users/<username>/password": _reset_password,
    "PATCH /api/v1/visits/<visit_id>": _correct,
    "POST /api/v1/visits/<visit_id>/review": _review,
    "POST /api/v1/visits/review": _bulk_review,
    # Sessions are not changes to the campaign's records; their attacks are audited.
    "POST /api/v1/auth/login": _failed_login,
    "POST /api/v1/auth/refresh": _refresh_reuse,
}
# operation -> why it writes no audit row, and where its change is traced instead.
NOT_AUDITED = {
    "POST /api/v1/sync/push": "a tablet's own records: each mutation is kept in the device "
    "ledger (device_mutations) with its device, number and result, and each visit names "
    "its canvasser and device",
    "POST /api/v1/auth/logout": "ends the caller's own session (refresh_families.revoked_at "
    "and revoked_reason)",
}


def test_every_write_operation_is_accounted_for(app):
    writes = {r.key for r in api_routes(app) if r.method in WRITE_METHODS}
    assert set(AUDITED).isdisjoint(NOT_AUDITED)
    unaccounted = writes - set(AUDITED) - set(NOT_AUDITED)
    assert unaccounted == set(), "a write operation without an audit row: see this file"
    assert set(AUDITED) | set(NOT_AUDITED) == writes  # nothing listed that is gone


def audit_rows_after(app: Any, last_id: int) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.execute(select(AuditEntry).where(AuditEntry.id > last_id)).scalars())
        db.session.expunge_all()
    return rows


def last_audit_id(app: Any) -> int:
    with app.app_context():
        found = db.session.execute(select(func.max(AuditEntry.id))).scalar()
        db.session.rollback()
    return found or 0


@pytest.mark.parametrize("operation", sorted(AUDITED))
def test_each_write_leaves_an_audit_row_naming_the_actor(app, world, client, operation):
    context = Ctx(world, client, build_scene(world, client))
    before = last_audit_id(app)
    actor = AUDITED[operation](context)
    rows = audit_rows_after(app, before)
    assert rows, f"{operation} wrote no audit row"
    named = [r for r in rows if actor in (r.actor, r.target if r.actor is None else None)]
    assert named, [(r.actor, r.action, r.target) for r in rows]
    for row in named:
        assert row.action and row.at is not None
        assert row.client_address in ("127.0.0.1", "10.9.9.9")  # where the request came from


def test_pushes_are_traced_in_the_device_ledger(app, world, client):
    tablet = Tablet(world, client, "cv.vg.001")
    household = tablet.household()
    tablet.push([household, tablet.visit(household["id"])])
    with app.app_context():
        kept = db.session.execute(
            select(DeviceMutation.mutation_id, DeviceMutation.type, DeviceMutation.status).where(
                DeviceMutation.device_id == tablet.device_id
            )
        ).all()
        db.session.rollback()
    assert sorted(kept) == [(1, "household.upsert", "applied"), (2, "visit.create", "applied")]
    admin = world.headers(client, "admin")
    visits = client.get(f"/api/v1/households/{household['id']}", headers=admin).get_json()
    [visit] = visits["visits"]
    assert (visit["canvasser"], visit["device_id"]) == ("cv.vg.001", tablet.device_id)
