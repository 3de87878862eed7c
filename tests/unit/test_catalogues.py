"""Every message the server or field-sync can produce has a Vietnamese text, written in
one place, and every Vietnamese text still belongs to a message (so the catalogues cannot
rot).

The messages are collected from where they are written by field_server/messages/extract.py,
the reading ``pybabel extract`` uses too (its docstring says how): marshmallow's messages
for the fields the schemas use, the texts written as messages in domain/, schemas/ and the
server's views, services and auth, the error registry; for field-sync, the messages its
command prints through ``_()`` and the client's errors.

The Vietnamese texts are in three places: the domain's gettext catalogue (the messages
written in domain/, which the server and field-sync both show), the server's (its other
messages, beside the pages' texts) and field_sync/messages.py's ``VI`` (field-sync's own
lines). tests/unit/test_web_translations.py checks that ``pybabel extract`` finds exactly
the entries of each gettext catalogue and that the compiled files say what the sources say.

A message is compared by its shape, its fixed text with every value as ``{}``, so a
catalogue may name the values as it likes ("At most {limit} characters." stands for
``f"At most {MAX_ADDRESS_LENGTH} characters."``).
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import io
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from domain.messages import read_mo
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
from field_server.messages.extract import (
    ROOT,
    domain_messages,
    messages_in,
    server_messages,
    shape,
    source_files,
)
from field_sync import messages as client_messages

DOMAIN_PO = ROOT / "domain" / "translations" / "vi" / "LC_MESSAGES" / "domain.po"
SERVER_PO = ROOT / "field_server" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"

# What a tablet can be told besides the domain's messages: the client's own errors.
CLIENT_SOURCES = ("field_sync/client.py",)
# Messages built in a way the reading cannot see; each says where it comes from.
EXTRA_CLIENT_MESSAGES = {
    "none",  # field_sync/client.py local_status()["cursor"], shown by `field-sync status`
}
__all__ = ["cli_messages", "messages_in"]  # test_field_sync_lang.py reads field-sync's too


def po_entries(path: Path) -> dict[str, str]:
    """A catalogue's translated entries, msgid -> Vietnamese (fuzzy ones are not used)."""
    with path.open("rb") as f:
        return {
            m.id: m.string
            for m in read_po(f)
            if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
        }


DOMAIN_VI = po_entries(DOMAIN_PO)
SERVER_VI = po_entries(SERVER_PO)  # the API's messages and the pages' texts
SERVER_MESSAGE_SHAPES = {shape(text) for text in server_messages()}
# The server catalogue's entries that are API messages (the pages' texts are
# test_web_translations.py's).
API_VI = {m: text for m, text in SERVER_VI.items() if shape(m) in SERVER_MESSAGE_SHAPES}


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


def client_own_messages() -> set[str]:
    found = set(EXTRA_CLIENT_MESSAGES) | cli_messages()
    for path in source_files(CLIENT_SOURCES):
        found.update(messages_in(path))
    return found


def client_messages_collected() -> set[str]:
    """What field-sync can show: its own lines and the domain's messages."""
    return client_own_messages() | domain_messages()


# --- the checks --------------------------------------------------------------------------


def _shapes(texts: Iterable[str]) -> set[str]:
    return {shape(text) for text in texts}


def _by_shape(texts: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for text in texts:
        grouped.setdefault(shape(text), []).append(text)
    return grouped


@pytest.mark.parametrize(
    ("known", "collect"),
    [
        pytest.param(lambda: DOMAIN_VI.keys() | SERVER_VI.keys(), server_messages, id="server"),
        pytest.param(
            lambda: DOMAIN_VI.keys() | client_messages.VI.keys(),
            client_messages_collected,
            id="field-sync",
        ),
    ],
)
def test_every_message_has_a_vietnamese_text(known, collect):
    missing = sorted(_shapes(collect()) - _shapes(known()))
    assert missing == []


@pytest.mark.parametrize(
    ("entries", "collect"),
    [
        pytest.param(DOMAIN_VI, domain_messages, id="domain"),
        pytest.param(client_messages.VI, client_own_messages, id="field-sync"),
    ],
)
def test_every_vietnamese_text_belongs_to_a_message(entries, collect):
    """(The server's catalogue: test_web_translations.py, extraction finds every entry.)"""
    collected = _shapes(collect())
    unused = sorted(msgid for msgid in entries if shape(msgid) not in collected)
    assert unused == []


def test_each_text_is_written_once():
    """The domain's messages are translated in the domain's catalogue only: the server's
    catalogue and field-sync's own do not repeat them."""
    domain = _shapes(DOMAIN_VI)
    assert sorted(m for m in SERVER_VI if shape(m) in domain) == []
    assert sorted(m for m in client_messages.VI if shape(m) in domain) == []


@pytest.mark.parametrize(
    "entries", [DOMAIN_VI, SERVER_VI, client_messages.VI], ids=["domain", "server", "field-sync"]
)
def test_one_entry_per_message(entries):
    doubled = {s: ids for s, ids in _by_shape(entries).items() if len(ids) > 1}
    assert doubled == {}


VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưạảãàáậầấẩẫắằặẳẵẹẻẽèéệềếểễịỉĩìíọỏõòóộồốổỗớờợởỡụủũùúựừứửữỵỷỹỳý]"
)


# Vietnamese words that happen to carry no diacritic.
PLAIN_WORDS = {"page": "trang", "pages": "trang"}


@pytest.mark.parametrize(
    "entries", [DOMAIN_VI, API_VI, client_messages.VI], ids=["domain", "server", "field-sync"]
)
def test_translations_keep_the_values_and_are_vietnamese(entries):
    assert entries
    for msgid, text in entries.items():
        assert sorted(set(placeholders(text))) == sorted(set(placeholders(msgid))), msgid
        assert text != msgid, msgid
        if PLAIN_WORDS.get(msgid) != text:
            assert VIETNAMESE_LETTERS.search(text.lower()), f"not Vietnamese: {text!r}"
        assert text.strip() == text and "  " not in text, msgid


def test_the_server_and_field_sync_say_the_domain_messages_the_same_way():
    """Both read the domain's catalogue: a rejection reads the same on the tablet and from
    the server, values and all."""
    tablet = client_messages.Messages("vi")
    different = {}
    for msgid in DOMAIN_VI:
        sample, _ = _sample(msgid)
        if tablet.translate(sample) != translate(sample, "vi"):
            different[msgid] = (tablet.translate(sample), translate(sample, "vi"))
    assert different == {}
    assert tablet.translate("Household 7 is unknown.") == "Không có hộ 7."
    assert tablet("Log in first (field-sync login).") != "Log in first (field-sync login)."


def _sample(msgid: str) -> tuple[str, dict[str, str]]:
    values = {name: f"X{n}x" for n, name in enumerate(dict.fromkeys(placeholders(msgid)))}
    return msgid.format_map(values), values


@pytest.mark.parametrize(
    ("entries", "translate_text"),
    [
        pytest.param(VI, lambda text: translate(text, "vi"), id="server"),
        pytest.param(
            client_messages.Messages("vi").entries,
            client_messages.Messages("vi").translate,
            id="field-sync",
        ),
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


def test_the_server_speaks_what_its_catalogues_say():
    """The runtime reads the compiled catalogues: every Vietnamese text of the sources."""
    assert {**DOMAIN_VI, **SERVER_VI} == VI


# --- reading the compiled catalogues ----------------------------------------------------------


def test_field_sync_reads_the_domain_catalogue_without_the_server():
    """field-sync runs without the server's code: the domain's catalogue is read without
    Flask, Babel or the server's package."""
    script = (
        "import sys\n"
        "from field_sync.messages import Messages\n"
        "print(Messages('vi').translate('Unknown ward.'))\n"
        "print(sorted(m for m in ('flask', 'flask_babel', 'babel', 'field_server')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out == "Không có xã/phường này.\n[]\n"


def test_a_compiled_catalogue_is_read_as_written():
    catalog = Catalog(locale="vi")
    catalog.add("Unknown ward.", "Không có xã/phường này.")
    catalog.add("No ward {ward}.", "Không có xã/phường {ward}.")
    catalog.add(("One visit", "{n} visits"), ("{n} lượt",))  # plural forms: not used here
    catalog.add("Open", "Mở", context="button")  # a context: not used here
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert read_mo(compiled.getvalue()) == {
        "Unknown ward.": "Không có xã/phường này.",
        "No ward {ward}.": "Không có xã/phường {ward}.",
    }
    with pytest.raises(ValueError):
        read_mo(b"not a catalogue at all")


def test_an_installed_package_carries_the_compiled_catalogues():
    """setup.cfg's package data names every .mo, so a non-editable install finds them."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    package_data: Mapping[str, str] = config["options.package_data"]
    compiled = sorted(ROOT.glob("*/translations/*/LC_MESSAGES/*.mo"))
    assert {p.relative_to(ROOT).parts[0] for p in compiled} == {"domain", "field_server"}
    for path in compiled:
        package, inside = path.relative_to(ROOT).parts[0], path.relative_to(ROOT).parts[1:]
        patterns = package_data.get(package, "").split()
        assert any(fnmatch.fnmatch("/".join(inside), p) for p in patterns), path


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
    assert shown["message"] == "Lượt đến nhà không hợp lệ."
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
