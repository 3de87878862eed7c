"""Sync (API §4): the push envelope and the pull query.

Only the envelope is checked here: a body holding exactly `device_id` and `mutations`, a
list of objects each with an integer `mutation_id`, consecutive. Everything inside one
mutation is that mutation's own affair (domain/validation.py), so one bad record never
fails the batch.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, utils, validates_schema

from . import ListQuerySchema, StrictSchema


class _RawList(fields.List):
    """``fields.List(fields.Raw())`` without a pass of the Raw field over every item (500 a
    batch): Raw hands any item back as it is and refuses only null, so a list without a
    null is the answer itself; one with a null takes the usual way, for the usual error."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if utils.is_collection(value) and None not in value:
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


class PushSchema(StrictSchema):
    device_id = fields.String(required=True)
    mutations = _RawList(fields.Raw(), required=True)

    @validates_schema
    def _consecutive_ids(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        previous = None
        for index, item in enumerate(data.get("mutations", [])):
            if not isinstance(item, dict):
                errors[str(index)] = ["Each mutation must be a JSON object."]
                continue
            mutation_id = item.get("mutation_id")
            if not isinstance(mutation_id, int) or isinstance(mutation_id, bool):
                errors[str(index)] = {"mutation_id": ["A whole number is required."]}
            elif mutation_id < 1:
                errors[str(index)] = {"mutation_id": ["Mutation ids start at 1."]}
            elif previous is not None and mutation_id != previous + 1:
                errors[str(index)] = {
                    "mutation_id": [f"Expected {previous + 1}: ids go up by exactly one."]
                }
            previous = mutation_id if isinstance(mutation_id, int) else None
        if errors:
            raise ValidationError({"mutations": errors})


class PullQuery(ListQuerySchema):
    pass
