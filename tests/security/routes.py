"""The app's /api/v1 operations read from its URL map, for tests that must cover every one.

A test that walks these fails when a new operation appears that its table does not list,
so a new endpoint cannot ship without its security check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # as Flask spells it: /api/v1/visits/<visit_id>
    permission: str | None
    roles: frozenset[str] | None
    has_body: bool  # parses a JSON body (a schema, or "none or {}")

    @property
    def key(self) -> str:
        return f"{self.method} {self.rule}"


def api_routes(app: Any) -> list[Route]:
    """Every declared operation (views with ``@operation``), one Route per method."""
    routes = []
    for rule in app.url_map.iter_rules():
        spec = getattr(app.view_functions[rule.endpoint], "field_operation", None)
        if spec is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(
                Route(
                    method=method,
                    rule=rule.rule,
                    permission=spec.permission,
                    roles=spec.roles,
                    has_body=spec.body is not None or spec.empty_body,
                )
            )
    return routes


def fill(rule: str, values: dict[str, str]) -> str:
    """The rule with its ``<name>`` parts replaced from ``values``."""
    path = rule
    for name, value in values.items():
        path = path.replace(f"<{name}>", value)
    assert "<" not in path, f"no value for a parameter of {rule}"
    return path
