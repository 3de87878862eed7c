"""Every message the server or field-sync can produce has a Vietnamese text, and every
Vietnamese text still belongs to a message (so the catalogues cannot rot).

The messages are collected from where they are written:
- marshmallow's messages for every field class and validator the schemas use (each schema
  instantiated, its fields' ``error_messages`` and validators' messages walked);
- the texts written as messages in the domain's rules, the schemas, the views, services and
  auth (read with ``ast``: string literals and f-strings that read as sentences, docstrings,
  dict keys, SQL, log lines, help texts and programmer errors left out — ``NOT_MESSAGES``
  lists the few the rule cannot tell apart);
- the error registry (``field_server.errors.ERRORS``);
- for field-sync, the messages its command prints through ``_()`` and the client's errors.

An f-string is compared by its shape: its fixed text with every value as ``{}``, so the
catalogue may name the values as it likes ("At most {limit} characters." stands for
``f"At most {MAX_ADDRESS_LENGTH} characters."``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from marshmallow import Schema, fields, validate

import schemas
from field_server.errors import ERRORS
from field_server.messages import (
    CATALOGUES,
    VI,
    compile_template,
    placeholders,
    translate,
    translate_errors,
    translate_result,
    translate_results,
)
from field_sync import messages as client_messages

ROOT = Path(__file__).resolve().parents[2]

# Where the server's messages are written (read with ast).
SERVER_SOURCES = (
    "domain/validation.py",
    "domain/push.py",
    "domain/roles.py",
    "domain/conflicts.py",
    "domain/review.py",
    "domain/geography.py",
    "domain/hlc.py",
    "schemas",
    "field_server/api",
    "field_server/services",
    "field_server/auth",
    "field_server/parsing.py",
    "field_server/operation.py",
    "field_server/paging.py",
)
# What a tablet can be told: its own checks before recording (validation, hlc), the push
# rules' rejections it lists under `attention`, and the client's own errors.
CLIENT_SOURCES = ("domain/validation.py", "domain/hlc.py", "domain/push.py", "field_sync/client.py")

# Literals that read like sentences but are no message anyone is shown.
NOT_MESSAGES = {
    "SELECT 1",  # the health check's query
    # schemas/sync.py: a description in the OpenAPI document
    "A hybrid logical clock reading: <ms since epoch>-<counter>-<node>.",
}
# Sources under SERVER_SOURCES whose texts no API answer carries: the OpenAPI document's
# descriptions, and the demo's refusals, printed by `field-server demo` (field-server's
# commands speak English).
NOT_MESSAGE_FILES = {
    "field_server/api/openapi.py",
    "field_server/services/demo.py",
    "field_server/services/health.py",  # the operator's command line, in English
    "field_server/services/backup.py",  # `field-server backup`, in English
    "field_server/services/purge.py",  # `field-server purge`, in English
}
# Messages built in a way the reading above cannot see; each says where it comes from.
EXTRA_SERVER_MESSAGES: set[str] = set()
EXTRA_CLIENT_MESSAGES = {
    "none",  # field_sync/client.py local_status()["cursor"], shown by `field-sync status`
}

# Calls whose text arguments are not messages: SQL, patterns, logs, programmer errors,
# descriptions in the OpenAPI document.
NOT_MESSAGE_CALLS = re.compile(
    r"^(text|select|execute|exec_driver_sql|_count|RuntimeError|ValueError|TypeError|"
    r"KeyError|LookupError|NotImplementedError|AssertionError|re\.\w+|(log|logger|logging)"
    r"\.\w+|warnings\.warn)$"
)
NOT_MESSAGE_KEYWORDS = {"metadata", "description", "help", "metavar", "doc", "summary"}


# --- reading the sources -----------------------------------------------------------------


def shape(text: str) -> str:
    """A message with every placeholder as {}: how collected texts and msgids compare."""
    return re.sub(r"\{[^{}]*\}", "{}", text)


def reads_as_message(text: str) -> bool:
    fixed = re.sub(r"\{[^{}]*\}", "", text).strip()
    return bool(re.search(r"[A-Za-z]{2}", fixed)) and (fixed.endswith(".") or " " in fixed)


def _template(node: ast.Constant | ast.JoinedStr) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        else:
            assert isinstance(value, ast.FormattedValue)
            parts.append("{" + ast.unparse(value.value).replace("{", "(").replace("}", ")") + "}")
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
            if NOT_MESSAGE_CALLS.match(callee):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    skip_all(arg)
            for keyword in node.keywords:
                if keyword.arg in NOT_MESSAGE_KEYWORDS:
                    skip_all(keyword.value)
        elif isinstance(node, ast.Compare):
            skip_all(node)  # `value == "…"` compares, it does not say
    return skip


def messages_in(path: Path) -> Iterator[str]:
    """The texts of a source file that read as messages (see the module's docstring)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _excluded_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
            node, ast.JoinedStr
        ):
            text = _template(node)
            if reads_as_message(text) and text not in NOT_MESSAGES:
                yield text


def source_files(names: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        path = ROOT / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [p for p in found if p.relative_to(ROOT).as_posix() not in NOT_MESSAGE_FILES]


# --- marshmallow's messages ----------------------------------------------------------------


def _validator_messages(validator: object) -> Iterator[str]:
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


def _field_messages(field: fields.Field, seen: set[int]) -> Iterator[str]:
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


def _schema_messages(schema: Schema, seen: set[int]) -> Iterator[str]:
    if id(type(schema)) in seen:
        return
    seen.add(id(type(schema)))
    yield from schema.error_messages.values()
    for field in schema.fields.values():
        yield from _field_messages(field, seen)


def marshmallow_messages() -> set[str]:
    found: set[str] = set()
    seen: set[int] = set()
    modules = [schemas] + [
        importlib.import_module(f"schemas.{info.name}")
        for info in pkgutil.iter_modules(schemas.__path__)
    ]
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Schema) and cls.__module__ == module.__name__:
                found.update(_schema_messages(cls(), seen))
    return {m for m in found if m}


def server_messages() -> set[str]:
    found = set(EXTRA_SERVER_MESSAGES)
    found |= marshmallow_messages()
    for path in source_files(SERVER_SOURCES):
        found.update(messages_in(path))
    found.update(spec.message for spec in ERRORS.values())
    return found


# --- field-sync's messages -------------------------------------------------------------------


def cli_messages() -> set[str]:
    """What field_sync/cli.py passes to ``_()`` (its msgids) and to ``_plural()`` (nouns)."""
    tree = ast.parse((ROOT / "field_sync" / "cli.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "_" and node.args:
                assert isinstance(node.args[0], ast.Constant), ast.unparse(node)
                found.add(node.args[0].value)
            elif node.func.id == "_plural":
                found.update(a.value for a in node.args[1:] if isinstance(a, ast.Constant))
    return found


def client_messages_collected() -> set[str]:
    found = set(EXTRA_CLIENT_MESSAGES) | cli_messages()
    for path in source_files(CLIENT_SOURCES):
        found.update(messages_in(path))
    return found


# --- the checks --------------------------------------------------------------------------


def _by_shape(texts: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for text in texts:
        grouped.setdefault(shape(text), []).append(text)
    return grouped


CATALOGUE_CASES = [
    pytest.param(VI, server_messages, id="server"),
    pytest.param(client_messages.VI, client_messages_collected, id="field-sync"),
]


@pytest.mark.parametrize(("entries", "collect"), CATALOGUE_CASES)
def test_every_message_has_a_vietnamese_text(entries, collect):
    known = {shape(msgid) for msgid in entries}
    missing = sorted({shape(text) for text in collect()} - known)
    assert missing == []


@pytest.mark.parametrize(("entries", "collect"), CATALOGUE_CASES)
def test_every_vietnamese_text_belongs_to_a_message(entries, collect):
    collected = {shape(text) for text in collect()}
    unused = sorted(msgid for msgid in entries if shape(msgid) not in collected)
    assert unused == []


@pytest.mark.parametrize(("entries", "collect"), CATALOGUE_CASES)
def test_one_entry_per_message(entries, collect):
    doubled = {s: ids for s, ids in _by_shape(entries).items() if len(ids) > 1}
    assert doubled == {}


VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưạảãàáậầấẩẫắằặẳẵẹẻẽèéệềếểễịỉĩìíọỏõòóộồốổỗớờợởỡụủũùúựừứửữỵỷỹỳý]"
)


# Vietnamese words that happen to carry no diacritic.
PLAIN_WORDS = {"page": "trang", "pages": "trang"}


@pytest.mark.parametrize("entries", [VI, client_messages.VI], ids=["server", "field-sync"])
def test_translations_keep_the_values_and_are_vietnamese(entries):
    for msgid, text in entries.items():
        assert sorted(set(placeholders(text))) == sorted(set(placeholders(msgid))), msgid
        assert text != msgid, msgid
        if PLAIN_WORDS.get(msgid) != text:
            assert VIETNAMESE_LETTERS.search(text.lower()), f"not Vietnamese: {text!r}"
        assert text.strip() == text and "  " not in text, msgid


def test_the_two_catalogues_say_the_same_thing_the_same_way():
    """field-sync keeps its own catalogue (it runs without the server's code); the messages
    both know (the domain's) must read the same on the tablet and from the server."""
    shared = VI.keys() & client_messages.VI.keys()
    assert {"Required.", "Unknown field.", "Log in first (field-sync login)."} - shared == {
        "Log in first (field-sync login)."
    }
    assert [m for m in sorted(shared) if VI[m] != client_messages.VI[m]] == []


def _sample(msgid: str) -> tuple[str, dict[str, str]]:
    values = {name: f"X{n}x" for n, name in enumerate(dict.fromkeys(placeholders(msgid)))}
    return msgid.format_map(values), values


@pytest.mark.parametrize(
    ("entries", "translate_text"),
    [
        pytest.param(VI, lambda text: translate(text, "vi"), id="server"),
        pytest.param(client_messages.VI, client_messages.Messages("vi").translate, id="field-sync"),
    ],
)
def test_each_message_is_recognised_as_itself(entries, translate_text):
    """A formatted message finds its own entry, not a more general one, and its values
    come back in their places."""
    wrong = {}
    for msgid, text in entries.items():
        sample, values = _sample(msgid)
        expected = text.format_map(values) if values else text
        if translate_text(sample) != expected:
            wrong[msgid] = translate_text(sample)
    assert wrong == {}


# --- the matcher ---------------------------------------------------------------------------


def test_templates_become_patterns():
    pattern = compile_template("Must be a number from -{bound} to {bound}, or null.")
    assert pattern.fullmatch("Must be a number from -90 to 90, or null.")
    assert not pattern.fullmatch("Must be a number from -90 to 180, or null.")
    assert compile_template("Unknown unit {ref}.").fullmatch("Unknown unit a.b:c (d).")
    with pytest.raises(ValueError):
        compile_template("Bad {0} placeholder.")


def test_translate_fills_the_values_in():
    assert translate("Unknown unit gso-2020:99.", "vi") == "Không có đơn vị gso-2020:99."
    assert translate("Unknown unit gso-2020:99.", "en") == "Unknown unit gso-2020:99."
    assert translate("Length must be between 1 and 36.", "vi") == ("Độ dài phải từ 1 đến 36.")
    # A value that is itself a message is translated too.
    assert translate("Invalid hlc: Must have the form <ms>-<counter>-<node>.", "vi") == (
        "hlc không hợp lệ: Phải có dạng <ms>-<counter>-<node>."
    )


def test_an_unknown_text_stays_as_it_is():
    assert translate("Something nobody wrote down.", "vi") == "Something nobody wrote down."
    assert translate("Required.", "fr") == "Required."


def test_field_errors_are_translated_keys_untouched():
    errors = {"units": {0: ["Use scheme:code."]}, "_schema": ["Unknown field."], "n": 3}
    assert translate_errors(errors, "vi") == {
        "units": {0: ["Dùng dạng scheme:code."]},
        "_schema": ["Trường không xác định."],
        "n": 3,
    }
    assert translate_errors(errors, "en") is errors


def test_push_results_are_translated_in_place():
    applied = {"mutation_id": 1, "status": "applied", "id": "x", "version": 1}
    rejected = {
        "mutation_id": 2,
        "status": "rejected",
        "id": "y",
        "code": "validation_failed",
        "message": "The visit is invalid.",
        "errors": {"outcome": ["Required."]},
    }
    assert translate_result(applied, "vi") is applied
    shown = translate_result(rejected, "vi")
    assert list(shown) == list(rejected)
    assert shown["message"] == "Lượt thăm hộ không hợp lệ."
    assert shown["errors"] == {"outcome": ["Bắt buộc phải có."]}
    assert rejected["message"] == "The visit is invalid."  # the ledger's copy is untouched
    assert translate_result(rejected, "en") is rejected


def test_stored_rejections_are_translated_too():
    @dataclass(frozen=True)
    class Rejection:
        code: str
        message: str
        errors: dict
        result: dict

    stored = Rejection(
        "validation_failed",
        "The counts do not add up.",
        {"adults": ["Give all six counts or none."]},
        {"status": "rejected", "message": "Household 7 is unknown."},
    )
    shown = translate_result(stored, "vi")
    assert shown == Rejection(
        "validation_failed",
        "Các số liệu không khớp nhau.",
        {"adults": ["Hãy nhập đủ cả sáu số liệu hoặc bỏ trống tất cả."]},
        {"status": "rejected", "message": "Không có hộ 7."},
    )
    assert translate_results([stored], "en") == [stored]


def test_the_english_catalogue_is_the_msgids():
    assert CATALOGUES["en"].entries == {}
    assert CATALOGUES["vi"].template("validation_failed") == "validation_failed"
