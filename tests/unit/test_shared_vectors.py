"""The shared vectors (tests/vectors/) against the Python side, and the app's message tables
against the server's catalogue. The app's JavaScript runs the same files in Chromium
(tests/browser/test_app_js.py); tests/api/test_shared_vectors.py pushes the mutation vectors
to the server.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from domain.address import normalise_address
from domain.hlc import HLC, HybridClock, format_hlc, parse_hlc
from domain.records import SyncError
from domain.validation import clean_household, clean_visit, count_errors, parse_mutation
from field_server.messages import VI

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
MESSAGES_JS = ROOT / "field_server" / "web" / "app" / "js" / "messages.js"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


HLC_CASES = load("hlc.json")
ADDRESSES = load("address.json")["cases"]
MUTATIONS = load("mutations.json")


def js_table(name: str) -> dict[str, str]:
    """One of messages.js's tables, a JSON object literal by its rule."""
    source = MESSAGES_JS.read_text(encoding="utf-8")
    match = re.search(rf"^export const {name} = (\{{.*?\n\}});$", source, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no table {name} in messages.js"
    return json.loads(match.group(1))


def test_the_apps_vietnamese_messages_are_the_servers() -> None:
    vi = js_table("VI")
    assert {msgid: VI.get(msgid) for msgid in vi} == vi
    assert js_table("EN") == {msgid: msgid for msgid in vi}


def test_every_message_the_vectors_expect_is_in_the_apps_tables() -> None:
    vi = js_table("VI")
    expected = {
        m["msgid"]
        for v in MUTATIONS["vectors"]
        if v["expect"]["status"] == "rejected"
        for m in [v["expect"]["message"], *itertools.chain(*v["expect"]["errors"].values())]
    }
    assert expected - vi.keys() == set()


@pytest.mark.parametrize("case", HLC_CASES["parse"], ids=lambda c: repr(c["text"])[:60])
def test_hlc_parse_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(SyncError) as refused:
            parse_hlc(case["text"])
        assert refused.value.errors == {"hlc": [case["error"]]}
    else:
        reading = parse_hlc(case["text"])
        assert list(reading) == case["hlc"]
        assert format_hlc(reading) == case["formatted"]


@pytest.mark.parametrize("case", HLC_CASES["compare"], ids=lambda c: f"{c['a']} {c['b']}")
def test_hlc_compare_vectors(case: dict[str, Any]) -> None:
    a, b = parse_hlc(case["a"]), parse_hlc(case["b"])
    assert (a > b) - (a < b) == case["order"]


@pytest.mark.parametrize("case", HLC_CASES["clock"], ids=lambda c: c["name"])
def test_hlc_clock_vectors(case: dict[str, Any]) -> None:
    clock = HybridClock(case["node"], parse_hlc(case["last"]) if case["last"] else None)
    for step in case["steps"]:
        if step["op"] == "now":
            reading: HLC = clock.now(step["wall_ms"])
        else:
            reading = clock.observe(parse_hlc(step["remote"]), step["wall_ms"])
        assert format_hlc(reading) == step["reading"]


@pytest.mark.parametrize("case", ADDRESSES, ids=lambda c: repr(c["input"])[:60])
def test_address_vectors(case: dict[str, str]) -> None:
    assert normalise_address(case["input"]) == case["normalised"]


def _text(message: dict[str, Any]) -> str:
    return str(message["msgid"]).format_map(message.get("values", {}))


STORED = {v["id"]: v["data"] for v in MUTATIONS["setup"]["visits"]}


@pytest.mark.parametrize(
    "vector",
    # A void's checks live in the push planner (domain/push.py); the API test covers them.
    [v for v in MUTATIONS["vectors"] if v["mutation"].get("type") != "visit.void"],
    ids=lambda v: v["name"],
)
def test_mutation_vectors_against_domain_validation(vector: dict[str, Any]) -> None:
    """The checks push.py runs on one mutation before it looks at stored records."""
    expect = vector["expect"]
    try:
        m = parse_mutation({"mutation_id": 1, **vector["mutation"]})
        if m.type == "household.upsert":
            clean_household(m.data, creating=not m.base_version)
        else:
            clean_visit(m.data, creating=m.type == "visit.create")
            values = m.data if m.type == "visit.create" else {**STORED[m.id], **m.data}
            if problems := count_errors(values):
                raise SyncError("validation_failed", "The counts do not add up.", errors=problems)
    except SyncError as refused:
        assert expect["status"] == "rejected"
        assert refused.code == expect["code"]
        assert refused.message == _text(expect["message"])
        assert refused.errors == {
            field: [_text(m) for m in messages] for field, messages in expect["errors"].items()
        }
    else:
        assert expect["status"] == "applied"
