"""Where the messages the server can send are written, read from the sources.

Two users: ``pybabel extract`` (docs/web.md, Translations), through the extraction methods
below that babel.cfg and domain/babel.cfg name, so that the gettext catalogues keep an entry
for every message of the API and ``pybabel update`` marks none obsolete; and
tests/unit/test_catalogues.py, which checks the catalogues against the same reading.

A message is found where it is written:
- the texts written as messages in the domain's rules, the schemas, the views, services and
  auth (read with ``ast``: string literals and f-strings that read as sentences; docstrings,
  dict keys, SQL, log lines, help texts and programmer errors left out, ``NOT_MESSAGES``
  lists the few the rule cannot tell apart);
- marshmallow's messages for every field class and validator the schemas use (each schema
  instantiated, its fields' ``error_messages`` and validators' messages walked);
- the error registry (``field_server.errors.ERRORS``).

The messages written in domain/ are the domain's catalogue's (domain/translations/, shared
with field-sync); the server's catalogue (field_server/translations/, with the pages' texts)
holds the others, so that each message has one written translation.

An f-string's values have no names in the source (``f"At most {MAX_ADDRESS_LENGTH}
characters."``), while a msgid names them (``"At most {limit} characters."``): messages are
compared by their shape, the fixed text with every value as ``{}``, and a found message takes
the msgid a catalogue already has for its shape, so that extraction keeps the translations;
a new one has its values named after their expressions (``{visit.version}`` -> ``{version}``).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_DIRECTORIES = (ROOT / "field_server" / "translations", ROOT / "domain" / "translations")

# Where the domain's messages are written (its catalogue: domain/translations/).
DOMAIN_SOURCES = (
    "domain/validation.py",
    "domain/push.py",
    "domain/roles.py",
    "domain/conflicts.py",
    "domain/review.py",
    "domain/geography.py",
    "domain/hlc.py",
)
# Where the server's other messages are written (its catalogue: field_server/translations/).
SERVER_SOURCES = (
    "schemas",
    "field_server/api",
    "field_server/services",
    "field_server/auth",
    "field_server/parsing.py",
    "field_server/operation.py",
    "field_server/paging.py",
)

# Literals that read like sentences but are no message anyone is shown.
NOT_MESSAGES = {
    "SELECT 1",  # the health check's query
    # schemas/sync.py: a description in the OpenAPI document
    "A hybrid logical clock reading: <ms since epoch>-<counter>-<node>.",
}
# Sources under SERVER_SOURCES whose texts no API answer carries: the OpenAPI document's
# descriptions, and the operator's commands, which speak English (babel.cfg ignores them).
NOT_MESSAGE_FILES = {
    "field_server/api/openapi.py",
    "field_server/services/demo.py",  # `field-server demo`
    "field_server/services/health.py",  # the operator's command line
    "field_server/services/backup.py",  # `field-server backup`
    "field_server/services/purge.py",  # `field-server purge`
}

# Calls whose text arguments are not messages: SQL, patterns, logs, programmer errors,
# descriptions in the OpenAPI document.
NOT_MESSAGE_CALLS = re.compile(
    r"(text|select|execute|exec_driver_sql|_count|RuntimeError|ValueError|TypeError|"
    r"KeyError|LookupError|NotImplementedError|AssertionError|re\.\w+|(log|logger|logging)"
    r"\.\w+|warnings\.warn)"
)
NOT_MESSAGE_KEYWORDS = {"metadata", "description", "help", "metavar", "doc", "summary"}
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


# --- reading the sources -----------------------------------------------------------------


def shape(text: str) -> str:
    """A message with every placeholder as {}: how found texts and msgids compare."""
    return _PLACEHOLDER.sub("{}", text)


def reads_as_message(text: str) -> bool:
    fixed = _PLACEHOLDER.sub("", text).strip()
    return bool(re.search(r"[A-Za-z]{2}", fixed)) and (fixed.endswith(".") or " " in fixed)


def _value_name(expr: ast.expr) -> str | None:
    """The name a new msgid gives an f-string's value: its variable, attribute or key
    (``{c['adults']}`` -> ``adults``), what a join or sort is made of."""
    if isinstance(expr, ast.Name):
        return expr.id.lower()
    if isinstance(expr, ast.Attribute):
        return expr.attr.lower()
    if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
        key = expr.slice.value
        return key if isinstance(key, str) and key.isidentifier() else None
    if isinstance(expr, ast.Call) and expr.args:
        callee = ast.unparse(expr.func)
        if callee.endswith(".join") or callee == "sorted":
            return _value_name(expr.args[0])
    return None


def _text(node: ast.Constant | ast.JoinedStr) -> str:
    """A literal as its text, an f-string with each value named (``value1``... when its
    expression gives no name)."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    parts: list[str] = []
    names: dict[str, str] = {}  # expression -> name, so a value used twice is one name
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
            continue
        assert isinstance(value, ast.FormattedValue)
        expression = ast.unparse(value.value)
        if expression not in names:
            name = _value_name(value.value)
            if name is None or name in names.values():
                name = f"value{len(names) + 1}"
            names[expression] = name
        parts.append("{" + names[expression] + "}")
    return "".join(parts)


def _excluded_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()

    def skip_all(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(sub) for sub in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip_all(first.value)  # a docstring
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                skip_all(key)
                if isinstance(key, ast.Constant) and key.value in NOT_MESSAGE_KEYWORDS:
                    skip_all(value)
        elif isinstance(node, ast.JoinedStr):
            for value in node.values:
                skip_all(value)  # an f-string is read whole, its parts are no messages
        elif isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            if callee.endswith(".join") or callee.endswith(".format"):
                skip_all(node.func)  # separators and templates of other kinds
            if NOT_MESSAGE_CALLS.fullmatch(callee):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    skip_all(arg)
            for keyword in node.keywords:
                if keyword.arg in NOT_MESSAGE_KEYWORDS:
                    skip_all(keyword.value)
        elif isinstance(node, ast.Compare):
            skip_all(node)  # `value == "…"` compares, it does not say
    return skip


def located_messages(source: str, filename: str = "<source>") -> Iterator[tuple[int, str]]:
    """(line, text) for each text of a Python source that reads as a message."""
    tree = ast.parse(source, filename=filename)
    skip = _excluded_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
            node, ast.JoinedStr
        ):
            text = _text(node)
            if reads_as_message(text) and text not in NOT_MESSAGES:
                yield node.lineno, text


def messages_in(path: Path) -> Iterator[str]:
    """The texts of a source file that read as messages."""
    for _, text in located_messages(path.read_text(), str(path)):
        yield text


def source_files(names: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        path = ROOT / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [p for p in found if p.relative_to(ROOT).as_posix() not in NOT_MESSAGE_FILES]


# --- marshmallow's messages and the registry ----------------------------------------------


def _validator_messages(validator: object) -> Iterator[str]:
    from marshmallow import validate

    error = getattr(validator, "error", None)
    if isinstance(validator, validate.Length) and not error:
        if validator.equal is not None:
            yield validator.message_equal
        elif validator.min is not None and validator.max is not None:
            yield validator.message_all
        elif validator.min is not None:
            yield validator.message_min
        else:
            yield validator.message_max
    elif isinstance(validator, validate.Range) and not error:
        if validator.min is not None and validator.max is not None:
            yield validator.message_all
        elif validator.min is not None:
            yield validator.message_min
        else:
            yield validator.message_max
    elif isinstance(error, str):
        yield error
    elif isinstance(validator, validate.Validator):
        yield getattr(validator, "default_message", "")


def _field_messages(field: Any, seen: set[int]) -> Iterator[str]:
    from marshmallow import fields

    yield from (m for m in field.error_messages.values() if isinstance(m, str))
    for validator in field.validators:
        yield from _validator_messages(validator)
    if isinstance(field, fields.Nested):
        yield from _schema_messages(field.schema, seen)
    inner = [getattr(field, "inner", None), getattr(field, "key_field", None),
             getattr(field, "value_field", None)]  # fmt: skip
    for sub in inner:
        if isinstance(sub, fields.Field):
            yield from _field_messages(sub, seen)


def _schema_messages(schema: Any, seen: set[int]) -> Iterator[str]:
    if id(type(schema)) in seen:
        return
    seen.add(id(type(schema)))
    yield from schema.error_messages.values()
    for field in schema.fields.values():
        yield from _field_messages(field, seen)


def schema_messages(module_name: str) -> Iterator[tuple[int, str]]:
    """(line of the schema, message) for marshmallow's messages of each schema the module
    defines: its fields' and validators' (a nested schema's under the schema using it)."""
    from marshmallow import Schema

    module = importlib.import_module(module_name)
    seen: set[int] = set()
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if issubclass(cls, Schema) and cls.__module__ == module.__name__:
            line = inspect.getsourcelines(cls)[1]
            for message in _schema_messages(cls(), seen):
                if message:
                    yield line, message


def registry_messages(source: str) -> Iterator[tuple[int, str]]:
    """(line, message) for each code of the error registry (field_server/errors.py, whose
    source is given for the lines)."""
    from field_server.errors import ERRORS

    lines: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            lines.setdefault(node.value, node.lineno)
    for spec in ERRORS.values():
        yield lines.get(spec.message, 1), spec.message


def _module_name(path: Path) -> str:
    parts = path.resolve().relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# --- the sets of messages -----------------------------------------------------------------


def domain_messages() -> set[str]:
    """Every message written in domain/ (the domain's catalogue's)."""
    return {text for path in source_files(DOMAIN_SOURCES) for text in messages_in(path)}


@functools.cache
def _domain_shapes() -> frozenset[str]:
    return frozenset(shape(text) for text in domain_messages())


def server_messages() -> set[str]:
    """Every message the server can send: the domain's and its own."""
    found = domain_messages()
    for path in source_files(SERVER_SOURCES):
        found.update(messages_in(path))
        if path.relative_to(ROOT).parts[0] == "schemas":
            found.update(text for _, text in schema_messages(_module_name(path)))
    errors = ROOT / "field_server" / "errors.py"
    found.update(text for _, text in registry_messages(errors.read_text()))
    return found


# --- Babel extraction methods (babel.cfg, domain/babel.cfg) -------------------------------


@functools.cache
def _catalogue_msgids() -> Mapping[str, str]:
    """shape -> msgid of the catalogues' entries, read when extraction starts."""
    msgids: dict[str, str] = {}
    for directory in CATALOGUE_DIRECTORIES:
        for path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
            with path.open("rb") as f:
                for message in read_po(f):
                    if isinstance(message.id, str) and message.id:
                        msgids.setdefault(shape(message.id), message.id)
    return msgids


def msgid(text: str) -> str:
    """The msgid of a found message: the catalogues' for its shape, else the text."""
    return _catalogue_msgids().get(shape(text), text)


_Extracted = Iterator[tuple[int, str | None, str, list[str]]]


def _extracted(found: Iterable[tuple[int, str]], *, without_domain: bool) -> _Extracted:
    for line, text in found:
        if without_domain and shape(text) in _domain_shapes():
            continue  # written once, in the domain's catalogue
        yield line, None, msgid(text), []


def _source(fileobj: IO[bytes]) -> tuple[Path, str]:
    return Path(fileobj.name), fileobj.read().decode()


def extract_domain(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> _Extracted:
    """Babel extraction method: the messages written in a source of domain/."""
    path, source = _source(fileobj)
    yield from _extracted(located_messages(source, str(path)), without_domain=False)


def extract_server(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> _Extracted:
    """Babel extraction method: the messages written in a source of the server (the
    schemas' marshmallow messages too), but those the domain's catalogue holds."""
    path, source = _source(fileobj)
    found = list(located_messages(source, str(path)))
    if _module_name(path).startswith("schemas."):
        found += schema_messages(_module_name(path))
    yield from _extracted(found, without_domain=True)


def extract_registry(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> _Extracted:
    """Babel extraction method: the error registry's messages (field_server/errors.py)."""
    _, source = _source(fileobj)
    yield from _extracted(registry_messages(source), without_domain=True)
