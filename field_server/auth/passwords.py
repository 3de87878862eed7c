"""Password hashing with argon2id, and generated passwords people can type on a tablet."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

# No 0/O, 1/l/I: generated passwords are read aloud and typed on tablets.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _hasher() -> PasswordHasher:
    from .scope import current_settings

    ext = current_app.extensions
    hasher = current_settings().hasher
    if "field_dummy_hash" not in ext:
        # Verified against when the username is unknown, so both answers take as long.
        ext["field_dummy_hash"] = hasher.hash(secrets.token_urlsafe(16))
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and answer False."""
    hasher = _hasher()
    target = password_hash or current_app.extensions["field_dummy_hash"]
    try:
        ok = hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def generate_password(groups: int = 4, size: int = 4) -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(size)) for _ in range(groups))
