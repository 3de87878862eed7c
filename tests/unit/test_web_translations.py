"""The gettext catalogues (docs/web.md, Translations): every text translated, the compiled
files current, and ``pybabel extract`` finding every entry, so that the documented
``pybabel update`` keeps them all.

Two catalogues: the server's, field_server/translations/ (the pages' texts and the API's
messages, extracted as babel.cfg says), and the domain's, domain/translations/ (the messages
written in domain/, extracted as domain/babel.cfg says).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "field_server" / "translations" / "vi" / "LC_MESSAGES" / "messages"
DOMAIN = ROOT / "domain" / "translations" / "vi" / "LC_MESSAGES" / "domain"
CATALOGUES = [
    pytest.param(SERVER, ROOT / "babel.cfg", id="server"),
    pytest.param(DOMAIN, ROOT / "domain" / "babel.cfg", id="domain"),
]
PAGE_METHODS = ("python", "jinja2")


def extracted(mapping: Path, methods: tuple[str, ...] | None = None) -> set[str]:
    """What ``pybabel extract -F mapping .`` finds (only the given methods' when named)."""
    with mapping.open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(mapping))
    if methods is not None:
        method_map = [(p, m) for p, m in method_map if m in methods or m == "ignore"]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(base: Path) -> dict[str, str]:
    with base.with_suffix(".po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


def test_every_text_of_the_pages_has_a_vietnamese_translation():
    texts = extracted(ROOT / "babel.cfg", PAGE_METHODS)
    assert len(texts) > 50
    assert sorted(texts - catalogue(SERVER).keys()) == []


@pytest.mark.parametrize(("base", "mapping"), CATALOGUES)
def test_extraction_finds_every_entry_and_nothing_untranslated(base, mapping):
    """``pybabel update`` marks obsolete what extraction did not find, and adds empty
    entries for what the catalogue lacks: both sides must be empty (the pages' texts
    lacking a translation are the test above's)."""
    texts = extracted(mapping)
    translated = catalogue(base)
    assert len(texts) > 100
    pages = extracted(mapping, PAGE_METHODS)
    assert sorted(texts - pages - translated.keys()) == []
    assert sorted(translated.keys() - texts) == []


@pytest.mark.parametrize(("base", "mapping"), CATALOGUES)
def test_the_compiled_catalogue_says_what_the_po_says(base, mapping):
    with base.with_suffix(".po").open("rb") as f:
        source = {m.id: m.string for m in read_po(f) if m.id}
    compiled = {
        m.id: m.string for m in read_mo(io.BytesIO(base.with_suffix(".mo").read_bytes())) if m.id
    }
    assert compiled == source
