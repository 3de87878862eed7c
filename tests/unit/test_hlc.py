"""The hybrid logical clock (domain/hlc.py): wire format, order, and the clock's guarantees."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.hlc import (
    HLC,
    MAX_COUNTER,
    HybridClock,
    format_hlc,
    is_suspect,
    parse_hlc,
)
from domain.records import MAX_CLOCK_AHEAD_MS, SyncError

DEVICE = "5b0c6d1e-7f80-4a1b-9c2d-3e4f5a6b7c8d"
WALL = 1_597_458_600_000  # 2020-08-15 02:30 UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"1597458600000-0003-{DEVICE}", HLC(1597458600000, 3, DEVICE)),
        ("0-0000-server", HLC(0, 0, "server")),
        ("12-7-n", HLC(12, 7, "n")),
        (f"1-{MAX_COUNTER}-n", HLC(1, MAX_COUNTER, "n")),
        ("1-00042-a-b-c", HLC(1, 42, "a-b-c")),
        ("1-0-" + "x" * 64, HLC(1, 0, "x" * 64)),
    ],
)
def test_parse(text, expected):
    assert parse_hlc(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1597458600000",
        "1597458600000-0003",
        "1597458600000-0003-",
        "-1-0003-n",
        "+1-0003-n",
        "1.5-0003-n",
        "abc-0003-n",
        " 1-0003-n",
        "1-65536-n",
        "1--1-n",
        "1-0x1-n",
        "١٢-0003-n",  # digits, but not ASCII ones
        "1-0003-" + "x" * 65,
        "1-0003-has space",
        "1-0003-tab\there",
        str(2**53) + "-0000-n",
        None,
        1597458600000,
    ],
)
def test_parse_rejects(text):
    with pytest.raises(SyncError) as caught:
        parse_hlc(text)
    assert caught.value.code == "validation_failed"
    assert list(caught.value.errors) == ["hlc"]
    assert caught.value.errors["hlc"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (HLC(1597458600000, 3, DEVICE), f"1597458600000-0003-{DEVICE}"),
        (HLC(0, 0, "server"), "0-0000-server"),
        (HLC(5, MAX_COUNTER, "n"), "5-65535-n"),
    ],
)
def test_format(value, text):
    assert format_hlc(value) == text


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("9-0000-b", "10-0000-a"),  # as strings "9…" > "10…"
        ("10-0009-z", "10-0010-a"),
        ("10-9-z", "10-10-a"),  # unpadded counters too
        ("10-0001-a", "10-0001-b"),  # the node breaks ties only
    ],
)
def test_order_is_numeric(smaller, larger):
    assert parse_hlc(smaller) < parse_hlc(larger)


@pytest.mark.parametrize(
    ("ms", "suspect"),
    [
        (WALL, False),
        (WALL - 10 * 86_400_000, False),  # days behind: wrong, but not ahead
        (WALL + MAX_CLOCK_AHEAD_MS, False),
        (WALL + MAX_CLOCK_AHEAD_MS + 1, True),
        (WALL + 3 * 86_400_000, True),
    ],
)
def test_is_suspect(ms, suspect):
    assert is_suspect(HLC(ms, 0, DEVICE), WALL) is suspect


# Each step: ("now", wall) or ("observe", wall, remote); then the expected reading.
CLOCK_CASES = {
    "first reading is the wall time": (None, [("now", WALL)], HLC(WALL, 0, "server")),
    "same millisecond bumps the counter": (
        HLC(WALL, 4, "server"),
        [("now", WALL)],
        HLC(WALL, 5, "server"),
    ),
    "wall moves on, counter resets": (
        HLC(WALL, 4, "server"),
        [("now", WALL + 1)],
        HLC(WALL + 1, 0, "server"),
    ),
    "wall steps back, clock does not": (
        HLC(WALL, 4, "server"),
        [("now", WALL - 5000)],
        HLC(WALL, 5, "server"),
    ),
    "remote ahead is adopted": (
        HLC(WALL, 4, "server"),
        [("observe", WALL, HLC(WALL + 60_000, 7, DEVICE))],
        HLC(WALL + 60_000, 8, "server"),
    ),
    "remote behind is only counted": (
        HLC(WALL, 4, "server"),
        [("observe", WALL, HLC(WALL - 60_000, 9, DEVICE))],
        HLC(WALL, 5, "server"),
    ),
    "remote at the same ms: max counter plus one": (
        HLC(WALL, 4, "server"),
        [("observe", WALL - 1, HLC(WALL, 9, DEVICE))],
        HLC(WALL, 10, "server"),
    ),
    "wall ahead of both: counter resets": (
        HLC(WALL, 4, "server"),
        [("observe", WALL + 10, HLC(WALL + 5, 9, DEVICE))],
        HLC(WALL + 10, 0, "server"),
    ),
    "remote exactly at the limit is adopted": (
        None,
        [("observe", WALL, HLC(WALL + MAX_CLOCK_AHEAD_MS, 2, DEVICE))],
        HLC(WALL + MAX_CLOCK_AHEAD_MS, 3, "server"),
    ),
    "suspect remote is ignored": (
        HLC(WALL, 4, "server"),
        [("observe", WALL, HLC(WALL + MAX_CLOCK_AHEAD_MS + 1, 2, DEVICE))],
        HLC(WALL, 5, "server"),
    ),
    "suspect remote on a new clock": (
        None,
        [("observe", WALL, HLC(WALL + 86_400_000, 0, DEVICE))],
        HLC(WALL, 0, "server"),
    ),
    "counter overflow carries into ms": (
        HLC(WALL, MAX_COUNTER, "server"),
        [("now", WALL)],
        HLC(WALL + 1, 0, "server"),
    ),
    "remote counter overflow carries too": (
        HLC(WALL, 0, "server"),
        [("observe", WALL, HLC(WALL, MAX_COUNTER, DEVICE))],
        HLC(WALL + 1, 0, "server"),
    ),
    "a tablet clock": (
        None,
        [("now", WALL), ("now", WALL), ("observe", WALL + 1, HLC(WALL + 1, 0, "server"))],
        HLC(WALL + 1, 1, DEVICE),
    ),
}


@pytest.mark.parametrize("case", CLOCK_CASES.values(), ids=list(CLOCK_CASES))
def test_clock(case):
    last, steps, expected = case
    node = expected.node
    clock = HybridClock(node, last)
    result = None
    for step in steps:
        result = clock.now(step[1]) if step[0] == "now" else clock.observe(step[2], step[1])
    assert result == expected
    assert clock.last == expected


def test_clock_starts_empty():
    clock = HybridClock("server")
    assert clock.last is None
    assert clock.node == "server"


# --- properties --------------------------------------------------------------------------

walls = st.integers(min_value=WALL - 86_400_000, max_value=WALL + 86_400_000)
remotes = st.builds(
    HLC,
    st.integers(min_value=WALL - 86_400_000, max_value=WALL + 3 * 86_400_000),
    st.integers(min_value=0, max_value=MAX_COUNTER),
    st.sampled_from([DEVICE, "a", "server"]),
)
steps = st.lists(st.tuples(st.booleans(), walls, remotes), min_size=1, max_size=40)


@given(steps)
def test_readings_strictly_increase(ops):
    clock = HybridClock("server")
    readings = [clock.observe(r, w) if is_observe else clock.now(w) for is_observe, w, r in ops]
    assert all(a < b for a, b in pairwise(readings))


@given(steps)
def test_reading_is_at_least_the_wall_time_and_after_adopted_remotes(ops):
    clock = HybridClock("server")
    for is_observe, wall, remote in ops:
        reading = clock.observe(remote, wall) if is_observe else clock.now(wall)
        assert reading.ms >= wall
        if is_observe and not is_suspect(remote, wall):
            assert reading > remote


# Counters stay well below the overflow here: an overflow may add one millisecond.
bounded_remotes = st.builds(
    HLC,
    st.integers(min_value=WALL - 86_400_000, max_value=WALL + 3 * 86_400_000),
    st.integers(min_value=0, max_value=1000),
    st.just(DEVICE),
)


@given(st.lists(st.tuples(st.booleans(), walls, bounded_remotes), min_size=1, max_size=40))
def test_never_more_than_the_limit_past_wall_time(ops):
    clock = HybridClock("server")
    highest_wall = None
    for is_observe, wall, remote in ops:
        highest_wall = wall if highest_wall is None else max(highest_wall, wall)
        reading = clock.observe(remote, wall) if is_observe else clock.now(wall)
        assert reading.ms <= highest_wall + MAX_CLOCK_AHEAD_MS


@given(remotes)
def test_format_parse_round_trip(value):
    assert parse_hlc(format_hlc(value)) == value


@given(st.lists(remotes, min_size=2, max_size=10))
def test_tuple_order_matches_numeric_fields(values):
    ordered = sorted(values)
    keys = [(v.ms, v.counter, v.node) for v in ordered]
    assert keys == sorted(keys)
    assert sorted(values, key=lambda v: parse_hlc(format_hlc(v))) == ordered


@pytest.mark.parametrize(
    "text",
    [
        "1" * 5000 + "-0000-n",  # int() refuses so many digits: still a rejection, never a crash
        "1-" + "1" * 5000 + "-n",
        str(2**53) + "-" + "1" * 5000 + "-n",
    ],
)
def test_parse_rejects_endless_digits(text):
    with pytest.raises(SyncError) as caught:
        parse_hlc(text)
    assert list(caught.value.errors) == ["hlc"]


def test_parse_reads_leading_zeros_of_any_length():
    assert parse_hlc("0" * 5000 + "12-" + "0" * 5000 + "7-n") == HLC(12, 7, "n")


def _parse_by_the_patterns(text):
    """parse_hlc as the patterns alone say it (no str-method shortcut), to compare with."""
    if not isinstance(text, str):
        return None
    parts = text.split("-", 2)
    if len(parts) != 3:
        return None
    ms, counter, node = parts
    digits, printable = re.compile(r"^[0-9]+$"), re.compile(r"^[!-~]+$")
    if not digits.match(ms) or not digits.match(counter) or not printable.match(node):
        return None
    value = HLC(int(ms.strip()), int(counter.strip()), node)
    if value.ms > 2**53 - 1 or value.counter > MAX_COUNTER or len(node) > 64:
        return None
    return value


@given(st.text(alphabet="0123456789-xé ١\n\t~!", max_size=14))
def test_parse_agrees_with_the_patterns(text):
    try:
        parsed = parse_hlc(text)
    except SyncError:
        parsed = None
    assert parsed == _parse_by_the_patterns(text)
