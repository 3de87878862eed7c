"""The demo's day of canvassing: the reference tablet client syncing through the real API.

Every demo canvasser gets a ``SyncClient`` with its own local store. They walk their ward on
15 August 2020 (the Bluezone drive), record households and visits offline, and sync the way
tablets do in the field: some only at lunch and in the evening, one over a link that loses
every third answer (its retries are answered as replays), one whose clock is a day behind.
Requests go through the application's own routes in this process (``WsgiTransport``), so
the demo needs no running server and exercises exactly what the tablets would.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask

from field_sync import LocalStore, Response, SyncClient, TransportError

LOCAL = timezone(timedelta(hours=7))
DAY = datetime(2020, 8, 15, 7, 30, tzinfo=LOCAL)
STREETS = ("Bình Minh", "Chợ Văn", "Lê Lợi", "Nguyễn Trãi", "Đê Sông Hồng", "Xuân Quan")
NAMES = ("Nguyễn Văn", "Trần Thị", "Lê Văn", "Phạm Thị", "Hoàng Văn", "Vũ Thị", "Đỗ Văn")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Minh", "Nga", "Sơn", "Tâm")
# Outcomes as they came in during the drive (roughly), with the counts each implies.
OUTCOMES = (
    ("installed", 45),
    ("already_installed", 15),
    ("partial", 10),
    ("not_home", 12),
    ("refused", 8),
    ("come_back", 5),
    ("no_smartphone", 5),
)


class WsgiTransport:
    """The client's Transport over the app's test client: real routes, no sockets."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def request(
        self, method: str, path: str, *, json: Any = None, token: str | None = None
    ) -> Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = self.client.open(path, method=method, json=json, headers=headers)
        return Response(
            answer.status_code,
            {k.lower(): v for k, v in answer.headers.items()},
            answer.get_json(silent=True),
        )


class LossyTransport:
    """Loses every third push answer after the server has handled it (a flaky link)."""

    def __init__(self, inner: WsgiTransport) -> None:
        self.inner = inner
        self.pushes = 0
        self.lost = 0

    def request(
        self, method: str, path: str, *, json: Any = None, token: str | None = None
    ) -> Response:
        answer = self.inner.request(method, path, json=json, token=token)
        if path.startswith("/api/v1/sync/push"):
            self.pushes += 1
            if self.pushes % 3 == 1:
                self.lost += 1
                raise TransportError("connection reset (simulated)")
        return answer


@dataclass
class Walk:
    username: str
    ward: str
    group: str | None
    households: int
    syncs_at: tuple[int, ...]  # hours of the day when the tablet has signal
    lossy: bool = False
    clock_skew_hours: int = 0


WALKS = (
    Walk("cv.vg.001", "gso-2020:12019", None, 18, (12, 17), lossy=True),
    Walk("cv.vg.002", "gso-2020:12019", "gso-2020:12019-01", 14, (10, 12, 15, 17)),
    Walk("cv.vg.003", "gso-2020:12019", "gso-2020:12019-02", 12, (17,), clock_skew_hours=-24),
    Walk("cv.xq.001", "gso-2020:12022", None, 16, (12, 17)),
    Walk("cv.cc.001", "gso-2020:12025", "gso-2020:12025-01", 10, (17,)),
)


def _counts(outcome: str, rng: random.Random) -> dict[str, int] | None:
    adults = rng.randint(1, 6)
    phones = rng.randint(0, adults)
    if outcome in ("not_home", "come_back"):
        return None
    if outcome == "no_smartphone":
        phones = 0
    if outcome in ("installed", "partial", "already_installed", "refused") and phones == 0:
        phones = 1
    before = 0
    during = 0
    if outcome == "installed":
        before = rng.randint(0, phones - 1)
        during = phones - before
    elif outcome == "partial":
        during = rng.randint(1, max(1, phones - 1)) if phones > 1 else 0
        before = 0
    elif outcome == "already_installed":
        before = phones
    priority = rng.randint(0, 1) if adults > 1 else 0
    return {
        "adults": adults,
        "smartphones": phones,
        "installed_before": before,
        "installed_during": during,
        "priority_subjects": priority,
        "priority_installed": priority if outcome == "installed" else 0,
    }


def _walk(
    app: Flask, walk: Walk, password: str, folder: Path, rng: random.Random
) -> dict[str, int]:
    now = {"at": DAY + timedelta(hours=walk.clock_skew_hours)}
    base = WsgiTransport(app)
    transport = LossyTransport(base) if walk.lossy else base
    client = SyncClient(
        transport,
        LocalStore(folder / f"{walk.username}.db"),
        wall_ms=lambda: int(now["at"].timestamp() * 1000),
        sleep=lambda _seconds: None,  # simulated time: no real waiting
        rng=rng.random,
    )
    client.login(walk.username, password, device_name=f"Máy tính bảng {walk.username}")
    visits = 0
    syncs = list(walk.syncs_at)
    for n in range(walk.households):
        now["at"] += timedelta(minutes=rng.randint(8, 25))
        street = rng.choice(STREETS)
        household = client.add_household(
            ward=walk.ward,
            group=walk.group,
            address=f"Số {rng.randint(1, 120)}, ngõ {rng.randint(1, 30)}, {street}",
            head_name=f"{rng.choice(NAMES)} {rng.choice(GIVEN)}",
            lat=20.93 + rng.random() / 100,
            lon=105.94 + rng.random() / 100,
        )
        weights = [w for _, w in OUTCOMES]
        outcome = rng.choices([o for o, _ in OUTCOMES], weights=weights)[0]
        stamp = now["at"].astimezone(LOCAL).isoformat(timespec="seconds")
        client.add_visit(
            household_id=household.id,
            outcome=outcome,
            visited_at=stamp,
            counts=_counts(outcome, rng),
            lat=20.93 + rng.random() / 100,
            lon=105.94 + rng.random() / 100,
            accuracy_m=rng.randint(5, 30),
        )
        visits += 1
        if outcome == "come_back" and n % 2 == 0:
            # Back in the afternoon: a second visit to the same household.
            now["at"] += timedelta(minutes=3)
            client.add_visit(
                household_id=household.id,
                outcome="installed",
                visited_at=(now["at"] + timedelta(hours=4)).isoformat(timespec="seconds"),
                counts={
                    "adults": 2,
                    "smartphones": 1,
                    "installed_before": 0,
                    "installed_during": 1,
                    "priority_subjects": 0,
                    "priority_installed": 0,
                },
            )
            visits += 1
        local_hour = now["at"].astimezone(LOCAL).hour
        if syncs and local_hour >= syncs[0]:
            syncs.pop(0)
            client.sync()
    client.sync()
    return {
        "households": walk.households,
        "visits": visits,
        "lost_answers": transport.lost if isinstance(transport, LossyTransport) else 0,
        "pending": client.store.pending_count(),
    }


def simulate_tablets(
    app: Flask, passwords: dict[str, str], echo: Callable[[str], None], seed: int = 2020
) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="field-demo-tablets-") as tmp:
        for walk in WALKS:
            result = _walk(app, walk, passwords[walk.username], Path(tmp), rng)
            note = (
                f", {result['lost_answers']} lost answers retried" if result["lost_answers"] else ""
            )
            echo(
                f"Tablet {walk.username}: {result['households']} households, "
                f"{result['visits']} visits synced{note}"
            )
            if result["pending"]:
                raise RuntimeError(f"{walk.username} still has {result['pending']} unsent")
