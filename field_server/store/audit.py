"""The audit trail: one row per review, correction, user change, revoke, export, failed login."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from ..extensions import db
from ..models import AuditEntry


def record(
    *,
    action: str,
    actor: str | None,
    target: str | None,
    client_address: str | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the current transaction (it commits or rolls back with the change)."""
    db.session.add(
        AuditEntry(
            at=at,
            actor=actor,
            action=action,
            target=target,
            client_address=client_address,
            details=json.dumps(details, ensure_ascii=False, sort_keys=True) if details else None,
        )
    )


def record_many(rows: Iterable[Mapping[str, Any]]) -> None:
    """Add many audit rows (each with the keys of ``record``) with one executemany: a bulk
    review writes one row per visit."""
    values = [
        {
            "at": row["at"],
            "actor": row["actor"],
            "action": row["action"],
            "target": row["target"],
            "client_address": row["client_address"],
            "details": json.dumps(row["details"], ensure_ascii=False, sort_keys=True)
            if row.get("details")
            else None,
        }
        for row in rows
    ]
    if values:
        db.session.execute(insert(AuditEntry), values)
