"""The content hash of a mutation (domain/push.py canonical_hash): stored hashes of earlier
pushes must keep matching, so it stays sha256 of exactly this canonical JSON, whichever
encoder writes it. A mutation is parsed JSON (orjson parses every body and refuses NaN and
infinities), so its floats are finite."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.push import canonical_hash


def reference(raw):
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    # where orjson and json.dumps write floats differently (1e-05 against 0.00001)
    | st.floats(min_value=1e-10, max_value=1e-4)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=8))
def test_hash_is_sha256_of_the_canonical_json(raw):
    assert canonical_hash(raw) == reference(raw)


@given(json_values)
def test_any_json_value_hashes_as_before(value):
    assert canonical_hash(value) == reference(value)


@pytest.mark.parametrize(
    "value",
    [1e-05, -3.5e-07, 1e-09, 1.5e-10, 0.0001, 1e16, -1e22, 5e-324, 2**64, -(2**70), 0.0, -0.0],
)
def test_values_orjson_writes_otherwise_hash_as_before(value):
    """Tiny floats (orjson writes them in full) and integers past 64 bits (it refuses them)."""
    raw = {"data": {"lat": value, "notes": "0.00001"}, "mutation_id": 1}
    assert canonical_hash(raw) == reference(raw)
    assert canonical_hash([value]) == reference([value])


def test_a_known_mutation_keeps_its_hash():
    raw = {
        "mutation_id": 41,
        "type": "household.upsert",
        "id": "9f1e2d3c-4b5a-4697-8877-665544332211",
        "base_version": 0,
        "hlc": "1597458600000-0003-5b0c6d1e-7f80-4a1b-9c2d-3e4f5a6b7c8d",
        "data": {"ward": "gso-2020:12345", "address": "Số 12, ngõ 34", "lat": 20.65},
    }
    text = (
        '{"base_version":0,"data":{"address":"Số 12, ngõ 34","lat":20.65,'
        '"ward":"gso-2020:12345"},"hlc":"1597458600000-0003-5b0c6d1e-7f80-4a1b-9c2d-'
        '3e4f5a6b7c8d","id":"9f1e2d3c-4b5a-4697-8877-665544332211","mutation_id":41,'
        '"type":"household.upsert"}'
    )
    assert canonical_hash(raw) == hashlib.sha256(text.encode()).hexdigest()
