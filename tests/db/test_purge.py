"""`field-server purge --older-than DAYS` (docs/operations.md "Personal data"), on SQLite and
PostgreSQL: the personal data of records inactive for DAYS is gone from every table, from
the exports and from what tablets pull, while every figure, export count and `stats verify`
stay as they were, and records with recent activity keep everything.

Old records are made the honest way: pushed, reviewed, corrected, resolved through the API
like any others, then every timestamp they carry is moved 60 days back (the server's clock
cannot be sent back). Every personal text of those records holds the word "Seeded"; every
one of the records that stay active holds "Young".
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import case, select, update

from field_server.extensions import db
from field_server.models import (
    AuditEntry,
    Conflict,
    DeviceMutation,
    Household,
    Revision,
    Visit,
    table,
)
from tests.api.sync_helpers import WARD_A, Tablet, counts

OLD_NAME = "Nguyễn Thị Seeded"
OLD_PHONE = "0912 345 678"
OLD_ADDRESS = "Số 77, ngõ Seeded, phố Cũ"
REVISITED = "Số 8, ngõ Revisited"
YOUNG_NAME = "Trần Văn Young"
YOUNG_PHONE = "0987 654 321"
UNITS = ("gso-2020:33", "gso-2020:326", WARD_A, "gso-2020:12022")
PERSONAL_EXPORT_COLUMNS = {
    "households": ("address", "lat", "lon", "head_name", "phone"),
    "visits": ("lat", "lon", "accuracy_m", "notes", "review_comment"),
}
SEEDED = re.compile(r"seeded|0912\D?345\D?678", re.IGNORECASE)


def age_everything(app: Any, days: int) -> None:
    """Move every timestamp stored so far ``days`` back: these records' last activity is
    then that long ago."""
    then = datetime.now(UTC) - timedelta(days=days)

    def back(column: Any) -> Any:
        return case((column.is_(None), None), else_=then)

    with app.app_context():
        for model, columns in (
            (Household, ("created_at", "updated_at")),
            (Visit, ("received_at", "updated_at", "reviewed_at")),
            (DeviceMutation, ("received_at", "resolved_at")),
            (Conflict, ("created_at", "resolved_at")),
            (Revision, ("at",)),
            (AuditEntry, ("at",)),
        ):
            t = table(model)
            db.session.execute(update(t).values({c: back(t.c[c]) for c in columns}))
        db.session.commit()


def database_text(app: Any) -> str:
    """Every row of every table, as text: what someone with a copy of the database sees."""
    with app.app_context():
        rows = [
            f"{t.name}: {row}"
            for t in db.metadata.sorted_tables
            for row in db.session.execute(select(t).order_by(*t.primary_key.columns))
        ]
        db.session.rollback()
    return "\n".join(rows)


def run_purge(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["purge", *args])


def stats(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    out = {}
    for unit in UNITS:
        response = client.get(f"/api/v1/stats?unit={unit}", headers=admin)
        assert response.status_code == 200, response.get_json()
        out[unit] = response.get_json()
    return out


def export(client: Any, admin: dict[str, str], kind: str) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/exports/{kind}.csv?unit=gso-2020:33", headers=admin)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def counted(output: str) -> str:
    """The counts of the command's last line ("12 households, 30 visits, ...")."""
    return output.strip().splitlines()[-1].rsplit(": ", 1)[1]


@pytest.fixture
def campaign(world, client, app):
    """Old records in ward A holding personal data in every place the server keeps it,
    then (60 days later) young ones, and an old household visited again today."""
    tablet = Tablet(world, client, "cv.vg.001")
    sv = world.headers(client, "sv.vangiang")
    old = [
        tablet.household(address=f"{OLD_ADDRESS} {i}", head_name=f"{OLD_NAME} {i}", phone=OLD_PHONE)
        for i in range(4)
    ]
    visits = [
        tablet.visit(h["id"], notes=f"ghi chú Seeded {i}", visited_at="2020-08-15T09:00:00+07:00")
        for i, h in enumerate(old)
    ]
    # An old household visited again today: it keeps everything.
    revisited = tablet.household(address=REVISITED, head_name="Revisited", phone="0911 222 333")
    come_back = tablet.visit(
        revisited["id"],
        outcome="come_back",
        come_back_at="2020-08-17T18:00:00+07:00",
        notes="hẹn Revisited tối",
        visited_at="2020-08-16T09:00:00+07:00",
        **dict.fromkeys(counts(), None),
    )
    # Two households at one address: a possible_duplicate conflict naming them by id.
    twins = [
        tablet.household(address="Số 9, ngõ Seeded", head_name=f"Seeded twin {i}") for i in (1, 2)
    ]
    assert (
        tablet.push([*old, *visits, revisited, come_back, *twins])["results"][-1]["status"]
        == "conflict"
    )

    # A revision holding the previous name and phone; a field conflict on the head's name.
    tablet.push([tablet.mutation("household.upsert", old[0]["id"], {"phone": "0900 111 222"}, 1)])
    first = tablet.mutation("household.upsert", old[1]["id"], {"head_name": "Seeded B"}, 1)
    second = tablet.mutation("household.upsert", old[1]["id"], {"head_name": "Seeded C"}, 1)
    tablet.push([first])
    conflict = tablet.push([second])["results"][0]
    assert conflict["status"] == "conflict", conflict
    resolved = client.post(
        f"/api/v1/conflicts/{conflict['conflict_id']}/resolve",
        json={"resolution": "set", "values": {"head_name": "Lê Seeded Set"}},
        headers=sv,
    )
    assert resolved.status_code == 200, resolved.get_json()
    # A void with its reason; reviews with comments; a supervisor's correction of notes.
    void = tablet.mutation("visit.void", visits[2]["id"], {"reason": "nhầm nhà Seeded"}, 1)
    assert tablet.push([void])["results"][0]["status"] == "applied"
    for visit, action in ((visits[0], "approve"), (visits[1], "reject"), (visits[3], "flag")):
        reviewed = client.post(
            f"/api/v1/visits/{visit['id']}/review",
            json={"action": action, "comment": f"nhận xét Seeded {action}"},
            headers=sv,
        )
        assert reviewed.status_code == 200, reviewed.get_json()
    corrected = client.patch(
        f"/api/v1/visits/{visits[3]['id']}",
        json={"base_version": 1, "data": {"notes": "sửa Seeded", "installed_during": 1}},
        headers=sv,
    )
    assert corrected.status_code == 200, corrected.get_json()
    # Rejected mutations keep their payloads: a bad phone, counts that do not add up.
    bad = [
        tablet.household(address="Seeded rejected", head_name="Seeded rejected", phone="x"),
        tablet.visit(old[0]["id"], notes="Seeded rejected", **counts(adults=1, smartphones=3)),
    ]
    assert {r["status"] for r in tablet.push(bad)["results"]} == {"rejected"}

    age_everything(app, 60)

    young = tablet.household(address="Số 1, ngõ Young", head_name=YOUNG_NAME, phone=YOUNG_PHONE)
    young_visit = tablet.visit(young["id"], notes="Young notes")
    again = tablet.visit(
        revisited["id"], notes="quay lại Young", visited_at="2020-08-20T09:00:00+07:00"
    )
    tablet.push([young, young_visit, again])
    return {"tablet": tablet, "old": old, "young": young, "revisited": revisited}


def test_purge_removes_old_personal_data_and_keeps_every_figure(
    app, client, runner, world, campaign, monkeypatch
):
    # Pages of two households: the walk over many pages is what runs on a real database.
    monkeypatch.setattr("field_server.store.purge.PAGE", 2)
    monkeypatch.setattr("field_server.cli.purge.PROGRESS_EVERY", 1)
    admin = world.headers(client, "admin")
    figures_before = stats(client, admin)
    exports_before = {
        kind: export(client, admin, kind) for kind in ("units", "visits", "households")
    }
    _, cursor, _ = campaign["tablet"].pull_all()
    assert SEEDED.search(database_text(app))

    dry = run_purge(runner, "--older-than", "30", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert SEEDED.search(database_text(app))  # a dry run changes nothing

    result = run_purge(runner, "--older-than", "30")
    assert result.exit_code == 0, result.output
    assert counted(result.output) == counted(dry.output)
    assert "households looked at" in result.output  # progress on stderr

    # Nothing personal of the old records is left anywhere in the database...
    text = database_text(app)
    assert not SEEDED.search(text), [line for line in text.splitlines() if SEEDED.search(line)]
    with app.app_context():
        old_ids = [h["id"] for h in campaign["old"]]
        for row in db.session.execute(select(Household).where(Household.id.in_(old_ids))).scalars():
            assert (row.head_name, row.phone, row.address) == (None, None, "")
            assert (row.lat, row.lon, row.first_lat, row.first_lon) == (None,) * 4
        for visit in db.session.execute(
            select(Visit).where(Visit.household_id.in_(old_ids))
        ).scalars():
            assert (visit.lat, visit.lon, visit.accuracy_m, visit.notes) == (None,) * 4
            assert (visit.review_comment, visit.void_reason) == (None, None)
        db.session.rollback()
    # ...while the young records, and the old household visited today, keep everything.
    for kept in (YOUNG_NAME, YOUNG_PHONE, "Young notes", REVISITED, "hẹn Revisited tối"):
        assert kept in text

    # Every figure and every export's count are as they were; a recount agrees.
    assert stats(client, admin) == figures_before
    assert export(client, admin, "units") == exports_before["units"]
    for kind, columns in PERSONAL_EXPORT_COLUMNS.items():
        # Households are listed by address: purged ones move, by id within their ward.
        after = sorted(export(client, admin, kind), key=lambda row: row["id"])
        before = sorted(exports_before[kind], key=lambda row: row["id"])
        assert len(after) == len(before)
        for row, was in zip(after, before, strict=True):
            kept = {k: v for k, v in row.items() if k not in columns}
            assert kept == {k: v for k, v in was.items() if k not in columns}
            assert not SEEDED.search(json.dumps(row, ensure_ascii=False))
    verify = runner.invoke(args=["stats", "verify"])
    assert verify.exit_code == 0, verify.output

    # Tablets: a new copy holds nothing personal of the old records; a tablet that synced
    # before the purge is sent the purged records on its next pull.
    fresh = Tablet(world, client, "cv.vg.001")
    copied, _, _ = fresh.pull_all()
    assert not SEEDED.search(json.dumps(copied, ensure_ascii=False))
    assert YOUNG_NAME in json.dumps(copied, ensure_ascii=False)
    changed, _, _ = campaign["tablet"].pull_all(cursor)
    households = {c["id"]: c["data"] for c in changed if c["entity"] == "household"}
    assert set(old_ids) <= set(households)
    assert all(households[i]["head_name"] is None for i in old_ids)

    # The duplicate rules see no pair among purged households (they share an empty address).
    duplicates = client.get(
        f"/api/v1/duplicates?ward={WARD_A}", headers=world.headers(client, "sv.vangiang")
    )
    assert duplicates.status_code == 200
    assert not [
        item
        for item in duplicates.get_json()["items"]
        if {h["id"] for h in item["households"]} <= set(old_ids)
    ]

    # One audit row, with the counts; a second purge finds nothing left.
    with app.app_context():
        audits = (
            db.session.execute(select(AuditEntry).where(AuditEntry.action == "personal_data.purge"))
            .scalars()
            .all()
        )
        assert len(audits) == 1
        details = json.loads(audits[0].details)
        db.session.rollback()
    assert details["households"] == 6 and details["older_than_days"] == 30
    assert details["visits"] >= 4 and details["revisions"] >= 2
    assert details["conflicts"] >= 1 and details["rejections"] == 2 and details["audit_rows"] >= 4
    again = run_purge(runner, "--older-than", "30")
    assert again.exit_code == 0
    assert counted(again.output) == (
        "0 households, 0 visits, 0 revisions, 0 conflicts, 0 rejected payloads, 0 audit rows."
    )


def test_younger_than_days_nothing_is_purged(app, runner, campaign):
    before = database_text(app)
    result = run_purge(runner, "--older-than", "90")
    assert result.exit_code == 0, result.output
    assert counted(result.output).startswith("0 households, 0 visits,")
    # Only the purge's own audit row was added.
    after = database_text(app)
    added = set(after.splitlines()) - set(before.splitlines())
    assert len(added) == 1 and "personal_data.purge" in added.pop()


@pytest.mark.parametrize("days", ["0", "-3", "abc", "1.5", "36501", "99999999999999999999", ""])
def test_bad_days_is_refused_and_changes_nothing(app, runner, campaign, days):
    before = database_text(app)
    result = run_purge(runner, "--older-than", days)
    assert result.exit_code == 2, result.output
    assert "--older-than" in result.output
    assert "Traceback" not in result.output
    assert database_text(app) == before


def test_older_than_is_required(app, runner, world):
    result = run_purge(runner)
    assert result.exit_code == 2
    assert "Missing option '--older-than'" in result.output
