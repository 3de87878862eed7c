"""The demo's supervisor at the end of the day: reviews, a correction, duplicates.

After the tablets synced, the supervisor of Thị trấn Văn Giang works through the review
queue through the real API (the app's own routes, as the tablets did): approves the first
visits, flags one and rejects one as fabricated, corrects a count. A second tablet then
records two households that were already recorded, which the server keeps and reports as
possible duplicates; the supervisor merges one pair and leaves the other open, so a newcomer
sees a conflict waiting on the supervisor's pages.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask

WARD = "gso-2020:12019"
SUPERVISOR = "sv.vangiang"
LATE_TABLET = "cv.vg.001"  # a second tablet of the same canvasser


class _Api:
    def __init__(self, app: Flask, username: str, password: str, **login: Any) -> None:
        self.client = app.test_client()
        self.token: str | None = None
        answer = self.call(
            "POST", "/api/v1/auth/login", {"username": username, "password": password, **login}
        )
        self.token = answer["access_token"]
        self.login_answer = answer

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.client.open(path, method=method, json=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_json()}")
        return response.get_json()


def _record_duplicates(app: Flask, password: str, households: list[dict[str, Any]]) -> int:
    """A second tablet records these households again (same address, same head)."""
    device = str(uuid.uuid4())
    tablet = _Api(
        app,
        LATE_TABLET,
        password,
        device_id=device,
        device_secret=secrets.token_urlsafe(32),
        device_name="Máy mượn",
    )
    mutation_id = tablet.login_answer["device"]["last_mutation_id"]
    mutations = []
    for n, household in enumerate(households):
        mutation_id += 1
        mutations.append(
            {
                "mutation_id": mutation_id,
                "type": "household.upsert",
                "id": str(uuid.uuid4()),
                "base_version": 0,
                "hlc": f"{1597485600000 + n * 1000}-0000-{device}",
                "data": {
                    "ward": WARD,
                    "group": None,
                    "address": household["address"],
                    "lat": household["lat"],
                    "lon": household["lon"],
                    "head_name": household["head_name"],
                    "phone": None,
                },
            }
        )
    answer = tablet.call("POST", "/api/v1/sync/push", {"device_id": device, "mutations": mutations})
    return sum(1 for result in answer["results"] if result["status"] == "conflict")


def supervise(app: Flask, passwords: dict[str, str], echo: Callable[[str], None]) -> None:
    supervisor = _Api(app, SUPERVISOR, passwords[SUPERVISOR])
    queue = supervisor.call("GET", f"/api/v1/visits?ward={WARD}&limit=30")["items"]
    visits = [v for v in queue if not v["voided"]]
    if len(visits) < 12:
        raise RuntimeError(f"the demo ward has only {len(visits)} visits to review")
    approve = [v["id"] for v in visits[2:12]]
    supervisor.call(
        "POST",
        "/api/v1/visits/review",
        {"ids": approve, "action": "approve", "comment": "Đã kiểm tra"},
    )
    supervisor.call(
        "POST",
        f"/api/v1/visits/{visits[0]['id']}/review",
        {"action": "flag", "comment": "Gọi lại hộ này để xác minh"},
    )
    supervisor.call(
        "POST",
        f"/api/v1/visits/{visits[1]['id']}/review",
        {"action": "reject", "comment": "Không có hộ ở địa chỉ này"},
    )
    counted = next(v for v in visits[12:] if v["adults"] is not None)
    supervisor.call(
        "PATCH",
        f"/api/v1/visits/{counted['id']}",
        {"base_version": counted["version"], "data": {"notes": "Tổ trưởng xác nhận số người lớn"}},
    )
    echo(
        f"Supervisor {SUPERVISOR}: {len(approve)} visits approved, 1 flagged, 1 rejected, "
        "1 corrected"
    )

    households = supervisor.call("GET", f"/api/v1/households?ward={WARD}&limit=2")["items"]
    conflicts = _record_duplicates(app, passwords[LATE_TABLET], households)
    if conflicts != len(households):
        raise RuntimeError(f"{conflicts} duplicate(s) of {len(households)} were reported")
    pairs = supervisor.call("GET", f"/api/v1/duplicates?ward={WARD}&limit=10")["items"]
    flagged = [p for p in pairs if p.get("conflict_id")]
    if not flagged:
        raise RuntimeError("no possible duplicate is listed for the supervisor")
    kept, twice = flagged[0]["households"]
    supervisor.call("POST", f"/api/v1/households/{twice['id']}/merge", {"into": kept["id"]})
    echo(
        f"Duplicates: {conflicts} households recorded twice by a second tablet; "
        f"1 pair merged, {conflicts - 1} left open for the supervisor"
    )
