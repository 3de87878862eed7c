"""The content hash of a mutation (domain/push.py canonical_hash): stored hashes of earlier
pushes must keep matching, so it stays sha256 of exactly this canonical JSON."""

from __future__ import annotations

import hashlib
import json

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
    | st.floats(allow_nan=True, allow_infinity=True)
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
