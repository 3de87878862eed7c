"""GET /api/v1/sync/pull (docs/sync-protocol.md#pull): scope, paging, tombstones, cursor, reset."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.records import HouseholdRecordSchema, VisitRecordSchema
from schemas.sync import (
    CHANGE_DATA,
    AssignmentRecordSchema,
    MergeDataSchema,
    PullResponseSchema,
    SyncStatusSchema,
    UnitRecordSchema,
)
from tests.api.sync_helpers import GROUP_A1, WARD_B, Tablet, pull_page_errors, schema_errors


@pytest.fixture
def tablet(world, client):
    return Tablet(world, client, "cv.vg.001")


def ids(changes, entity):
    return [c["id"] for c in changes if c["entity"] == entity]


def test_a_full_pull_is_the_scope_exactly_once(world, client, tablet):
    households = [tablet.household(address=f"Số {n} phố Hiến Nam") for n in range(7)]
    visits = [
        tablet.visit(h["id"], visited_at=f"2020-08-15T1{n}:00:00+07:00")
        for n, h in enumerate(households)
    ]
    tablet.push(households + visits)
    other = Tablet(world, client, "cv.xq.001")
    elsewhere = other.household(ward=WARD_B)
    other.push([elsewhere, other.visit(elsewhere["id"])])

    changes, _, last = tablet.pull_all(limit=3)
    counted = Counter((c["entity"], c["id"]) for c in changes)
    assert max(counted.values()) == 1
    assert sorted(ids(changes, "household")) == sorted(h["id"] for h in households)
    assert sorted(ids(changes, "visit")) == sorted(v["id"] for v in visits)
    assert set(ids(changes, "unit")) == {
        "gso-2020:33",
        "gso-2020:326",
        "gso-2020:12019",
        "gso-2020:12019-01",
    }
    assert len(ids(changes, "assignment")) == 1
    assert elsewhere["id"] not in ids(changes, "household")
    assert last["last_mutation_id"] == 14 and last["reset"] is False


def test_records_have_the_shape_of_section_5(world, tablet):
    h = tablet.household()
    v = tablet.visit(h["id"])
    tablet.push([h, v])
    changes, _, _ = tablet.pull_all()
    household = next(c for c in changes if c["entity"] == "household")
    assert household["op"] == "upsert" and household["version"] == 1
    assert household["data"]["ward"] == "gso-2020:12019"
    assert household["data"]["installed"] == 3 and household["data"]["merged_into"] is None
    visit = next(c for c in changes if c["entity"] == "visit")["data"]
    assert visit["visited_at"] == "2020-08-15T02:31:00Z"
    assert visit["canvasser"] == "cv.vg.001" and visit["device_id"] == tablet.device_id
    assert visit["review_status"] == "pending" and visit["flags"] == []
    assert visit["voided"] is False and visit["received_at"].endswith("Z")


def test_an_incremental_pull_brings_each_change_once_with_its_latest_state(world, tablet):
    h = tablet.household()
    v = tablet.visit(h["id"])
    tablet.push([h, v])
    _, cursor, _ = tablet.pull_all()
    edits = [
        tablet.mutation("visit.update", v["id"], {"notes": f"lần {n}"}, base_version=n)
        for n in (1, 2)
    ]
    tablet.push(edits)
    changes, cursor, _ = tablet.pull_all(cursor)
    assert [
        (c["entity"], c["data"]["notes"], c["version"]) for c in changes if c["entity"] == "visit"
    ] == [("visit", "lần 2", 3)]
    nothing, _, _ = tablet.pull_all(cursor)
    assert nothing == []


def test_a_group_canvasser_sees_only_their_group(world, client, tablet):
    in_group = tablet.household(group=GROUP_A1)
    outside = tablet.household(address="Số 99 phố Hiến Nam")
    tablet.push([in_group, outside])
    group_tablet = Tablet(world, client, "cv.vg.002")
    changes, _, _ = group_tablet.pull_all()
    assert ids(changes, "household") == [in_group["id"]]


def test_cursors_are_bound_and_signed(world, client, tablet):
    tablet.push([tablet.household()])
    _, cursor, _ = tablet.pull_all(limit=1)
    other = Tablet(world, client, "cv.vg.002")
    for bad in (cursor, cursor[:-3] + "abc", "garbage"):
        response = client.get(f"/api/v1/sync/pull?cursor={bad}", headers=other.headers)
        assert response.status_code == 400
        assert response.get_json()["code"] == "cursor_invalid"


def test_a_scope_change_resets_the_copy(world, client, tablet, runner):
    tablet.push([tablet.household()])
    _, cursor, _ = tablet.pull_all()
    runner.invoke(args=["users", "assign", "cv.vg.001", "--unit", "gso-2020:12022"])
    tablet.token = world.login(client, "cv.vg.001", device_id=tablet.device_id)["access_token"]
    response = client.get(f"/api/v1/sync/pull?cursor={cursor}", headers=tablet.headers)
    body = response.get_json()
    assert body["reset"] is True
    assert "gso-2020:12022" in ids(body["changes"], "unit")


def test_only_device_tokens_pull(world, client):
    supervisor = world.headers(client, "sv.vangiang")
    assert client.get("/api/v1/sync/pull", headers=supervisor).status_code == 403


def test_a_pulled_visit_is_the_record_the_visit_api_shows(world, client, tablet):
    # Pull builds records from plain rows, the visit API from objects: same keys in the same
    # order, same values (times included, with and without a fraction of a second).
    household = tablet.household(group=GROUP_A1)
    visit = tablet.visit(
        household["id"],
        outcome="come_back",
        visited_at="2020-08-15T09:31:00+07:00",
        come_back_at="2020-08-16T08:00:00.250+07:00",
        notes='Hẹn quay lại "sáng mai"',
    )
    tablet.push([household, visit])
    response = client.patch(
        f"/api/v1/visits/{visit['id']}",
        json={"base_version": 1, "data": {"notes": "Đã sửa"}},
        headers=world.headers(client, "sv.vangiang"),
    )
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()
    changes, _, _ = tablet.pull_all()
    pulled = next(c for c in changes if c["entity"] == "visit")
    assert pulled["version"] == shown["version"] == 2
    assert list(pulled["data"].items()) == list(shown.items())
    assert pulled["data"]["come_back_at"] == "2020-08-16T01:00:00.250000Z"
    assert pulled["data"]["visited_at"] == "2020-08-15T02:31:00Z"
    pulled_household = next(c for c in changes if c["entity"] == "household")["data"]
    assert list(pulled_household)[:4] == ["id", "version", "ward", "group"]
    assert pulled_household["group"] == GROUP_A1


@pytest.mark.parametrize(
    "stored",
    [
        "2020-08-15 02:30:02",
        "2020-08-15 02:30:02.000000",
        "2020-08-15 02:30:02.250000",
        "2020-08-15 02:30:02.000001",
        "2020-08-15 02:30:02.25",
        "2020-08-15T02:30:02",
        "2020-08-15 02:30:02+07:00",
        "2020-08-15",
    ],
)
def test_sqlite_time_text_is_shown_as_the_column_type_would(stored):
    from sqlalchemy.dialects import sqlite

    from field_server.models import Visit
    from field_server.store.pull import _time_text, rfc3339

    dialect = sqlite.dialect()
    column_type = Visit.__table__.c.received_at.type
    parse = column_type.dialect_impl(dialect).result_processor(dialect, None)
    assert _time_text(dialect)(stored) == rfc3339(parse(stored))


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2020, 8, 15, 2, 30, 2, tzinfo=UTC),
        datetime(2020, 8, 15, 2, 30, 2, 1, tzinfo=UTC),
        datetime(2020, 8, 15, 2, 30, 2, 250000, tzinfo=UTC),
        datetime(2020, 8, 15, 2, 30, 2, 120000, tzinfo=UTC),
        datetime(2020, 8, 15, 2, 30, 2, 999999, tzinfo=UTC),
        datetime(2020, 8, 15, 9, 30, 2, 500000, tzinfo=timezone(timedelta(hours=7))),
        datetime(2020, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_postgresql_time_text_is_what_rfc3339_writes(app, backend, moment):
    # PostgreSQL writes a pulled visit's times itself (store/pull.py _rfc3339_text), in
    # whatever zone and DateStyle the session has; they must read as the server writes every
    # time.
    from sqlalchemy import literal, select, text

    from field_server.extensions import db
    from field_server.models import UTCDateTime
    from field_server.store.pull import _rfc3339_text, rfc3339

    with app.app_context():
        db.session.execute(text("SET LOCAL TimeZone = 'Asia/Ho_Chi_Minh'"))
        db.session.execute(text("SET LOCAL DateStyle = 'SQL, DMY'"))
        written = db.session.execute(
            select(_rfc3339_text(literal(moment, UTCDateTime())))
        ).scalar_one()
        db.session.rollback()
    assert written == rfc3339(moment)


def test_page_records_missing_from_their_range_are_read_by_key(tablet, monkeypatch):
    # The range read relies on the database ordering keys as Python does; where a collation
    # does not, the page's records must still all be there.
    from sqlalchemy import false

    from field_server.store import pull

    households = [tablet.household(address=f"Số {n} phố Hiến Nam") for n in range(4)]
    tablet.push(households + [tablet.visit(h["id"]) for h in households])
    expected, _, _ = tablet.pull_all(limit=3)
    rows_statement = pull._rows_statement
    monkeypatch.setattr(pull, "_rows_statement", lambda *a: rows_statement(*a).where(false()))
    assert tablet.pull_all(limit=3)[0] == expected


def test_a_page_with_every_kind_of_change_is_what_its_schema_says(world, client, tablet):
    # The page is written by store/pull.py's fast writer, not dumped through the schema:
    # every key, null and type it sends must be the one PullResponseSchema documents.
    kept, merged = tablet.household(group=GROUP_A1), tablet.household(address="Số 7 ngõ 2")
    visits = [
        tablet.visit(kept["id"], come_back_at="2020-08-16T08:00:00.250+07:00"),
        tablet.visit(kept["id"], visited_at="2020-08-15T10:31:00+07:00"),
    ]
    tablet.push([kept, merged, *visits])
    tablet.push([tablet.mutation("visit.void", visits[1]["id"], {"reason": "nhầm"}, 1)])
    response = client.post(
        f"/api/v1/households/{merged['id']}/merge",
        json={"into": kept["id"]},
        headers=world.headers(client, "sv.vangiang"),
    )
    assert response.status_code == 200, response.get_json()

    body = client.get("/api/v1/sync/pull?limit=500", headers=tablet.headers).get_json()
    assert pull_page_errors(body) == []
    assert list(body) == list(PullResponseSchema().fields)
    kinds = set()
    for change in body["changes"]:
        kind = (change["entity"], change["op"])
        kinds.add(kind)
        if kind in CHANGE_DATA:
            # Every declared key is sent, in the order declared.
            assert list(change["data"]) == list(CHANGE_DATA[kind]().fields), change
    assert kinds == {
        ("unit", "upsert"),
        ("assignment", "upsert"),
        ("household", "upsert"),
        ("household", "merge"),
        ("visit", "upsert"),
        ("visit", "delete"),
    }
    assert {CHANGE_DATA[k] for k in kinds if k in CHANGE_DATA} == {
        UnitRecordSchema,
        AssignmentRecordSchema,
        HouseholdRecordSchema,
        MergeDataSchema,
        VisitRecordSchema,
    }

    status = client.get("/api/v1/sync/status", headers=tablet.headers).get_json()
    assert schema_errors(SyncStatusSchema, status) == []
    assert list(status) == list(SyncStatusSchema().fields)


def test_the_schema_check_catches_a_drifting_writer():
    record = {"scheme": "gso-2020", "code": "33", "name": "Hưng Yên", "level": "province",
              "parent": None, "adult_population": 900, "target_rate": None}  # fmt: skip
    assert schema_errors(UnitRecordSchema, record) == []
    assert schema_errors(UnitRecordSchema, {**record, "extra": 1}) == [".extra: not in the schema"]
    assert schema_errors(UnitRecordSchema, {k: v for k, v in record.items() if k != "name"})
    assert schema_errors(UnitRecordSchema, {**record, "name": None})
    assert schema_errors(UnitRecordSchema, {**record, "adult_population": "900"})
    assert schema_errors(UnitRecordSchema, {**record, "adult_population": True})
    page = {"changes": [{"entity": "unit", "op": "upsert", "id": "x", "version": "1"}],
            "cursor": "c", "has_more": False, "reset": False, "last_mutation_id": 0,
            "server_time": "2020-08-15T02:31:00+00:00", "server_hlc": "h"}  # fmt: skip
    assert pull_page_errors(page) == [
        ".changes[0].version: '1' is not a Integer",
        ".server_time: '2020-08-15T02:31:00+00:00' is not a UTC RFC 3339 time",
        ".changes[0].data: None is not an object",
    ]
    merge = {"entity": "household", "op": "merge", "id": "x", "data": {"into": 7}}
    assert pull_page_errors({**page, "changes": [merge], "server_time": "2020-08-15T02:31:00Z"})
