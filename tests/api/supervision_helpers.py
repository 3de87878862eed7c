"""Helpers for the supervision API tests (conflicts, merges, duplicates, rejections)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from field_server.extensions import db
from field_server.models import AuditEntry, Unit, UnitFigures


def assert_error(response: Any, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["ok"] is False and body["code"] == code and body["status"] == status
    return body


def assert_figures_right(app: Any) -> None:
    """The kept counters equal a recount from the visits, households' own counters too."""
    from field_server.store import figures

    with app.app_context():
        result = figures.recount(timezone="Asia/Ho_Chi_Minh")
        assert result.household_counter_errors == []
        assert result.contributions == figures.stored()
        db.session.rollback()


def open_conflicts(app: Any, ward_ref: str) -> int:
    scheme, code = ward_ref.split(":")
    with app.app_context():
        ward = db.session.execute(
            select(Unit).where(Unit.scheme == scheme, Unit.code == code)
        ).scalar_one()
        row = db.session.get(UnitFigures, ward.id)
        value = row.open_conflicts if row else 0
        db.session.rollback()
        return value


def audit_rows(app: Any, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars()
        )
        db.session.expunge_all()
        return rows
