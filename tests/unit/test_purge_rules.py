"""domain/purge.py: what a purge leaves of the JSON kept beside the records, table-driven.
None means "nothing personal in it, leave the row alone" (so a second purge counts 0)."""

from __future__ import annotations

import json

import pytest

from domain import purge


def loads(text: str | None) -> object:
    return None if text is None else json.loads(text)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"head_name": "Nguyễn Văn A", "phone": "0912"}, {"head_name": None, "phone": None}),
        ({"notes": "x", "installed_during": 2}, {"notes": None, "installed_during": 2}),
        ({"lat": 20.9, "lon": 105.9, "accuracy_m": 5}, dict.fromkeys(("lat", "lon", "accuracy_m"))),
        ({"outcome": "installed"}, None),
        ({"head_name": None}, None),
    ],
)
def test_revisions_keep_which_fields_changed_without_the_values(before, after):
    assert loads(purge.scrub_revision(json.dumps(before))) == after


@pytest.mark.parametrize(
    ("kind", "before", "after"),
    [
        (
            "field_conflict",
            {"head_name": {"base": "A", "server": "B", "client": "C"}},
            {"head_name": {"base": None, "server": None, "client": None}},
        ),
        (
            "visit_locked",
            {"notes": {"base": None, "server": "a", "client": "b"}, "adults": {"client": 3}},
            {"notes": {"base": None, "server": None, "client": None}, "adults": {"client": 3}},
        ),
        # A possible duplicate's address sides are household ids: kept.
        ("possible_duplicate", {"address": {"server": "id-1", "client": "id-2"}}, None),
        ("field_conflict", {"installed_during": {"server": 1, "client": 0}}, None),
    ],
)
def test_conflicts_lose_personal_sides(kind, before, after):
    assert loads(purge.scrub_conflict(kind, json.dumps(before))) == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            {
                "mutation_id": 7,
                "type": "household.upsert",
                "id": "h1",
                "hlc": "1-0-d",
                "base_version": 0,
                "data": {"ward": "gso-2020:1", "head_name": "A", "phone": "x", "typo": "B"},
            },
            {
                "mutation_id": 7,
                "type": "household.upsert",
                "id": "h1",
                "hlc": "1-0-d",
                "base_version": 0,
                "data": {"ward": "gso-2020:1"},
            },
        ),
        # Free text where a count belongs, an unknown envelope key, a data that is no object.
        (
            {"mutation_id": 1, "data": {"adults": "Nguyễn Văn A", "smartphones": 2}, "x": "y"},
            {"mutation_id": 1, "data": {"smartphones": 2}},
        ),
        ({"mutation_id": True, "data": "Nguyễn Văn A"}, {"data": {}}),
        ([1, 2], {"data": {}}),
        ({"mutation_id": 1, "data": {"outcome": "installed"}}, None),
    ],
)
def test_rejected_payloads_keep_only_what_is_not_personal(before, after):
    assert loads(purge.scrub_rejected_payload(json.dumps(before))) == after


def test_rejected_payloads_are_scrubbed_once():
    once = purge.scrub_rejected_payload('"not an object"')
    assert once is not None and purge.scrub_rejected_payload(once) is None
    assert purge.scrub_rejected_payload(None) is None


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (
            "visit.review",
            {"action": "reject", "comment": "bịa"},
            {"action": "reject", "comment": None},
        ),
        (
            "conflict.resolve",
            {"resolution": "set", "values": {"head_name": "A", "adults": 2}},
            {"resolution": "set", "values": {"head_name": None, "adults": 2}},
        ),
        ("visit.review", {"action": "approve", "comment": None}, None),
        ("export", {"comment": "kept: not a record's"}, None),
    ],
)
def test_audit_details_lose_comments_and_personal_values(action, before, after):
    assert loads(purge.scrub_audit(action, json.dumps(before))) == after
