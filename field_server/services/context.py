"""The plain inputs every operation shares: who calls (``Caller``) and the settings it needs.

Views build a ``Caller`` from the bearer token (auth/scope.py ``current_caller``), commands
from the operator's system account (``Caller.operator``); services never look further.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from domain.roles import Scope

EVERYTHING = Scope(everything=True, roots=())


@dataclass(frozen=True)
class Caller:
    """Who performs an operation, the units it may see, and where the call came from."""

    user_id: int | None
    username: str  # the audit trail's actor
    role: str
    scope: Scope
    device_id: str | None = None
    address: str | None = None
    token_id: str | None = None  # the access token's id (jti): which session logs out

    @classmethod
    def operator(cls, actor: str) -> Caller:
        """The `field-server` command line: an operator on the server itself sees everything
        and is audited under ``actor`` (for example ``cli:alice``)."""
        return cls(user_id=None, username=actor, role="admin", scope=EVERYTHING, address=None)


@dataclass(frozen=True)
class Settings:
    """The settings operations read (config.py documents each), taken from the app's config
    once per app so services never reach for ``current_app``."""

    timezone: str = "Asia/Ho_Chi_Minh"
    assignment_grace_days: int = 7
    target_rate: float = 0.6
    default_language: str = "vi"
    secret_key: str = ""
    hasher: PasswordHasher = field(default_factory=PasswordHasher, compare=False, repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(
            timezone=config["TIMEZONE"],
            assignment_grace_days=config["ASSIGNMENT_GRACE_DAYS"],
            target_rate=config["TARGET_RATE"],
            default_language=config.get("DEFAULT_LANGUAGE", "vi"),
            secret_key=config["SECRET_KEY"],
            hasher=PasswordHasher(
                time_cost=config["ARGON2_TIME_COST"],
                memory_cost=config["ARGON2_MEMORY_KIB"],
                parallelism=config["ARGON2_PARALLELISM"],
            ),
        )


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, the position of the last one (what the next page
    resumes after) and whether more follow. The API wraps it in the list envelope."""

    items: Sequence[Any]
    last: Any
    has_more: bool
