"""Access tokens (JWT) and refresh token values, with the current app's settings.

The codec itself is services/sessions.py (decoding pins the algorithm list and requires
every claim); these bind it to the app for the request's authentication (principal.py).
"""

from __future__ import annotations

from typing import Any

from ..services import sessions


def _settings() -> sessions.SessionSettings:
    # scope.py imports principal.py, which imports this module: look scope up when called.
    from .scope import current_session_settings

    return current_session_settings()


def decode_access_token(token: str) -> dict[str, Any]:
    """The claims of a genuine, unexpired access token; else 401 token_invalid/expired."""
    return sessions.decode_access_token(_settings(), token)


def refresh_token_value(token_id: str) -> str:
    """The refresh token a client holds for the stored token ``token_id``."""
    return sessions.refresh_token_value(_settings(), token_id)
