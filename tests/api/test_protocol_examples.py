"""The worked example of docs/sync-protocol.md, run step by step against the app."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync-protocol.md"
DEVICE = "5b0c2f5e-8c1a-4d8e-9a61-0d6b3c1e2f40"
ANY = "…"


def steps() -> list[tuple[str, str, dict | None, Any]]:
    """(method, path, request body or None, expected answer) for each documented step."""
    text = DOC.read_text().split("## Worked example", 1)[1]
    found = []
    previous_body = None
    for block in text.split("<!-- step: ")[1:]:
        header, _, rest = block.partition(" -->")
        method, path = header.split()[:2]
        bodies = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", rest, flags=re.S)]
        if "same body again" in header:
            request, expected = previous_body, bodies[0]
        elif method == "GET":
            request, expected = None, bodies[0]
        else:
            request, expected = bodies
        previous_body = request
        found.append((method, path, request, expected))
    return found


def matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(expected) == set(actual)
            and all(matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual


def test_the_documented_steps_hold(world, client):
    documented = steps()
    assert len(documented) == 5
    token = world.login(client, "cv.vg.001", device_id=DEVICE)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, request, expected in documented:
        response = client.open(path, method=method, json=request, headers=headers)
        assert matches(expected, response.get_json()), (path, response.get_json())


def test_the_matcher_can_fail():
    assert not matches({"a": 1}, {"a": 2})
    assert not matches({"a": ANY}, {"a": 1, "b": 2})
    assert matches({"a": ANY, "b": [1, ANY]}, {"a": "x", "b": [1, {"c": 3}]})
