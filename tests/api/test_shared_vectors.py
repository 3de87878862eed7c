"""The shared mutation vectors (tests/vectors/mutations.json) against the server, on SQLite and
PostgreSQL: the app's checks (field_server/web/app/js/rules.js) run the same file in
Chromium (tests/browser/test_app_js.py), so the two cannot drift apart.

Each vector is pushed in one batch after the records it needs (`setup`); its result must have
the status it expects, and a refusal the code, message and field errors, in English and,
replayed, in Vietnamese: the msgid's text in the server's catalogue (field_server.messages.VI)
with the values put back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from field_server.messages import VI
from schemas.sync import PushResponseSchema
from tests.api.sync_helpers import Tablet, schema_errors

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "mutations.json").read_text("utf-8")
)


def text(message: dict[str, Any], language: str) -> str:
    template = VI[message["msgid"]] if language == "vi" else message["msgid"]
    return template.format_map(message.get("values", {}))


def push(tablet: Tablet, mutations: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    response = tablet.client.post(
        "/api/v1/sync/push",
        json={"device_id": tablet.device_id, "mutations": mutations},
        headers={**tablet.headers, "Accept-Language": language},
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert schema_errors(PushResponseSchema, body) == []
    return body["results"]


def numbered(tablet: Tablet, mutations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = tablet.next_id
    tablet.next_id += len(mutations)
    return [{"mutation_id": first + i, **m} for i, m in enumerate(mutations)]


def mismatches(vectors: list[dict], results: list[dict], language: str) -> list[str]:
    """What differs between each vector's expected answer and the server's, by vector name."""
    problems = []
    for vector, result in zip(vectors, results, strict=True):
        expect = vector["expect"]
        got: dict[str, Any] = {"status": result["status"]}
        wanted: dict[str, Any] = {"status": expect["status"]}
        if expect["status"] == "rejected":
            got |= {k: result.get(k) for k in ("code", "message", "errors")}
            wanted |= {
                "code": expect["code"],
                "message": text(expect["message"], language),
                "errors": {
                    field: [text(m, language) for m in messages]
                    for field, messages in expect["errors"].items()
                },
            }
        if got != wanted:
            problems.append(f"{vector['name']}: expected {wanted}, got {got}")
    return problems


@pytest.fixture
def tablet(world: Any, client: Any) -> Tablet:
    tablet = Tablet(world, client, "cv.vg.001")
    hlc = f"1597458600000-0000-{tablet.device_id}"
    setup = [
        {
            "type": "household.upsert",
            "id": h["id"],
            "base_version": 0,
            "hlc": hlc,
            "data": h["data"],
        }
        for h in VECTORS["setup"]["households"]
    ] + [
        {"type": "visit.create", "id": v["id"], "hlc": hlc, "data": v["data"]}
        for v in VECTORS["setup"]["visits"]
    ]
    results = push(tablet, numbered(tablet, setup), "en")
    assert [r["status"] for r in results] == ["applied"] * len(setup), results
    return tablet


def test_the_server_answers_every_vector_as_it_says(tablet: Tablet) -> None:
    vectors = VECTORS["vectors"]
    batch = numbered(tablet, [v["mutation"] for v in vectors])
    assert mismatches(vectors, push(tablet, batch, "en"), "en") == []
    # The same batch again is a replay: the stored answers, now in Vietnamese.
    replayed = push(tablet, batch, "vi")
    assert all(r["replayed"] for r in replayed)
    assert mismatches(vectors, replayed, "vi") == []


def test_the_vectors_cover_every_count_rule_and_every_status_the_app_checks() -> None:
    vectors = VECTORS["vectors"]
    msgids = {
        m["msgid"]
        for v in vectors
        for messages in v["expect"].get("errors", {}).values()
        for m in messages
    }
    for rule in (
        "installed_before + installed_during ({installs}) is more than smartphones "
        "({smartphones}).",
        "More smartphones than adults ({adults}).",
        "More than priority_subjects ({priority_subjects}).",
        "More priority subjects than adults ({adults}).",
        "Required when the outcome is {outcome}.",
        "Give all six counts or none.",
        "Must be a time from {first} to {last}.",
        "Must be an RFC 3339 time with its offset.",
    ):
        assert rule in msgids
    types = {(str(v["mutation"].get("type")), v["expect"]["status"]) for v in vectors}
    for kind in ("household.upsert", "visit.create", "visit.update", "visit.void"):
        assert {(kind, "applied"), (kind, "rejected")} <= types
