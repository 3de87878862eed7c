"""The push envelope (schemas/sync.py): the mutations list skips marshmallow's per-item
pass, and must answer exactly as ``fields.List(fields.Raw())`` did."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from schemas.sync import PushSchema

DEVICE = "5b0c6d1e-7f80-4a1b-9c2d-3e4f5a6b7c8d"


class ListOfRaw(PushSchema):
    mutations = fields.List(fields.Raw(), required=True)


def outcome(schema, body):
    try:
        return "loaded", schema.load(body)
    except ValidationError as exc:
        return "refused", exc.messages


items = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=3),
    st.text(max_size=2),
    st.lists(st.none(), max_size=1),
    st.fixed_dictionaries({"mutation_id": st.one_of(st.none(), st.booleans(), st.integers(-1, 4))}),
)


@given(st.one_of(st.lists(items, max_size=5), items, st.dictionaries(st.text(max_size=1), items)))
def test_same_answer_as_a_list_of_raw_fields(mutations):
    body = {"device_id": DEVICE, "mutations": mutations}
    assert outcome(PushSchema(), body) == outcome(ListOfRaw(), body)


@pytest.mark.parametrize(
    "body", [{"device_id": DEVICE}, {"mutations": []}, {"device_id": DEVICE, "mutations": None}]
)
def test_same_answer_without_mutations(body):
    assert outcome(PushSchema(), body) == outcome(ListOfRaw(), body)


def test_the_list_is_handed_on():
    mutations = [{"mutation_id": 1}, {"mutation_id": 2}]
    loaded = PushSchema().load({"device_id": DEVICE, "mutations": mutations})
    assert loaded["mutations"] == mutations
