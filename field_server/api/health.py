"""GET /healthz: is the server up, does the database answer, and is its schema the code's.

No auth. The schema's revision is read with one query; the newest migration is read from
the package once per process (migrations_support.py). A schema behind the code would fail
requests one by one, so the check fails as a whole: 503 until `field-server db upgrade`.
"""

from flask import Blueprint, Response, jsonify

from ..errors import ApiError, error_response, storage_error
from ..services.health import database_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@bp.get("/api/v1/healthz")
def healthz() -> Response:
    """Whether the server is up, its database answers and its schema is current."""
    schema = database_status()
    if schema is None or not schema.current:
        error: ApiError = storage_error()
        if schema is None:
            error.details["database"] = "unavailable"
        else:
            error.details.update(database="ok", schema=schema.as_json())
        return error_response(error)
    return jsonify({"ok": True, "database": "ok", "schema": schema.as_json()})
