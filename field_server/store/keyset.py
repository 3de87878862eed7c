"""Times in keyset paging and date filters, the same on SQLite and PostgreSQL.

SQLite keeps times as text, and not always in one spelling: rows written through SQLAlchemy
read ``2020-08-15 03:00:00.000000``, rows the push path hands straight to the driver
``2020-08-15 03:00:00``. ``ORDER BY`` sorts that text, so a cursor must hold the text
exactly as stored and compare it as text, or equal times compare unequal and a page repeats
a row. On PostgreSQL times are timestamps and the cursor holds one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, literal, type_coerce

from ..extensions import db


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def time_key(column: Any, label: str) -> Any:
    """The column as the cursor holds it: the stored text on SQLite, else the time."""
    return (type_coerce(column, String()) if _sqlite() else column).label(label)


def encode_time_key(value: Any) -> str:
    """A value of ``time_key`` as the text a cursor carries."""
    return value if isinstance(value, str) else value.astimezone(UTC).isoformat()


def decode_time_key(text: Any, column: Any) -> Any:
    """A cursor's text back to a bound value comparable with ``column``; ValueError if it
    is not one."""
    if not isinstance(text, str):
        raise ValueError("time key")
    if _sqlite():
        datetime.fromisoformat(text)  # refuse text that is no time at all
        return literal(text, String())
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("naive time key")
    return literal(when, column.type)


def time_bound(when: datetime, column: Any) -> Any:
    """A whole-second boundary (a local midnight) comparable with ``column`` in both
    spellings SQLite may hold: ``>=``/``<`` against ``YYYY-MM-DD HH:MM:SS`` text is exact
    for both."""
    if _sqlite():
        return literal(when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), String())
    return literal(when, column.type)
