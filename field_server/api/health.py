"""GET /healthz: is the server up and does the database answer. No auth."""

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from ..errors import ApiError, error_response, storage_error
from ..extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@bp.get("/api/v1/healthz")
def healthz() -> Response:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:
        db.session.rollback()
        error: ApiError = storage_error()
        error.details["database"] = "unavailable"
        return error_response(error)
    return jsonify({"ok": True, "database": "ok"})
