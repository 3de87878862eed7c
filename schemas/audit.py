"""Audit (API §5): the list query and one audit row as shown to admins."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import fields, validate

from .records import rfc3339
from .visits import DateRangeQuery


class AuditListQuery(DateRangeQuery):
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    action = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


def dump_audit(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": rfc3339(row.at),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "client_address": row.client_address,
        "details": json.loads(row.details) if row.details else {},
    }
