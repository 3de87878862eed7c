"""Resolution and merge rules (domain/conflicts.py), table-driven."""

from __future__ import annotations

import pytest

from domain.conflicts import (
    MergeSide,
    Resolution,
    check_merge,
    duplicate_pair,
    resolution_changes,
)
from domain.records import SyncError

FIELD = {"installed_during": {"base": 2, "server": 1, "client": 0}, "notes": {"client": "x"}}
LOCKED_EDIT = {"installed_during": {"base": None, "server": 2, "client": 1}}
LOCKED_VOID = {"voided": {"base": None, "server": None, "client": True}}
VOID_WON = {"notes": {"base": None, "server": "gặp con trai", "client": "void"}}
EDIT_OF_VOID = {"notes": {"base": None, "server": None, "client": "gặp con trai"}}
LOCKED_TAKEN = {"installed_during": 1}
DUPLICATE = {"address": {"base": None, "server": "h-old", "client": "h-new"}}


@pytest.mark.parametrize(
    ("kind", "entity", "fields", "resolution", "values", "expected"),
    [
        ("field_conflict", "visit", FIELD, "keep_server", None, Resolution()),
        (
            "field_conflict",
            "visit",
            FIELD,
            "take_client",
            None,
            Resolution({"installed_during": 0, "notes": "x"}),
        ),
        (
            "field_conflict",
            "visit",
            FIELD,
            "set",
            {"notes": "y"},
            Resolution({"notes": "y"}),
        ),
        ("visit_locked", "visit", LOCKED_EDIT, "take_client", None, Resolution(LOCKED_TAKEN)),
        ("visit_locked", "visit", LOCKED_VOID, "take_client", None, Resolution({}, voided=True)),
        ("void_vs_edit", "visit", VOID_WON, "take_client", None, Resolution({}, voided=True)),
        (
            "void_vs_edit",
            "visit",
            EDIT_OF_VOID,
            "take_client",
            None,
            Resolution({"notes": "gặp con trai"}, voided=False),
        ),
        ("void_vs_edit", "visit", VOID_WON, "set", {"voided": False}, Resolution({}, voided=False)),
        ("void_vs_edit", "visit", VOID_WON, "keep_server", None, Resolution()),
        ("possible_duplicate", "household", DUPLICATE, "keep_server", None, Resolution()),
        (
            "field_conflict",
            "household",
            {"head_name": {"base": "A", "server": "B", "client": "C"}},
            "set",
            {"head_name": "D"},
            Resolution({"head_name": "D"}),
        ),
    ],
)  # fmt: skip
def test_resolution_changes(kind, entity, fields, resolution, values, expected):
    assert resolution_changes(kind, entity, fields, resolution, values) == expected


@pytest.mark.parametrize(
    ("kind", "entity", "fields", "resolution", "values", "error_field"),
    [
        ("field_conflict", "visit", FIELD, "keep_server", {"notes": "y"}, "values"),
        ("field_conflict", "visit", FIELD, "take_client", {}, "values"),
        ("field_conflict", "visit", FIELD, "set", None, "values"),
        ("field_conflict", "visit", FIELD, "set", {}, "values"),
        ("field_conflict", "visit", FIELD, "set", {"adults": 3}, "values"),
        ("void_vs_edit", "visit", VOID_WON, "set", {"voided": "no"}, "values"),
        # "voided" is a visit's, never a household's.
        ("field_conflict", "household", {"phone": {}}, "set", {"voided": True}, "values"),
        ("possible_duplicate", "household", DUPLICATE, "take_client", None, "resolution"),
        ("possible_duplicate", "household", DUPLICATE, "set", {"address": "x"}, "resolution"),
        ("field_conflict", "visit", FIELD, "merge", None, "resolution"),
    ],
)
def test_resolution_refused(kind, entity, fields, resolution, values, error_field):
    with pytest.raises(SyncError) as raised:
        resolution_changes(kind, entity, fields, resolution, values)
    assert raised.value.code == "validation_failed"
    assert error_field in raised.value.errors


@pytest.mark.parametrize(
    ("source", "into", "error_fields"),
    [
        (MergeSide("a", 1, None), MergeSide("b", 1, None), None),
        (MergeSide("a", 1, None), MergeSide("a", 1, None), {"into"}),
        (MergeSide("a", 1, None), MergeSide("b", 2, None), {"into"}),
        (MergeSide("a", 1, None), MergeSide("b", 1, "c"), {"into"}),
        (MergeSide("a", 1, "c"), MergeSide("b", 1, None), {"id"}),
        (MergeSide("a", 1, "c"), MergeSide("b", 1, "c"), {"id", "into"}),
    ],
)
def test_check_merge(source, into, error_fields):
    if error_fields is None:
        check_merge(source, into)
        return
    with pytest.raises(SyncError) as raised:
        check_merge(source, into)
    assert set(raised.value.errors) == error_fields


@pytest.mark.parametrize(
    ("fields", "pair"),
    [
        (DUPLICATE, {"h-old", "h-new"}),
        ({"address": {"server": "h-old"}}, {"h-old"}),
        ({}, set()),
        ({"address": "h-old"}, set()),
    ],
)
def test_duplicate_pair(fields, pair):
    assert duplicate_pair(fields) == frozenset(pair)
