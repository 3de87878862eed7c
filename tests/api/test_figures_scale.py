"""The adult populations the figures use (docs/figures.md, "How they are kept"): stored on each
unit and kept exact by every `units import`, checked by `stats verify`, repaired by
`stats rebuild`; /stats answers them as a recount of the tree from scratch would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from domain.stats import (
    PopulationDifference,
    UnitNode,
    population_differences,
    summed_population,
)
from field_server.extensions import db
from field_server.models import AuditEntry, Unit
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B, Tablet

HEADER = "scheme,code,name,level,parent_code,adult_population,target_rate"
TREE = [
    "gso-2020,33,Tỉnh Hưng Yên,province,,,",
    "gso-2020,326,Huyện Văn Giang,district,33,,",
    "gso-2020,327,Huyện Yên Mỹ,district,33,,",
    "gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,",
    "gso-2020,12022,Xã Xuân Quan,ward,326,7400,0.7",
    "gso-2020,12100,Xã Tân Lập,ward,327,,",
    "gso-2020,12019-01,Tổ dân phố 1,group,12019,,",
    "gso-2020,12100-01,Thôn 1,group,12100,300,",
    "gso-2020,12100-02,Thôn 2,group,12100,,",
]


def load(runner: Any, tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "units.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output


def from_scratch(app: Any) -> dict[str, int | None]:
    """Every unit's population as API §6 defines it, recursing over the stored tree."""
    with app.app_context():
        units = db.session.execute(select(Unit)).scalars().all()
        kids: dict[int | None, list[Unit]] = {}
        for unit in units:
            kids.setdefault(unit.parent_id, []).append(unit)

        def population(unit: Unit) -> int | None:
            if unit.adult_population is not None:
                return unit.adult_population
            known = [p for p in (population(c) for c in kids.get(unit.id, [])) if p is not None]
            return sum(known) if known else None

        return {u.code: population(u) for u in units}


def answered(app: Any, client: Any, headers: dict[str, str]) -> dict[str, int | None]:
    """The adult_population /stats answers for each unit (as itself and as a child)."""
    with app.app_context():
        refs = [u.ref for u in db.session.execute(select(Unit)).scalars()]
    out: dict[str, int | None] = {}
    for ref in refs:
        response = client.get(f"/api/v1/stats?unit={ref}&to=2020-08-31", headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        out[body["unit"]["code"]] = body["totals"]["adult_population"]
        for child in body["children"]:
            assert (
                out.setdefault(child["unit"]["code"], child["totals"]["adult_population"])
                == (child["totals"]["adult_population"])
            )
    return out


def verify(runner: Any, *extra: str) -> Any:
    return runner.invoke(args=["stats", "verify", *extra])


def test_populations_follow_every_import(app, client, runner, tmp_path, world):
    admin = world.headers(client, "admin")
    load(runner, tmp_path, TREE)
    # The world's own tree (12019 and 12022 already existed at 9000 and 7000) and the file's.
    assert answered(app, client, admin) == from_scratch(app)
    scratch = from_scratch(app)
    assert scratch["326"] == 9200 + 7400
    assert scratch["12100"] == 300  # a group's population, summed up to its ward
    assert scratch["33"] == 9200 + 7400 + 300 + 8000  # and Hiến Nam (8000), from the world

    replaced = {
        "12022": "gso-2020,12022,Xã Xuân Quan,ward,327,7500,",  # moved to Yên Mỹ
        "12100-02": "gso-2020,12100-02,Thôn 2,group,12100,450,",
    }
    load(runner, tmp_path, [replaced.get(line.split(",")[1], line) for line in TREE])
    scratch = from_scratch(app)
    # Văn Giang lost Xuân Quan, and nothing else under it changed.
    assert scratch["326"] == 9200 and scratch["327"] == 7500 + 300 + 450
    assert answered(app, client, admin) == scratch
    assert verify(runner).exit_code == 0

    # Yên Mỹ loses both its wards: nobody below it knows a population any more.
    emptied = [line.replace(",327,", ",326,") for line in TREE if ",ward," in line]
    load(runner, tmp_path, [TREE[0], TREE[1], TREE[2], *emptied])
    scratch = from_scratch(app)
    assert scratch["327"] is None and scratch["326"] == 9200 + 7400 + 750
    assert answered(app, client, admin) == scratch
    assert verify(runner).exit_code == 0


def test_verify_reports_a_wrong_population_and_rebuild_repairs_it(app, runner, world):
    assert verify(runner).exit_code == 0
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.code == "326").values(effective_population=1))
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert "gso-2020:326: adult population is 1, its units give 16000" in result.output
    assert "1 unit population(s)" in result.output
    assert verify(runner, "--unit", "gso-2020:12019").exit_code == 0  # below the wrong one
    assert verify(runner, "--unit", "gso-2020:326").exit_code == 1

    result = runner.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "1 unit population(s)" in result.output
    assert verify(runner).exit_code == 0
    with app.app_context():
        audit = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "figures.rebuild")
        ).scalar_one()
        assert json.loads(audit.details or "{}")["populations"] == 1


def test_an_unknown_population_is_checked_too(app, runner, world):
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.code == "33").values(effective_population=None))
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert "gso-2020:33: adult population is unknown, its units give 24000" in result.output


def test_population_arithmetic():
    nodes = [
        UnitNode(1, None, "province", None, None),
        UnitNode(2, 1, "district", None, None),
        UnitNode(3, 2, "ward", 9000, 0.6),
        UnitNode(4, 2, "ward", None, 0.6),
    ]
    assert population_differences(nodes, {1: 9000, 2: 9000, 3: 9000, 4: None}) == []
    assert population_differences(nodes, {1: 9000, 2: 1, 3: 9000}) == [
        PopulationDifference(2, 1, 9000)
    ]
    assert summed_population([None, 5, None, 7]) == 12
    assert summed_population([None, None]) is None
    assert summed_population([]) is None


# --- moves: what lies below a moved unit is counted under its new ancestors -----------------


def figures_of(client: Any, headers: dict[str, str], *codes: str) -> dict[str, tuple[int, int]]:
    """(visits, households) of each unit, as /stats answers them."""
    out = {}
    for code in codes:
        response = client.get(f"/api/v1/stats?unit=gso-2020:{code}&to=2020-08-31", headers=headers)
        assert response.status_code == 200, response.get_json()
        totals = response.get_json()["totals"]
        out[code] = (totals["visits"], totals["households"])
    return out


def visited(client: Any, world: Any, username: str, ward: str, households: int) -> None:
    tablet = Tablet(world, client, username)
    batch = []
    for n in range(households):
        household = tablet.household(ward=ward, address=f"Số {n + 1}, ngõ 7")
        batch += [
            household,
            tablet.visit(household["id"], visited_at="2020-08-15T09:31:00+07:00"),
            tablet.visit(household["id"], visited_at="2020-08-16T15:02:00+07:00"),
        ]
    assert {r["status"] for r in tablet.push(batch)["results"]} == {"applied"}


def test_a_moved_ward_takes_its_figures_to_its_new_district(app, client, runner, tmp_path, world):
    admin = world.headers(client, "admin")
    visited(client, world, "cv.vg.001", WARD_A, 1)
    visited(client, world, "cv.xq.001", WARD_B, 2)  # 12022, in Văn Giang (326)
    load(runner, tmp_path, TREE)
    before = figures_of(client, admin, "326", "327", "33", "12022")
    assert before == {"326": (6, 3), "327": (0, 0), "33": (6, 3), "12022": (4, 2)}

    moved = [line.replace("ward,326,7400", "ward,327,7400") for line in TREE]
    load(runner, tmp_path, moved)  # Xuân Quan to Yên Mỹ (327), in the same province
    assert figures_of(client, admin, "326", "327", "33", "12022") == {
        "326": (2, 1),
        "327": (4, 2),
        "33": (6, 3),
        "12022": (4, 2),
    }
    assert verify(runner).exit_code == 0

    load(runner, tmp_path, TREE)  # and back
    assert figures_of(client, admin, "326", "327", "33", "12022") == before
    assert verify(runner).exit_code == 0


def test_a_moved_district_takes_its_figures_to_its_new_province(
    app, client, runner, tmp_path, world
):
    admin = world.headers(client, "admin")
    visited(client, world, "cv.xq.001", WARD_B, 1)
    visited(client, world, "cv.vg.001", WARD_A, 1)
    province = "gso-2020,34,Tỉnh Thái Bình,province,,,"
    load(runner, tmp_path, [province, *TREE])
    moved = [
        line.replace("district,33,", "district,34,") if ",326," in line else line for line in TREE
    ]
    load(runner, tmp_path, [province, *moved])
    assert figures_of(client, admin, "33", "34", "326") == {
        "33": (0, 0),
        "34": (4, 2),
        "326": (4, 2),
    }
    country = client.get("/api/v1/stats?unit=gso-2020:*&to=2020-08-31", headers=admin).get_json()
    assert country["totals"]["visits"] == 4
    assert sum(day["visits"] for day in country["daily"]) == 4
    assert verify(runner).exit_code == 0


def test_a_moved_group_leaves_its_households_in_their_ward(app, client, runner, tmp_path, world):
    # A household's ward is its own column, and it counts in that ward's units: moving its
    # group to another ward moves no figure (what a recount from the visits says too).
    admin = world.headers(client, "admin")
    tablet = Tablet(world, client, "cv.vg.001")
    household = tablet.household(ward=WARD_A, group=GROUP_A1)
    assert tablet.push([household, tablet.visit(household["id"])])["results"][0]["status"] == (
        "applied"
    )
    moved = [line.replace("group,12019,", "group,12022,") for line in TREE]
    load(runner, tmp_path, moved)
    assert figures_of(client, admin, "12019", "12022", "12019-01") == {
        "12019": (1, 1),
        "12022": (0, 0),
        "12019-01": (1, 1),
    }
    assert verify(runner).exit_code == 0
