"""A push's bulk inserts (store/sync.py ``_insert_many``) keep every time as the instant it
was: on PostgreSQL the rows go as one JSON record set without the column types' own
conversions, so a time in another offset must still land as the same instant, and a time
without a zone must still be refused, as the column type refuses it, with nothing written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from field_server.extensions import db
from field_server.models import Revision, table
from field_server.store.sync import _insert_many

REVISIONS = table(Revision)
HANOI = timezone(timedelta(hours=7))


def revision(entity_id: str, at: datetime | None) -> dict[str, Any]:
    return {
        "entity": "visit",
        "entity_id": entity_id,
        "version": 1,
        "data": "{}",
        "changed": "[]",
        "author_role": "canvasser",
        "author": "cv.test",
        "device_id": None,
        "hlc": None,
        "at": at,
    }


def test_times_in_another_offset_are_stored_as_the_same_instant(app: Any) -> None:
    local = datetime(2020, 8, 15, 9, 30, 0, 123456, tzinfo=HANOI)
    with app.app_context():
        _insert_many(REVISIONS, [revision("a", local), revision("b", local.astimezone(UTC))])
        db.session.commit()
        stored = db.session.execute(select(Revision.entity_id, Revision.at)).all()
    assert {entity_id: at for entity_id, at in stored} == {
        "a": datetime(2020, 8, 15, 2, 30, 0, 123456, tzinfo=UTC),
        "b": datetime(2020, 8, 15, 2, 30, 0, 123456, tzinfo=UTC),
    }


def test_a_time_without_a_zone_is_refused_and_nothing_is_written(app: Any) -> None:
    aware = datetime(2020, 8, 15, 2, 30, tzinfo=UTC)
    rows = [revision("a", aware), revision("b", aware.replace(tzinfo=None))]
    with app.app_context():
        with pytest.raises(ValueError, match="naive datetime"):
            _insert_many(REVISIONS, rows)
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(REVISIONS)).scalar_one() == 0
