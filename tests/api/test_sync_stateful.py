"""A Hypothesis state machine over the sync protocol (issue 3, acceptance 1).

Three tablets (two in one ward, one a group of it... and one in another ward) and a
supervisor work against the real API while the network drops responses after the server
committed, batches are sent twice and stale batches arrive late, tablets' clocks are days
off, and the server restarts (a new app on the same database). After every step: nothing
acknowledged is lost, nothing is doubled, the ledger agrees with what was sent, and no pull
ever shows anything outside the tablet's scope. At the end every tablet syncs fully and its
incrementally built copy equals both a fresh full pull and the server's in-scope state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import Device, Household, Unit, Visit
from tests.conftest import build_world, empty_all_tables

DAY_MS = 86_400_000
BASE_MS = 1_597_458_600_000  # 2020-08-15 02:30 UTC
WARDS = {
    "cv.vg.001": ("gso-2020:12019", None),
    "cv.vg.002": ("gso-2020:12019", "gso-2020:12019-01"),
    "cv.xq.001": ("gso-2020:12022", None),
}
SCOPE_WARDS = {
    "cv.vg.001": {"gso-2020:12019"},
    "cv.vg.002": {"gso-2020:12019"},
    "cv.xq.001": {"gso-2020:12022"},
}
OUTCOMES = ["installed", "partial", "refused", "not_home"]


@dataclass
class ModelTablet:
    username: str
    device_id: str
    skew_ms: int
    token: str = ""
    next_id: int = 1
    tick: int = 0
    outbox: list[dict[str, Any]] = field(default_factory=list)
    sent_batches: list[list[dict[str, Any]]] = field(default_factory=list)
    acknowledged: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> result
    replica: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cursor: str | None = None
    versions: dict[str, int] = field(default_factory=dict)  # own visits: last known version

    def hlc(self) -> str:
        self.tick += 1
        return f"{BASE_MS + self.skew_ms + self.tick * 61_000}-0000-{self.device_id}"

    def visited_at(self) -> str:
        from datetime import UTC, datetime

        ms = BASE_MS + self.skew_ms + self.tick * 61_000
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat()

    def add(self, type_: str, record_id: str, data: dict, base_version: int | None) -> None:
        mutation = {
            "mutation_id": self.next_id,
            "type": type_,
            "id": record_id,
            "hlc": self.hlc(),
            "data": data,
        }
        if base_version is not None:
            mutation["base_version"] = base_version
        self.next_id += 1
        self.outbox.append(mutation)


class SyncMachine(RuleBasedStateMachine):
    def __init__(self, make_app: Any) -> None:
        super().__init__()
        self.make_app = make_app
        self.app = make_app()
        with self.app.app_context():
            empty_all_tables()
        self.world = build_world(self.app)
        self.client = self.app.test_client()
        self.tablets: list[ModelTablet] = []
        self.sent_visits: set[str] = set()
        self.acked_visits: set[str] = set()
        self.sent_households: set[str] = set()
        self.acked_households: set[str] = set()
        self.supervisor = ""

    # --- plumbing ------------------------------------------------------------------------

    def headers(self, tablet: ModelTablet) -> dict[str, str]:
        return {"Authorization": f"Bearer {tablet.token}"}

    def login(self, tablet: ModelTablet) -> None:
        body = self.world.login(self.client, tablet.username, device_id=tablet.device_id)
        tablet.token = body["access_token"]

    def send(self, tablet: ModelTablet, batch: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/sync/push",
            json={"device_id": tablet.device_id, "mutations": batch},
            headers=self.headers(tablet),
        )
        assert response.status_code == 200, response.get_json()
        tablet.sent_batches.append(batch)
        for m in batch:
            if m["type"] == "visit.create":
                self.sent_visits.add(m["id"])
            elif m["type"] == "household.upsert" and m.get("base_version") == 0:
                self.sent_households.add(m["id"])
        return response.get_json()

    def acknowledge(self, tablet: ModelTablet, answer: dict[str, Any]) -> None:
        by_id = {m["mutation_id"]: m for m in tablet.outbox}
        for result in answer["results"]:
            mutation = by_id.get(result["mutation_id"])
            if mutation is None:
                continue
            assert result["status"] != "rejected" or result["code"] != "mutation_id_reused"
            tablet.acknowledged[result["mutation_id"]] = result
            if result["status"] != "rejected":
                if mutation["type"] == "visit.create":
                    self.acked_visits.add(mutation["id"])
                if mutation["type"] == "household.upsert" and mutation.get("base_version") == 0:
                    self.acked_households.add(mutation["id"])
                if mutation["type"].startswith("visit."):
                    tablet.versions[mutation["id"]] = result["version"]
        done = {r["mutation_id"] for r in answer["results"]}
        tablet.outbox = [m for m in tablet.outbox if m["mutation_id"] not in done]

    def pull(self, tablet: ModelTablet, *, from_scratch: bool = False) -> dict:
        cursor = None if from_scratch else tablet.cursor
        copy: dict[tuple[str, str], dict[str, Any]] = {} if from_scratch else tablet.replica
        for _ in range(200):
            query = "/api/v1/sync/pull?limit=7" + (f"&cursor={cursor}" if cursor else "")
            response = self.client.get(query, headers=self.headers(tablet))
            assert response.status_code == 200, response.get_json()
            page = response.get_json()
            if page["reset"]:
                copy = {}
            for change in page["changes"]:
                key = (change["entity"], change["id"])
                if change["entity"] == "household" and change["op"] == "upsert":
                    assert change["data"]["ward"] in SCOPE_WARDS[tablet.username]
                if change["op"] == "upsert":
                    copy[key] = {"version": change["version"], "data": change["data"]}
                else:
                    copy.pop(key, None)
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        if not from_scratch:
            tablet.replica, tablet.cursor = copy, cursor
        return copy

    # --- rules ---------------------------------------------------------------------------

    @precondition(lambda self: not self.tablets)
    @rule(skews=st.lists(st.integers(-3, 3), min_size=3, max_size=3))
    def start(self, skews: list[int]) -> None:
        for username, skew in zip(WARDS, skews, strict=True):
            tablet = ModelTablet(username, str(uuid.uuid4()), skew * DAY_MS)
            self.login(tablet)
            self.tablets.append(tablet)
        self.supervisor = self.world.headers(self.client, "sv.vangiang")["Authorization"]

    @precondition(lambda self: self.tablets)
    @rule(index=st.integers(0, 2), number=st.integers(1, 30))
    def new_household(self, index: int, number: int) -> None:
        tablet = self.tablets[index]
        ward, group = WARDS[tablet.username]
        tablet.add(
            "household.upsert",
            str(uuid.uuid4()),
            {"ward": ward, "group": group, "address": f"Số {number} ngõ Thử"},
            0,
        )

    @precondition(lambda self: self.tablets)
    @rule(
        index=st.integers(0, 2),
        pick=st.integers(0, 10**6),
        outcome=st.sampled_from(OUTCOMES),
        adults=st.integers(0, 6),
        data=st.data(),
    )
    def new_visit(self, index: int, pick: int, outcome: str, adults: int, data: Any) -> None:
        tablet = self.tablets[index]
        known = sorted(
            [
                m["id"]
                for m in tablet.outbox
                if m["type"] == "household.upsert" and m.get("base_version") == 0
            ]
            + [key[1] for key, value in tablet.replica.items() if key[0] == "household"]
        )
        if not known:
            return
        phones = data.draw(st.integers(0, adults))
        before = data.draw(st.integers(0, phones))
        during = data.draw(st.integers(0, phones - before))
        counts = {
            "adults": adults,
            "smartphones": phones,
            "installed_before": before,
            "installed_during": during,
            "priority_subjects": 0,
            "priority_installed": 0,
        }
        tablet.add(
            "visit.create",
            str(uuid.uuid4()),
            {
                "household_id": known[pick % len(known)],
                "visited_at": tablet.visited_at(),
                "outcome": outcome,
                **counts,
            },
            None,
        )

    @precondition(lambda self: self.tablets)
    @rule(index=st.integers(0, 2), pick=st.integers(0, 10**6), void=st.booleans())
    def change_own_visit(self, index: int, pick: int, void: bool) -> None:
        tablet = self.tablets[index]
        own = sorted(tablet.versions)
        if not own:
            return
        visit_id = own[pick % len(own)]
        if void:
            tablet.add("visit.void", visit_id, {"reason": "nhầm"}, tablet.versions[visit_id])
        else:
            tablet.add(
                "visit.update", visit_id, {"notes": f"sửa {pick}"}, tablet.versions[visit_id]
            )

    @precondition(lambda self: self.tablets)
    @rule(index=st.integers(0, 2), size=st.integers(1, 6), drop=st.booleans(), twice=st.booleans())
    def push(self, index: int, size: int, drop: bool, twice: bool) -> None:
        tablet = self.tablets[index]
        batch = tablet.outbox[:size]
        if not batch:
            return
        answer = self.send(tablet, batch)
        if twice:
            again = self.send(tablet, batch)
            assert [r.get("replayed") for r in again["results"]] == [True] * len(batch)
            answer = again
        if not drop:  # a dropped response: the server committed, the tablet never heard
            self.acknowledge(tablet, answer)

    @precondition(lambda self: self.tablets)
    @rule(index=st.integers(0, 2), pick=st.integers(0, 10**6))
    def stale_batch_arrives_late(self, index: int, pick: int) -> None:
        tablet = self.tablets[index]
        if not tablet.sent_batches:
            return
        batch = tablet.sent_batches[pick % len(tablet.sent_batches)]
        answer = self.send(tablet, batch)
        assert all(r.get("replayed") for r in answer["results"][: len(batch)])

    @precondition(lambda self: self.tablets)
    @rule(index=st.integers(0, 2))
    def pull_changes(self, index: int) -> None:
        self.pull(self.tablets[index])

    @precondition(lambda self: self.tablets)
    @rule(pick=st.integers(0, 10**6), notes=st.text("abc xyz", max_size=8))
    def supervisor_corrects(self, pick: int, notes: str) -> None:
        with self.app.app_context():
            rows = db.session.execute(
                select(Visit.id, Visit.version)
                .where(
                    Visit.ward_id.in_(
                        select(Household.ward_id).where(Household.ward_id.isnot(None))
                    )
                )
                .order_by(Visit.id)
            ).all()
        if not rows:
            return
        visit_id, version = rows[pick % len(rows)]
        response = self.client.patch(
            f"/api/v1/visits/{visit_id}",
            json={"base_version": version, "data": {"notes": notes}},
            headers={"Authorization": self.supervisor},
        )
        assert response.status_code in (200, 404), response.get_json()

    @precondition(lambda self: self.tablets)
    @rule()
    def restart_server(self) -> None:
        self.close()
        self.app = self.make_app()
        self.client = self.app.test_client()

    def close(self) -> None:
        """Stop this app's database pool (a stopped server holds no connection)."""
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def nothing_lost_nothing_doubled(self) -> None:
        with self.app.app_context():
            visits = list(db.session.execute(select(Visit.id)).scalars())
            households = set(db.session.execute(select(Household.id)).scalars())
            devices = dict(
                db.session.execute(select(Device.device_id, Device.last_mutation_id)).all()
            )
        assert len(visits) == len(set(visits))
        assert self.acked_visits <= set(visits) <= self.sent_visits
        assert self.acked_households <= households <= self.sent_households
        for tablet in self.tablets:
            consumed = max([m["mutation_id"] for b in tablet.sent_batches for m in b] or [0])
            assert devices[tablet.device_id] == consumed

    def teardown(self) -> None:
        try:
            self.converge()
        finally:
            self.close()

    def converge(self) -> None:
        for tablet in self.tablets:
            for _ in range(100):
                if not tablet.outbox:
                    break
                self.acknowledge(tablet, self.send(tablet, tablet.outbox[:50]))
            assert tablet.outbox == []
        for tablet in self.tablets:
            incremental = self.pull(tablet)
            assert self.pull(tablet, from_scratch=True) == incremental
            expected = self.server_state(tablet)
            pulled = {
                (entity, record_id): value["version"]
                for (entity, record_id), value in incremental.items()
                if entity in ("household", "visit")
            }
            assert pulled == expected

    def server_state(self, tablet: ModelTablet) -> dict[tuple[str, str], int]:
        """What the tablet should hold: its scope's households (not merged away) and their
        visits (not void), each at its current version."""
        ward, group = WARDS[tablet.username]
        with self.app.app_context():
            refs = dict(db.session.execute(select(Unit.id, Unit.scheme + ":" + Unit.code)).all())
            households = db.session.execute(
                select(
                    Household.id,
                    Household.version,
                    Household.ward_id,
                    Household.group_id,
                    Household.merged_into,
                )
            ).all()
            mine = {
                h.id: h.version
                for h in households
                if refs[h.ward_id] == ward
                and (group is None or refs.get(h.group_id) == group)
                and h.merged_into is None
            }
            visits = db.session.execute(
                select(Visit.id, Visit.version, Visit.household_id, Visit.voided)
            ).all()
        state = {("household", h): v for h, v in mine.items()}
        state.update(
            {("visit", v.id): v.version for v in visits if v.household_id in mine and not v.voided}
        )
        return state


def test_sync_state_machine(make_app):
    run_state_machine_as_test(
        lambda: SyncMachine(make_app),
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
