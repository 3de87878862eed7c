"""Scope: nobody reads or writes outside their units (docs/api.md, roles and scope).

Every GET operation of the app is listed below with two requests by ward A's supervisor:
one inside their ward, which must answer 200 and mention nothing of ward B, and one naming
ward B (its unit, or one of its records), which must answer 404 ``not_found`` exactly as an
unknown id would. A new GET operation fails ``test_every_read_operation_is_probed`` until
it is added here. Canvassers get 403 on every operation their role may never use, and their
pushes into another ward are rejected ``forbidden_ward`` one mutation at a time.

How the defences were checked (each patch made by a throwaway pytest plugin): with
``domain.roles.Scope.covers`` answering True, the 404 probes fail; with ``current_scope``
(auth/scope.py) answering ``everything=True``, the leak checks fail too; with every
``PERMISSIONS`` entry widened to all roles, the 403 tests fail; with the push planner's
``in_scope`` answering True, the push test fails.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest

from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet
from tests.security.routes import WRITE_METHODS, api_routes, fill
from tests.security.scene import Scene, build_scene

SUPERVISOR = "sv.vangiang"  # ward A only
GROUP_B1 = "gso-2020:12022-01"


def in_scope(s: Scene) -> dict[str, list[str]]:
    """Requests ward A's supervisor may make: each answers 200 without ward B in it."""
    c = s.canvassed
    exports = [f"?unit={WARD_A}", f"?unit={GROUP_A1}"]
    return {
        "/api/v1/conflicts": ["", f"?ward={WARD_A}", "?status=open"],
        "/api/v1/devices": ["", f"?ward={WARD_A}"],
        "/api/v1/duplicates": [f"?ward={WARD_A}"],
        "/api/v1/exports/units.csv": [f"?unit={WARD_A}", f"?unit={WARD_A}&layout=report"],
        "/api/v1/exports/units.xlsx": [f"?unit={WARD_A}"],
        "/api/v1/exports/visits.csv": exports,
        "/api/v1/exports/visits.xlsx": exports,
        "/api/v1/exports/households.csv": exports,
        "/api/v1/exports/households.xlsx": exports,
        "/api/v1/exports/snapshot.sqlite": exports,
        "/api/v1/households": ["", f"?ward={WARD_A}", "?q=Xuân", "?q=Thôn 1"],
        "/api/v1/households/<household_id>": [c.households["h1"]],
        "/api/v1/rejections": ["", f"?ward={WARD_A}"],
        "/api/v1/stats": [f"?unit={WARD_A}", f"?unit={GROUP_A1}"],
        "/api/v1/units": ["", "?level=ward", "?parent=gso-2020:326", "?level=group"],
        "/api/v1/users": ["", f"?unit={WARD_A}", "?role=canvasser"],
        "/api/v1/visits": ["", f"?ward={WARD_A}", "?canvasser=cv.xq.001", "?flag=too_fast"],
        "/api/v1/visits/<visit_id>": [c.visits["new"]],
    }


def out_of_scope(s: Scene) -> dict[str, list[str]]:
    """Requests naming ward B (or its records): each answers 404 not_found."""
    c = s.canvassed
    exports = [f"?unit={WARD_B}", f"?unit={GROUP_B1}", "?unit=gso-2020:11953"]
    return {
        "/api/v1/conflicts": [f"?ward={WARD_B}"],
        "/api/v1/devices": [f"?ward={WARD_B}"],
        "/api/v1/duplicates": [f"?ward={WARD_B}"],
        "/api/v1/exports/units.csv": [*exports, "?unit=gso-2020:326", "?unit=gso-2020:33"],
        "/api/v1/exports/units.xlsx": exports,
        "/api/v1/exports/visits.csv": exports,
        "/api/v1/exports/visits.xlsx": exports,
        "/api/v1/exports/households.csv": exports,
        "/api/v1/exports/households.xlsx": exports,
        "/api/v1/exports/snapshot.sqlite": exports,
        "/api/v1/households": [f"?ward={WARD_B}"],
        "/api/v1/households/<household_id>": [c.households["h5"]],
        "/api/v1/rejections": [f"?ward={WARD_B}"],
        "/api/v1/stats": [f"?unit={WARD_B}", f"?unit={GROUP_B1}", "?unit=gso-2020:11953"],
        "/api/v1/units": [f"?parent={WARD_B}"],
        "/api/v1/users": [f"?unit={WARD_B}"],
        "/api/v1/visits": [f"?ward={WARD_B}", f"?group={GROUP_B1}"],
        "/api/v1/visits/<visit_id>": [c.visits["other"]],
    }


# GET operations a supervisor's role may never use: 403 before any scope question.
ROLE_REFUSED = {"/api/v1/audit", "/api/v1/sync/pull", "/api/v1/sync/status"}


def url(rule: str, tail: str) -> str:
    if "<" in rule:
        name = rule.rsplit("<", 1)[1].rstrip(">")
        return fill(rule, {name: tail})
    return rule + tail


@pytest.fixture
def scene(world, client) -> Scene:
    return build_scene(world, client)


def test_every_read_operation_is_probed(app):
    gets = {r.rule for r in api_routes(app) if r.method == "GET" and r.permission is not None}
    # Only the keys matter here: a scene whose ids are all "x".
    ids = SimpleNamespace(households=defaultdict(str), visits=defaultdict(str))
    dummy = Scene(ids, defaultdict(str), defaultdict(str), defaultdict(str))
    listed = set(in_scope(dummy)) | ROLE_REFUSED
    assert gets - listed == set(), "a GET operation without scope probes: add it to this file"
    assert set(out_of_scope(dummy)) | ROLE_REFUSED == listed


def test_reads_inside_the_ward_never_show_another_wards_records(world, client, scene):
    headers = world.headers(client, SUPERVISOR)
    for rule, tails in in_scope(scene).items():
        for tail in tails:
            response = client.get(url(rule, tail), headers=headers)
            assert response.status_code == 200, (rule, tail, response.get_data()[:300])
            text = _readable(response)
            for secret in scene.ward_b_secrets:
                assert secret not in text, (rule, tail, secret)


def test_reads_naming_another_ward_are_not_found(world, client, scene):
    headers = world.headers(client, SUPERVISOR)
    for rule, tails in out_of_scope(scene).items():
        for tail in tails:
            response = client.get(url(rule, tail), headers=headers)
            body = response.get_json()
            assert (response.status_code, body["code"]) == (404, "not_found"), (rule, tail, body)


def test_out_of_scope_and_unknown_answer_alike(world, client, scene):
    # Same status, code and message: the answer says nothing about whether the id exists.
    headers = world.headers(client, SUPERVISOR)
    c = scene.canvassed
    for rule, other, unknown in [
        ("/api/v1/visits/", c.visits["other"], str(uuid.uuid4())),
        ("/api/v1/households/", c.households["h5"], str(uuid.uuid4())),
        ("/api/v1/visits?ward=", WARD_B, "gso-2020:99999"),
        ("/api/v1/stats?unit=", WARD_B, "gso-2020:99999"),
    ]:
        seen = client.get(rule + other, headers=headers).get_json()
        never = client.get(rule + unknown, headers=headers).get_json()
        assert seen == never, rule


@pytest.mark.parametrize("rule", sorted(ROLE_REFUSED))
def test_reads_the_role_may_never_use_are_forbidden(world, client, scene, rule):
    response = client.get(rule, headers=world.headers(client, SUPERVISOR))
    assert (response.status_code, response.get_json()["code"]) == (403, "forbidden")


def test_district_officer_reads_nothing_of_another_district(world, client, scene):
    # dt.vangiang has district 326; ward 11953 is in district 323.
    headers = world.headers(client, "dt.vangiang")
    for path in [
        "/api/v1/stats?unit=gso-2020:11953",
        "/api/v1/stats?unit=gso-2020:323",
        "/api/v1/visits?ward=gso-2020:11953",
        "/api/v1/households?ward=gso-2020:11953",
        "/api/v1/exports/units.csv?unit=gso-2020:33",
        "/api/v1/exports/visits.csv?unit=gso-2020:323",
        "/api/v1/conflicts?ward=gso-2020:11953",
    ]:
        response = client.get(path, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (404, "not_found"), path


def _readable(response: Any) -> str:
    """The answer as text; an XLSX or SQLite file as the text of its cells."""
    data = response.get_data()
    if data.startswith(b"PK"):
        import io

        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            str(cell)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
        )
    if data.startswith(b"SQLite format 3"):
        import sqlite3
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".sqlite") as file:
            file.write(data)
            file.flush()
            con = sqlite3.connect(file.name)
            tables = [
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            text = "\n".join(
                repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"')
            )
            con.close()
            return text
    return data.decode("utf-8")


# --- canvassers ------------------------------------------------------------------------------


def test_canvasser_is_forbidden_every_operation_but_sync_and_units(app, world, client, scene):
    headers = world.headers(client, "cv.vg.001")
    c = scene.canvassed
    values = {
        "visit_id": c.visits["new"],
        "household_id": c.households["h1"],
        "conflict_id": scene.conflicts[WARD_A],
        "rejection_id": scene.rejections[WARD_A],
        "device_id": scene.devices[WARD_A],
        "username": "cv.vg.002",
    }
    allowed = set()
    for route in api_routes(app):
        if route.roles is None or "canvasser" in route.roles:
            allowed.add(route.key)
            continue
        path = route.rule
        for name, value in values.items():
            path = path.replace(f"<{name}>", value)
        kwargs: dict[str, Any] = {"headers": headers}
        if route.method in WRITE_METHODS:
            kwargs["json"] = {}
        response = client.open(path, method=route.method, **kwargs)
        body = response.get_json()
        assert (response.status_code, body["code"]) == (403, "forbidden"), (route.key, body)
    # The only operations a canvasser's token opens (a new one here needs a look).
    assert allowed == {
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/refresh",
        "POST /api/v1/auth/logout",
        "GET /api/v1/openapi.json",
        "GET /api/v1/units",
        "GET /api/v1/sync/pull",
        "POST /api/v1/sync/push",
        "GET /api/v1/sync/status",
    }


def test_canvasser_pushes_into_another_ward_are_rejected_one_by_one(app, world, client, scene):
    c = scene.canvassed
    tablet = Tablet(world, client, "cv.vg.001")  # ward A
    foreign_household = c.households["h5"]  # ward B
    foreign_visit = c.visits["other"]
    mutations = [
        tablet.household(ward=WARD_B),  # create in ward B
        tablet.household(ward="gso-2020:11953"),  # create in another district
        tablet.household(group="gso-2020:12022-01", ward=WARD_B),  # a group of ward B
        tablet.mutation(
            "household.upsert", foreign_household, {"head_name": "Kẻ lạ"}, base_version=1
        ),
        tablet.visit(foreign_household),  # visit a ward B household
        tablet.mutation("visit.update", foreign_visit, {"notes": "sửa"}, base_version=1),
        tablet.mutation("visit.void", foreign_visit, {"reason": "xoá"}, base_version=1),
    ]
    own = tablet.household(address="Số 99, ngõ 99, phố Hiến Nam")
    move = tablet.mutation("household.upsert", own["id"], {"ward": WARD_B}, base_version=1)
    body = tablet.push([*mutations, own, move])
    results = body["results"]
    assert all(r["status"] == "rejected" for r in results[:7]), results
    codes = [r["code"] for r in results[:7]]
    # Creating in ward B (or a group of it, or another district) is forbidden_ward.
    assert codes[:3] == ["forbidden_ward"] * 3, codes
    # Ward B's existing records are out of reach; whether they answer forbidden_ward or as
    # unknown ids is tests/api/test_push_hardening.py's (foreign ids).
    allowed = {"forbidden_ward", "household_unknown", "validation_failed", "not_author"}
    assert set(codes[3:]) <= allowed, codes
    assert results[7]["status"] == "applied"
    # Moving one's own household into ward B is refused too, and the household stays put.
    assert results[8]["status"] == "rejected", results[8]
    admin = world.headers(client, "admin")
    h5 = client.get(f"/api/v1/households/{foreign_household}", headers=admin).get_json()
    assert h5["head_name"] != "Kẻ lạ" and len(h5["visits"]) == 1
    visit = client.get(f"/api/v1/visits/{foreign_visit}", headers=admin).get_json()
    assert visit["version"] == 1 and visit["voided"] is False and visit["notes"] == ""
    mine = client.get(f"/api/v1/households/{own['id']}", headers=admin).get_json()
    assert mine["ward"] == WARD_A
