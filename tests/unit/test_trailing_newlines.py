"""A value with a trailing newline is refused wherever a pattern checks it.

Python's "$" also matches just before a final "\\n", so ``re.match(r"^[a-z]+$", "abc\\n")``
succeeds (as does marshmallow's ``validate.Regexp``, which uses ``re.match``). Every check
below feeds a value the pattern accepts, then the same value with "\\n" appended; and a scan
of the source tree fails when a "$"-anchored pattern is used with ``match`` or ``search``
again (``fullmatch`` is the way).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields, validate

import schemas
from domain.hlc import parse_hlc
from domain.records import SyncError
from domain.validation import (
    clean_household,
    clean_visit,
    is_unit_ref,
    is_uuid,
    parse_mutation,
    parse_time,
)

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("domain", "schemas", "field_server", "field_sync")

UUID = "9f1e2d3c-4b5a-4697-8877-665544332211"
DEVICE = "5b0c6d1e-7f80-4a1b-9c2d-3e4f5a6b7c8d"
HLC_TEXT = f"1597458600000-0003-{DEVICE}"
TIME = "2020-08-15T09:31:00+07:00"
WARD = "gso-2020:12019"


def _refused(call: Callable[[], Any]) -> bool:
    """Whether the domain check refuses: raises validation_failed, or answers False/None."""
    try:
        answer = call()
    except SyncError as exc:
        return exc.code == "validation_failed"
    return answer in (False, None)


def _mutation(**changes: Any) -> dict[str, Any]:
    return {
        "mutation_id": 1,
        "type": "household.upsert",
        "id": UUID,
        "base_version": 0,
        "hlc": HLC_TEXT,
        "data": {"ward": WARD, "address": "Số 12"},
        **changes,
    }


# Each check, given the accepted value, as (name, value, call with that value).
DOMAIN_CHECKS: list[tuple[str, str, Callable[[str], Any]]] = [
    ("uuid", UUID, is_uuid),
    ("unit ref", WARD, is_unit_ref),
    ("unit ref: its scheme", "gso-2020", lambda v: is_unit_ref(f"{v}:12019")),
    ("RFC 3339 time", TIME, parse_time),
    ("hlc", HLC_TEXT, parse_hlc),
    ("hlc: milliseconds", HLC_TEXT, lambda v: parse_hlc(_in_part(v, 0))),
    ("hlc: counter", HLC_TEXT, lambda v: parse_hlc(_in_part(v, 1))),
    ("mutation id", UUID, lambda v: parse_mutation(_mutation(id=v))),
    ("mutation hlc", HLC_TEXT, lambda v: parse_mutation(_mutation(hlc=v))),
    ("household ward", WARD, lambda v: clean_household({"ward": v, "address": "x"}, creating=True)),
    ("household group", f"{WARD}-01", lambda v: clean_household({"group": v}, creating=False)),
    ("household phone", "0912 345 678", lambda v: clean_household({"phone": v}, creating=False)),
    (
        "visit household_id",
        UUID,
        lambda v: clean_visit(
            {"household_id": v, "visited_at": TIME, "outcome": "not_home"}, creating=True
        ),
    ),
    ("visit visited_at", TIME, lambda v: clean_visit({"visited_at": v}, creating=False)),
    ("visit come_back_at", TIME, lambda v: clean_visit({"come_back_at": v}, creating=False)),
]


def _in_part(value: str, index: int) -> str:
    """The hlc with its newline moved into part ``index`` (ms or counter), if it has one."""
    if not value.endswith("\n"):
        return value
    parts = value[:-1].split("-", 2)
    parts[index] += "\n"
    return "-".join(parts)


@pytest.mark.parametrize(
    ("value", "check"), [(v, c) for _, v, c in DOMAIN_CHECKS], ids=[n for n, _, _ in DOMAIN_CHECKS]
)
def test_domain_checks_refuse_a_trailing_newline(value, check):
    assert not _refused(lambda: check(value))
    assert _refused(lambda: check(value + "\n"))


# --- the schemas' patterns --------------------------------------------------------------------

# A value each pattern of the request schemas accepts. A new pattern needs its example here.
EXAMPLES = {
    r"^[a-z0-9][a-z0-9._-]*:[A-Za-z0-9._-]+$": WARD,
    r"^[a-z0-9][a-z0-9._-]{2,63}$": "cv.vg.001",
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$": DEVICE,
}


def _regex_validators(field: fields.Field) -> Iterator[validate.Regexp]:
    for validator in field.validators:
        if isinstance(validator, validate.Regexp):
            yield validator
    for inner in (getattr(field, "inner", None), getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            yield from _regex_validators(inner)


def schema_patterns() -> list[tuple[str, validate.Regexp]]:
    """Every regex validator of every schema field, named schema.field."""
    found = []
    modules = [schemas] + [
        importlib.import_module(f"schemas.{info.name}")
        for info in pkgutil.iter_modules(schemas.__path__)
    ]
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Schema) and cls.__module__ == module.__name__:
                for name, field in cls().fields.items():
                    for validator in _regex_validators(field):
                        found.append((f"{cls.__name__}.{name}", validator))
    return found


@pytest.mark.parametrize(
    "validator", [v for _, v in schema_patterns()], ids=[n for n, _ in schema_patterns()]
)
def test_schema_patterns_refuse_a_trailing_newline(validator):
    example = EXAMPLES[validator.regex.pattern]
    assert validator(example) == example
    with pytest.raises(ValidationError):
        validator(example + "\n")


def test_the_schemas_have_patterns_to_check():
    # usernames, device ids, unit refs: the parametrised test above must not run empty.
    assert {v.regex.pattern for _, v in schema_patterns()} == set(EXAMPLES)


# --- the source tree ------------------------------------------------------------------------

_ANCHOR = re.compile(r"(?<!\\)\$")  # a "$" that is not escaped


def _string(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _callee(node: ast.Call) -> str:
    return ast.unparse(node.func)


def dollar_matches(sources: dict[str, str]) -> list[str]:
    """Where a "$"-anchored pattern is applied with match or search (re.match, re.search,
    a compiled pattern's .match/.search, marshmallow's Regexp): "path:line: code"."""
    trees = {path: ast.parse(text) for path, text in sources.items()}
    constants: dict[str, str] = {}  # NAME = "pattern" anywhere
    compiled: dict[str, str] = {}  # NAME = re.compile("pattern")
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                name = target.id if isinstance(target, ast.Name) else None
                if name is None:
                    continue
                if (text := _string(node.value, {})) is not None:
                    constants[name] = text
                elif isinstance(node.value, ast.Call) and _callee(node.value) == "re.compile":
                    pattern = _string(node.value.args[0], constants) if node.value.args else None
                    if pattern is not None:
                        compiled[name] = pattern
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = _callee(node)
            pattern = None
            if callee in ("re.match", "re.search") and node.args:
                pattern = _string(node.args[0], constants)
            elif isinstance(node.func, ast.Attribute) and node.func.attr in ("match", "search"):
                owner = node.func.value
                name = owner.attr if isinstance(owner, ast.Attribute) else ast.unparse(owner)
                pattern = compiled.get(name)
            elif callee in ("Regexp", "validate.Regexp", "marshmallow.validate.Regexp"):
                pattern = _string(node.args[0], constants) if node.args else None
            if pattern is not None and _ANCHOR.search(pattern):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_dollar_anchored_pattern_is_used_with_match():
    sources = {
        path.relative_to(ROOT).as_posix(): path.read_text()
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
    }
    assert len(sources) > 50
    assert dollar_matches(sources) == []


@pytest.mark.parametrize(
    "source",
    [
        'import re\nP = re.compile(r"^[a-z]+$")\nP.match(x)\n',
        'import re\nre.match(r"^[a-z]+$", x)\n',
        'import re\nTEXT = "^[0-9]+$"\nre.search(TEXT, x)\n',
        'from marshmallow import validate\nvalidate.Regexp(r"^[a-z]+$")\n',
        'import re\nfrom . import patterns\nP = re.compile(r"(a|b)$")\npatterns.P.match(x)\n',
    ],
)
def test_the_scan_finds_a_dollar_anchored_match(source):
    assert len(dollar_matches({"example.py": source})) == 1


@pytest.mark.parametrize(
    "source",
    [
        'import re\nP = re.compile(r"^[a-z]+$")\nP.fullmatch(x)\n',
        'import re\nre.match(r"[a-z]+", x)\n',
        'import re\nre.match(r"price \\$5", x)\n',
        'from schemas import FullRegexp\nFullRegexp(r"^[a-z]+$")\n',
    ],
)
def test_the_scan_lets_safe_uses_be(source):
    assert dollar_matches({"example.py": source}) == []
