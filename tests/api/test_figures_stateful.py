"""The figures under random work (issue 4, acceptance 1): a Hypothesis state machine.

Tablets in two wards push households and visits (dated over several days, with and
without counts, some outcomes mismatching their counts), edit and void their own visits;
supervisors review (approve, reject, flag, reset; single and bulk) and correct visits, and
merge duplicate households; the operator moves one ward to the other district and back
(`units import`). After every step the counters the server keeps equal a full
recount from the visits (`stats verify`), and /stats for every unit, as of two different
days, equals the figures recomputed the slow obvious way (tests/figures_oracle.py); the
country's daily series, from its own rows, is its one province's.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import Unit, Visit
from field_server.store import figures
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet
from tests.conftest import build_world, empty_all_tables
from tests.figures_oracle import assert_totals_match, expected_totals

UNITS = [WARD_A, WARD_B, GROUP_A1, "gso-2020:326", "gso-2020:323", "gso-2020:33"]
SUPERVISORS = {WARD_A: "sv.vangiang", WARD_B: "sv.xuanquan"}
OUTCOMES = ["installed", "partial", "refused", "not_home", "already_installed"]
DAYS = ["2020-08-14", "2020-08-15", "2020-08-16"]
ACTIONS = ["approve", "reject", "flag", "reset"]

count_values = st.fixed_dictionaries(
    {
        "adults": st.integers(1, 6),
        "phones": st.integers(0, 6),
        "before": st.integers(0, 6),
        "during": st.integers(0, 6),
        "subjects": st.integers(0, 2),
    }
)


def make_counts(c: dict[str, int]) -> dict[str, int]:
    """Counts that satisfy the rules: before + during <= smartphones <= adults."""
    adults = c["adults"]
    phones = min(c["phones"], adults)
    before = min(c["before"], phones)
    during = min(c["during"], phones - before)
    subjects = min(c["subjects"], adults)
    return {
        "adults": adults,
        "smartphones": phones,
        "installed_before": before,
        "installed_during": during,
        "priority_subjects": subjects,
        "priority_installed": min(subjects, before + during),
    }


class FiguresMachine(RuleBasedStateMachine):
    def __init__(self, make_app: Any) -> None:
        super().__init__()
        self.app = make_app()
        with self.app.app_context():
            empty_all_tables()
        self.world = build_world(self.app)
        self.client = self.app.test_client()
        self.tablets: dict[str, Tablet] = {}
        self.households: list[tuple[str, str, str]] = []  # (id, ward, tablet username)
        self.visits: list[tuple[str, str]] = []  # (visit id, tablet username)
        self.merged: set[str] = set()

    @initialize()
    def start(self) -> None:
        for username in ("cv.vg.001", "cv.vg.002", "cv.xq.001"):
            self.tablets[username] = Tablet(self.world, self.client, username)

    def tablet_for(self, username: str) -> Tablet:
        return self.tablets[username]

    # --- tablets -------------------------------------------------------------------------

    @rule(who=st.sampled_from(["cv.vg.001", "cv.vg.002", "cv.xq.001"]), n=st.integers(0, 99))
    def new_household(self, who: str, n: int) -> None:
        tablet = self.tablet_for(who)
        ward = WARD_B if who == "cv.xq.001" else WARD_A
        group = GROUP_A1 if who == "cv.vg.002" else None
        mutation = tablet.household(ward=ward, address=f"Số {n}, ngõ 3", group=group)
        result = tablet.push([mutation])["results"][0]
        assert result["status"] in ("applied", "conflict")  # same address: possible duplicate
        self.households.append((mutation["id"], ward, who))

    @precondition(lambda self: self.households)
    @rule(
        pick=st.integers(0, 1000),
        outcome=st.sampled_from(OUTCOMES),
        day=st.sampled_from(DAYS),
        hour=st.integers(7, 20),
        with_counts=st.booleans(),
        values=count_values,
    )
    def new_visit(self, pick, outcome, day, hour, with_counts, values) -> None:
        household_id, _, who = self.households[pick % len(self.households)]
        tablet = self.tablet_for(who)
        counts = make_counts(values)
        if outcome == "not_home" and not with_counts:
            counts = dict.fromkeys(counts, None)
        mutation = tablet.visit(
            household_id, outcome=outcome, visited_at=f"{day}T{hour:02d}:15:00+07:00", **counts
        )
        result = tablet.push([mutation])["results"][0]
        if result["status"] != "rejected":
            self.visits.append((mutation["id"], who))

    def visit_row(self, pick: int) -> Any:
        visit_id, who = self.visits[pick % len(self.visits)]
        with self.app.app_context():
            visit = db.session.get(Visit, visit_id)
            return visit, who

    @precondition(lambda self: self.visits)
    @rule(pick=st.integers(0, 1000), values=count_values, day=st.sampled_from(DAYS))
    def tablet_edits_visit(self, pick, values, day) -> None:
        visit, who = self.visit_row(pick)
        tablet = self.tablet_for(who)
        data = {**make_counts(values), "visited_at": f"{day}T12:00:00+07:00"}
        tablet.push([tablet.mutation("visit.update", visit.id, data, base_version=visit.version)])

    @precondition(lambda self: self.visits)
    @rule(pick=st.integers(0, 1000))
    def tablet_voids_visit(self, pick) -> None:
        visit, who = self.visit_row(pick)
        tablet = self.tablet_for(who)
        tablet.push(
            [
                tablet.mutation(
                    "visit.void", visit.id, {"reason": "nhầm"}, base_version=visit.version
                )
            ]
        )

    # --- supervisors ---------------------------------------------------------------------

    def supervisor_of(self, visit: Any) -> dict[str, str]:
        with self.app.app_context():
            ward = db.session.get(Unit, visit.ward_id)
            ref = f"{ward.scheme}:{ward.code}"
        return self.world.headers(self.client, SUPERVISORS[ref])

    @precondition(lambda self: self.visits)
    @rule(pick=st.integers(0, 1000), action=st.sampled_from(ACTIONS))
    def supervisor_reviews(self, pick, action) -> None:
        visit, _ = self.visit_row(pick)
        response = self.client.post(
            f"/api/v1/visits/{visit.id}/review",
            json={"action": action, "comment": "kiểm tra"},
            headers=self.supervisor_of(visit),
        )
        assert response.status_code in (200, 409), response.get_json()

    @precondition(lambda self: self.visits)
    @rule(
        picks=st.lists(st.integers(0, 1000), min_size=1, max_size=5),
        action=st.sampled_from(ACTIONS),
    )
    def supervisor_reviews_in_bulk(self, picks, action) -> None:
        rows = [self.visit_row(p)[0] for p in picks]
        ward_a = [v for v in rows if not v.voided and v.ward_id == rows[0].ward_id]
        if not ward_a:
            return
        response = self.client.post(
            "/api/v1/visits/review",
            json={"ids": sorted({v.id for v in ward_a}), "action": action},
            headers=self.supervisor_of(ward_a[0]),
        )
        assert response.status_code == 200, response.get_json()

    @precondition(lambda self: self.visits)
    @rule(pick=st.integers(0, 1000), values=count_values)
    def supervisor_corrects(self, pick, values) -> None:
        visit, _ = self.visit_row(pick)
        response = self.client.patch(
            f"/api/v1/visits/{visit.id}",
            json={"base_version": visit.version, "data": make_counts(values)},
            headers=self.supervisor_of(visit),
        )
        assert response.status_code in (200, 409, 422), response.get_json()

    @precondition(lambda self: len(self.households) >= 2)
    @rule(a=st.integers(0, 1000), b=st.integers(0, 1000))
    def supervisor_merges(self, a, b) -> None:
        first, ward, _ = self.households[a % len(self.households)]
        second, ward2, _ = self.households[b % len(self.households)]
        if first == second or ward != ward2 or {first, second} & self.merged:
            return
        response = self.client.post(
            f"/api/v1/households/{first}/merge",
            json={"into": second},
            headers=self.world.headers(self.client, SUPERVISORS[ward]),
        )
        assert response.status_code == 200, response.get_json()
        self.merged.add(first)

    # --- the operator ----------------------------------------------------------------------

    @rule(district=st.sampled_from(["326", "323"]))
    def operator_moves_ward_b(self, district: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "units.csv"
            path.write_text(
                "scheme,code,name,level,parent_code,adult_population,target_rate\n"
                f"gso-2020,12022,Xã Xuân Quan,ward,{district},7000,0.6\n"
            )
            result = self.app.test_cli_runner().invoke(args=["units", "import", str(path)])
        assert result.exit_code == 0, result.output

    # --- what must hold ------------------------------------------------------------------

    @invariant()
    def counters_equal_a_recount(self) -> None:
        with self.app.app_context():
            result = figures.recount(timezone="Asia/Ho_Chi_Minh")
            assert result.household_counter_errors == []
            assert result.contributions == figures.stored()
            assert figures.country_days(result.contributions) == figures.stored_country()
            db.session.rollback()

    @invariant()
    def stats_equal_the_oracle(self) -> None:
        admin = self.world.headers(self.client, "admin")
        for to in ("2020-08-15", "2020-08-31"):
            for ref in UNITS:
                response = self.client.get(f"/api/v1/stats?unit={ref}&to={to}", headers=admin)
                assert response.status_code == 200, response.get_json()
                with self.app.app_context():
                    scheme, code = ref.split(":")
                    unit = db.session.execute(
                        select(Unit).where(Unit.scheme == scheme, Unit.code == code)
                    ).scalar_one()
                    want = expected_totals(unit, date.fromisoformat(to))
                    db.session.rollback()
                assert_totals_match(response.get_json()["totals"], want)
            # The country's own day rows give the daily series of its one province.
            country = self.client.get(f"/api/v1/stats?unit=gso-2020:*&to={to}", headers=admin)
            province = self.client.get(f"/api/v1/stats?unit=gso-2020:33&to={to}", headers=admin)
            assert country.get_json()["daily"] == province.get_json()["daily"]


def test_figures_state_machine(make_app):
    run_state_machine_as_test(
        lambda: FiguresMachine(make_app),
        settings=settings(
            max_examples=8,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
