"""Sync (docs/sync-protocol.md, docs/api.md#sync): the push envelope and the pull query,
and the three answers: push, pull page, status.

Requests: only the envelope is checked here: a body holding exactly `device_id` and
`mutations`, a list of objects each with an integer `mutation_id`, consecutive. Everything
inside one mutation is that mutation's own affair (domain/validation.py), so one bad record
never fails the batch.

Answers: push and pull are hot paths whose views send ready JSON (the planner's results,
the pull page's fast writer in field_server/store/pull.py); these schemas describe exactly
what they send, and tests/api/test_sync_pull.py and test_sync_push.py check real answers
against them key by key, so the writers and the description cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, utils, validate, validates_schema

from domain.records import (
    APPLIED,
    CONFLICT,
    FLAGS,
    MERGED,
    REDIRECTED,
    REJECTED,
    REJECTION_CODES,
)

from . import ListQuerySchema, OutputSchema, StrictSchema, Timestamp
from .records import HouseholdRecordSchema, VisitRecordSchema


class _RawList(fields.List):
    """``fields.List(fields.Raw())`` without a pass of the Raw field over every item (500 a
    batch): Raw hands any item back as it is and refuses only null, so a list without a
    null is the answer itself; one with a null takes the usual way, for the usual error."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if utils.is_collection(value) and None not in value:
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


class PushSchema(StrictSchema):
    RAW_FIELDS = ("mutations",)

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


# --- answers ------------------------------------------------------------------------------

STATUSES = (APPLIED, MERGED, CONFLICT, REDIRECTED, REJECTED)
ENTITIES = ("unit", "assignment", "household", "visit")
OPS = ("upsert", "delete", "merge")
HLC_TEXT = "A hybrid logical clock reading: <ms since epoch>-<counter>-<node>."


class PushResultSchema(OutputSchema):
    """One mutation's result, in the order of the batch (docs/sync-protocol.md#results).
    Which optional keys come depends on the status; the key order is the planner's."""

    mutation_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The record's id; null for a rejected mutation without one."},
    )
    version = fields.Integer(
        metadata={"description": "The record's version after the mutation (not when rejected)."}
    )
    merged_fields = fields.List(
        fields.String(), metadata={"description": "merged: the fields taken from the mutation."}
    )
    conflict_id = fields.String(metadata={"description": "conflict: the conflict recorded."})
    redirected_to = fields.String(
        metadata={"description": "redirected: the household the mutation was applied to."}
    )
    flags = fields.List(
        fields.String(validate=validate.OneOf(FLAGS)),
        metadata={
            "description": "A visit's quality flags, when it has any; for a household "
            "upsert, clock_suspect when its hlc ran over 10 minutes ahead of the server "
            "(ordered by the server's receipt time instead)."
        },
    )
    code = fields.String(
        validate=validate.OneOf(REJECTION_CODES),
        metadata={"description": "rejected: why (a rejection code)."},
    )
    message = fields.String(metadata={"description": "rejected: why, for people."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"description": "rejected with validation_failed: field errors."},
    )
    replayed = fields.Boolean(
        metadata={"description": "true: the stored result of a mutation consumed before."}
    )


class AsSent(fields.Nested):
    """A nested object the operation hands over in its JSON form already (a push result,
    as the ledger stores and replays it): sent as it is, keys in the order they were
    made, and described by the nested schema like any other."""

    # marshmallow's Nested names the first parameter `nested_obj`, Field (its base) `value`:
    # no signature matches both, so the override is ignored.
    def _serialize(self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return nested_obj


class PushResponseSchema(OutputSchema):
    """The answer to a push: sent only once the batch is committed."""

    last_mutation_id = fields.Integer(required=True)
    server_time = Timestamp(required=True)
    server_hlc = fields.String(required=True, metadata={"description": HLC_TEXT})
    results = fields.List(fields.Nested(PushResultSchema), required=True)


class UnitRecordSchema(OutputSchema):
    """A unit as pull shows it (the change's id is its ``scheme:code``)."""

    scheme = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)
    parent = fields.String(
        required=True, allow_none=True, metadata={"description": "The parent, as scheme:code."}
    )
    adult_population = fields.Integer(required=True, allow_none=True)
    target_rate = fields.Float(required=True, allow_none=True)


class AssignmentRecordSchema(OutputSchema):
    """One of the caller's assignments as pull shows it."""

    id = fields.String(required=True)
    unit = fields.String(
        required=True, allow_none=True, metadata={"description": "The unit, as scheme:code."}
    )
    starts_at = Timestamp(required=True)
    ends_at = Timestamp(required=True, allow_none=True)


class MergeDataSchema(OutputSchema):
    """A household merged into another: where its visits and edits now go."""

    into = fields.String(required=True)


# What a change's ``data`` holds, by (entity, op); a delete carries no data.
CHANGE_DATA = {
    ("unit", "upsert"): UnitRecordSchema,
    ("assignment", "upsert"): AssignmentRecordSchema,
    ("household", "upsert"): HouseholdRecordSchema,
    ("household", "merge"): MergeDataSchema,
    ("visit", "upsert"): VisitRecordSchema,
}


class ChangeSchema(OutputSchema):
    """One change of a pull page (docs/sync-protocol.md#pull)."""

    entity = fields.String(required=True, validate=validate.OneOf(ENTITIES))
    op = fields.String(
        required=True,
        validate=validate.OneOf(OPS),
        metadata={"description": "delete: a voided visit; merge: a merged household."},
    )
    id = fields.String(required=True)
    version = fields.Integer(metadata={"description": "upsert only."})
    data = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "upsert: the record (a unit, an assignment, a household or a visit "
            'record, by entity); merge: {"into": <the surviving household id>}; delete: absent.'
        },
    )


class PullResponseSchema(OutputSchema):
    """One pull page: its changes, in change order, and where to resume."""

    changes = fields.List(fields.Nested(ChangeSchema), required=True)
    cursor = fields.String(
        required=True, metadata={"description": "Always given: store it with the page."}
    )
    has_more = fields.Boolean(required=True)
    reset = fields.Boolean(
        required=True,
        metadata={"description": "true: the scope changed and this page starts a full copy."},
    )
    last_mutation_id = fields.Integer(
        required=True, metadata={"description": "Read in the same snapshot as the changes."}
    )
    server_time = Timestamp(required=True)
    server_hlc = fields.String(required=True, metadata={"description": HLC_TEXT})


class SyncStatusSchema(OutputSchema):
    """Where a device stands on the server."""

    device_id = fields.String(required=True)
    last_mutation_id = fields.Integer(required=True)
    last_push_at = Timestamp(required=True, allow_none=True)
    server_time = Timestamp(required=True)
    server_hlc = fields.String(required=True, metadata={"description": HLC_TEXT})
