"""A canvassed world with something of every kind in two wards, for the scope tests.

Ward A (Văn Giang, gso-2020:12019) is sv.vangiang's; ward B (Xuân Quan, gso-2020:12022) is
sv.xuanquan's. Each ward gets households, visits, a possible-duplicate conflict, a rejected
mutation and a tablet, so every read endpoint has something of the other ward to leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.api.review_helpers import Canvassed, canvass
from tests.api.sync_helpers import WARD_A, WARD_B, Tablet, counts


@dataclass
class Scene:
    canvassed: Canvassed
    conflicts: dict[str, str]  # ward ref -> id of an open conflict there
    rejections: dict[str, str]  # ward ref -> id of a rejected mutation there
    devices: dict[str, str]  # ward ref -> device id of a tablet there

    @property
    def ward_b_secrets(self) -> list[str]:
        """Strings that only an answer leaking ward B could contain."""
        c = self.canvassed
        return [
            c.households["h5"],
            c.visits["other"],
            self.conflicts[WARD_B],
            self.rejections[WARD_B],
            self.devices[WARD_B],
            "cv.xq.001",
            WARD_B,
            "Xuân Quan",
            "0912345678",
            "345678",  # the end of h5's phone, which masking leaves visible
        ]


def _duplicate_and_rejection(tablet: Tablet, ward: str, address: str) -> tuple[str, str]:
    """Push a second household at an existing address (a possible duplicate) and a visit
    whose counts break the rules (rejected); (the conflict's id, the rejection's id)."""
    twin = tablet.household(ward=ward, address=address)
    bad = tablet.visit(twin["id"], **counts(adults=1, smartphones=5, before=0, during=0))
    body = tablet.push([twin, bad])
    assert [r["status"] for r in body["results"]] == ["conflict", "rejected"], body
    return body["results"][0]["conflict_id"], f"{tablet.device_id}:{bad['mutation_id']}"


def build_scene(world: Any, client: Any) -> Scene:
    canvassed = canvass(world, client)
    a, b = canvassed.tablets["a"], canvassed.tablets["b"]
    conflicts, rejections = {}, {}
    for tablet, ward, address in [
        (a, WARD_A, "Số 12, ngõ 34, phố Hiến Nam"),
        (b, WARD_B, "Thôn 1, xã Xuân Quan"),
    ]:
        conflicts[ward], rejections[ward] = _duplicate_and_rejection(tablet, ward, address)
    return Scene(
        canvassed=canvassed,
        conflicts=conflicts,
        rejections=rejections,
        devices={WARD_A: a.device_id, WARD_B: b.device_id},
    )
