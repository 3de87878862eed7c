"""The /api/v1 blueprint; one module per resource registers its routes on ``bp``."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import (  # noqa: E402,F401  (modules attach their routes)
    audit,
    conflicts,
    devices,
    exports,
    households,
    merges,
    openapi,
    rejections,
    stats,
    sync,
    units,
    users,
    visits,
)
