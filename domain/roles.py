"""Who may hold which units, and which accounts a supervisor may manage. Pure rules.

Roles: ``admin`` (everything, no units), ``district`` (a district, or a province in a
scheme without districts), ``supervisor`` (wards), ``canvasser`` (wards or residential
groups). Canvassers are the only role a supervisor may create or change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("admin", "district", "supervisor", "canvasser")

UNIT_LEVELS_BY_ROLE: dict[str, frozenset[str]] = {
    "admin": frozenset(),
    "district": frozenset({"district", "province"}),
    "supervisor": frozenset({"ward"}),
    "canvasser": frozenset({"ward", "group"}),
}

MIN_PASSWORD_LENGTH = 10


def unit_errors(role: str, unit_levels: Iterable[tuple[str, str]]) -> list[str]:
    """Problems with giving these units (pairs of ref and level) to a user of the role."""
    allowed = UNIT_LEVELS_BY_ROLE[role]
    pairs = list(unit_levels)
    if role == "admin":
        return ["An admin has no units."] if pairs else []
    if not pairs:
        return [f"A {role} needs at least one unit."]
    wanted = " or ".join(sorted(allowed))
    return [
        f"{ref} is a {level}; a {role} is assigned to a {wanted}."
        for ref, level in pairs
        if level not in allowed
    ]


def may_manage(manager_role: str, target_role: str) -> bool:
    """Whether a manager of this role may create or change accounts of the target role."""
    if manager_role == "admin":
        return True
    return manager_role == "supervisor" and target_role == "canvasser"


def password_errors(password: str) -> list[str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"A password needs at least {MIN_PASSWORD_LENGTH} characters."]
    if password != password.strip():
        return ["A password may not start or end with spaces."]
    return []


@dataclass(frozen=True)
class Scope:
    """The subtrees a caller may see: every unit whose path starts with a root's path."""

    everything: bool
    roots: tuple[tuple[int, str], ...]  # (unit id, unit path)

    def covers(self, path: str) -> bool:
        return self.everything or any(path.startswith(root) for _, root in self.roots)

    def ancestor_ids(self) -> set[int]:
        """Ids above the roots: shown in listings so a client can draw the tree."""
        ids: set[int] = set()
        for _, path in self.roots:
            ids.update(int(part) for part in path.strip("/").split("/")[:-1])
        return ids
