"""POST /api/v1/auth/login, /auth/refresh, /auth/logout (API §2)."""

from ..api import bp  # noqa: F401
