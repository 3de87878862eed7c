"""The web pages' Vietnamese catalogue: every text translated, the compiled file current."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "field_server" / "translations" / "vi" / "LC_MESSAGES"
METHODS = [
    ("field_server/web/**.py", "python"),
    ("field_server/web/templates/**.html", "jinja2"),
]


def texts_in_the_pages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHODS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_text_of_the_pages_has_a_vietnamese_translation():
    with open(CATALOGUE / "messages.po", "rb") as f:
        catalogue = read_po(f)
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    texts = texts_in_the_pages()
    assert len(texts) > 50
    assert sorted(texts - translated) == []


def test_the_compiled_catalogue_says_what_the_po_says():
    with open(CATALOGUE / "messages.po", "rb") as f:
        source = {m.id: m.string for m in read_po(f) if m.id}
    compiled = {
        m.id: m.string
        for m in read_mo(io.BytesIO((CATALOGUE / "messages.mo").read_bytes()))
        if m.id
    }
    assert compiled == source
