"""Options shared by the Alembic environment and the test that compares models and schema.

Our UTCDateTime type is rendered as a plain timezone-aware DateTime so that migration files
never import the application's models, and compared as one.
"""

from __future__ import annotations

from typing import Any


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    from .models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    from sqlalchemy import DateTime

    from .models import UTCDateTime

    if isinstance(metadata_type, UTCDateTime):
        if not isinstance(inspected_type, DateTime):
            return True
        # SQLite has no zoned timestamps; elsewhere the column must keep the zone.
        return context.dialect.name != "sqlite" and not inspected_type.timezone
    return None  # Alembic's default comparison


def compare_options() -> dict[str, Any]:
    return {"compare_type": compare_type, "render_item": render_item}
