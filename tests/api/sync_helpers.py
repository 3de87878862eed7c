"""A minimal tablet for API tests: numbered mutations, push, pull to the end."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

WARD_A = "gso-2020:12019"  # Thị trấn Văn Giang: cv.vg.001 (ward), cv.vg.002 (group -01)
GROUP_A1 = "gso-2020:12019-01"
WARD_B = "gso-2020:12022"  # Xuân Quan: cv.xq.001
WARD_C = "gso-2020:11953"  # Hiến Nam, in another district


def counts(adults=4, smartphones=3, before=1, during=2, subjects=0, priority=0) -> dict:
    return {
        "adults": adults,
        "smartphones": smartphones,
        "installed_before": before,
        "installed_during": during,
        "priority_subjects": subjects,
        "priority_installed": priority,
    }


@dataclass
class Tablet:
    world: Any
    client: Any
    username: str
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_id: int = 1
    ms: itertools.count = field(default_factory=lambda: itertools.count(1597458600000, 1000))
    token: str = ""

    def __post_init__(self) -> None:
        body = self.world.login(self.client, self.username, device_id=self.device_id)
        self.token = body["access_token"]
        self.next_id = body["device"]["last_mutation_id"] + 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def hlc(self) -> str:
        return f"{next(self.ms)}-0000-{self.device_id}"

    def mutation(self, type_: str, record_id: str, data: dict, base_version=None) -> dict:
        m = {
            "mutation_id": self.next_id,
            "type": type_,
            "id": record_id,
            "hlc": self.hlc(),
            "data": data,
        }
        if base_version is not None:
            m["base_version"] = base_version
        self.next_id += 1
        return m

    def household(self, ward=WARD_A, address="Số 12, ngõ 34, phố Hiến Nam", **extra) -> dict:
        data = {
            "ward": ward,
            "group": None,
            "address": address,
            "lat": 20.95,
            "lon": 105.94,
            "head_name": "Nguyễn Văn A",
            "phone": None,
            **extra,
        }
        return self.mutation("household.upsert", str(uuid.uuid4()), data, base_version=0)

    def visit(self, household_id: str, outcome="installed", visited_at=None, **extra) -> dict:
        data = {
            "household_id": household_id,
            "visited_at": visited_at or "2020-08-15T09:31:00+07:00",
            "outcome": outcome,
            **counts(before=1, during=2),
            "lat": 20.9501,
            "lon": 105.9402,
            "accuracy_m": 12,
            "notes": "",
            **extra,
        }
        return self.mutation("visit.create", str(uuid.uuid4()), data)

    def push(self, mutations: list[dict], expect: int = 200) -> dict:
        response = self.client.post(
            "/api/v1/sync/push",
            json={"device_id": self.device_id, "mutations": mutations},
            headers=self.headers,
        )
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def pull_all(self, cursor: str | None = None, limit: int = 500) -> tuple[list, str, dict]:
        changes: list = []
        last: dict = {}
        for _ in range(1000):
            query = f"/api/v1/sync/pull?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            response = self.client.get(query, headers=self.headers)
            assert response.status_code == 200, response.get_json()
            last = response.get_json()
            changes += last["changes"]
            cursor = last["cursor"]
            if not last["has_more"]:
                break
        return changes, cursor, last
