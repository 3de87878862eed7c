"""The layers hold: docs/architecture/parts.json's forbidden imports, and thin views.

Every Python file is given to the part whose path names it most closely; every import it
makes (absolute, or relative resolved against its package) is given to a part the same way.
An import from one part into another that parts.json lists under ``never`` fails. Then the
views and commands: none may open a transaction, touch the session, settle figures, write
audit rows or stamp the change sequence itself; services do (services/writes.py).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PICTURE = json.loads((ROOT / "docs" / "architecture" / "parts.json").read_text())
SOURCES = ("field_server", "schemas", "domain", "field_sync")

# What only services (and the store below them) may do.
THIN_LAYERS = (
    "field_server/api/",
    "field_server/cli/",
    "field_server/auth/views.py",
    "field_server/web/",
)
FORBIDDEN_IN_THIN = re.compile(
    r"db\.session|write_transaction|(?<![/\w.])figures\.(?!md)|\baudit\.(record|record_many)\b"
    r"|changes\.stamp"
)


def part_of(relpath: str) -> str | None:
    best, best_len = None, -1
    for name, part in PICTURE["parts"].items():
        for prefix in part["is"]:
            if (relpath == prefix or relpath.startswith(prefix)) and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    return best


def module_path(module: str) -> str | None:
    """A dotted module name as a path relative to the repository (package or file)."""
    base = ROOT / Path(*module.split("."))
    if (base / "__init__.py").exists():
        return f"{base.relative_to(ROOT).as_posix()}/__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py").relative_to(ROOT).as_posix()
    return None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for each import, relative ones resolved; ``from x import y``
    also yields ``x.y`` so a submodule imported by name counts."""
    package = list(path.relative_to(ROOT).with_suffix("").parts)[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def python_files() -> list[Path]:
    return sorted(p for top in SOURCES for p in (ROOT / top).rglob("*.py"))


def broken_nevers() -> list[str]:
    nevers = {(a, b): why for a, b, why in PICTURE["never"]}
    broken = set()
    for path in python_files():
        rel = path.relative_to(ROOT).as_posix()
        source = part_of(rel)
        if source is None:
            continue
        for line, module in imports_of(path):
            target_path = module_path(module)
            target = part_of(target_path) if target_path else None
            if target and target != source and (source, target) in nevers:
                broken.add(
                    f"{rel}:{line} imports {module} ({source} -> {target}: "
                    f"{nevers[(source, target)]})"
                )
    return sorted(broken)


def test_no_forbidden_import_between_parts():
    assert broken_nevers() == []


def test_every_source_file_belongs_to_a_part_or_is_shared_plumbing():
    # Plumbing every layer may use (parsing, paging, clock, JSON) is not a part of its own.
    plumbing = {
        "field_server/clock.py",
        "field_server/client_address.py",
        "field_server/json_provider.py",
        "field_server/paging.py",
        "field_server/parsing.py",
        "field_server/operation.py",
    }
    orphans = [
        rel
        for rel in (p.relative_to(ROOT).as_posix() for p in python_files())
        if part_of(rel) is None and rel not in plumbing and "/migrations/" not in rel
    ]
    assert orphans == []


def test_views_and_commands_leave_writes_to_services():
    offenders = []
    for path in python_files():
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(THIN_LAYERS):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if FORBIDDEN_IN_THIN.search(code):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_services_touch_no_flask_globals():
    offenders = []
    for path in sorted((ROOT / "field_server" / "services").rglob("*.py")):
        for line, module in imports_of(path):
            if module.split(".")[0] in ("flask", "werkzeug"):
                offenders.append(f"{path.name}:{line} imports {module}")
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("field_server/api/x.py", "field_server.store.people", "Store"),
        ("field_server/api/x.py", "field_server.models", "Store"),
        ("field_server/api/x.py", "domain.push", "Domain"),
        ("field_server/api/x.py", "field_sync.client", "Client"),
    ],
)
def test_the_check_would_catch_an_offender(source, module, expected):
    assert part_of(source) == "Api"
    assert part_of(module_path(module) or "") == expected


def _decorated_views() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in python_files():
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(THIN_LAYERS):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "operation"
                for d in node.decorator_list
            ):
                found.append((rel, node))
    return found


def test_every_view_is_a_few_lines_of_parse_call_dump():
    views = _decorated_views()
    assert len(views) > 30  # every /api/v1 view is declared with @operation
    too_long = [
        f"{rel}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for rel, node in views
        if (node.end_lineno or node.lineno) - node.lineno + 1 > 25
    ]
    assert too_long == []


def test_the_store_and_services_read_no_flask_globals():
    # Settings reach them as arguments (services/context.Settings), never from current_app.
    offenders = []
    for folder in ("store", "services"):
        for path in sorted((ROOT / "field_server" / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Name) and node.id in ("current_app", "request", "g"):
                    offenders.append(f"{folder}/{path.name}:{node.lineno}: {node.id}")
    assert offenders == []
