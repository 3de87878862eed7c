"""Password hashing with argon2id for the app in use, and generated passwords people can
type on a tablet. The rules live in services/ (users.py, sessions.py); these are the same
functions bound to the current app's settings, for seeding users (tests, the demo)."""

from __future__ import annotations

from ..services import sessions
from ..services.users import generate_password
from .scope import current_settings

__all__ = ["generate_password", "hash_password", "verify_password"]


def hash_password(password: str) -> str:
    """The argon2id hash of a password, with the app's cost settings."""
    return current_settings().hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and answer False."""
    return sessions.verify_password(current_settings().hasher, password_hash, password)
