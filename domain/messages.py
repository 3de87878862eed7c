"""Messages written in English, recognised and translated: the one matcher the server's
catalogues (field_server/messages/) and the tablet client's (field_sync/messages.py) share,
and the domain's own catalogue, the Vietnamese of the messages written in domain/.

English is the source language: a message's English text is its key (its msgid). A message
formatted with values ("Unknown unit gso-2020:99.") is keyed by its template with named
placeholders ("Unknown unit {ref}."): each template is compiled once into a pattern, and a
text that matches it gets the translation with the same values put back, each value
translated in turn when it is itself a message ("Invalid hlc: {message}").

The translations are gettext catalogues, compiled (``.mo``) and read here with no gettext
machinery around them (no Flask, no locale): the domain's messages, the ones the server and
field-sync both show, have theirs in domain/translations/<language>/LC_MESSAGES/domain.po,
written once for both (docs/errors.md, Languages).
"""

from __future__ import annotations

import functools
import re
import string
import struct
from collections.abc import Mapping
from pathlib import Path

_FORMATTER = string.Formatter()
# The domain's catalogues: <language>/LC_MESSAGES/domain.mo, package data (setup.cfg).
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
_MO_MAGIC = {0x950412DE: "<", 0xDE120495: ">"}  # the byte order a .mo was written in


def read_mo(data: bytes) -> dict[str, str]:
    """A compiled gettext catalogue's entries, msgid -> translation (UTF-8, as pybabel
    writes them). The header (msgid "") and the entries messages never use here, plural
    forms and those with a context, are left out."""
    order = _MO_MAGIC.get(struct.unpack("<I", data[:4])[0]) if len(data) >= 20 else None
    if order is None:
        raise ValueError("not a compiled gettext catalogue (.mo)")
    count, originals, translations = struct.unpack(order + "3I", data[8:20])
    entries: dict[str, str] = {}
    for index in range(count):
        length, start = struct.unpack_from(order + "2I", data, originals + 8 * index)
        msgid = data[start : start + length].decode()
        length, start = struct.unpack_from(order + "2I", data, translations + 8 * index)
        if msgid and "\x00" not in msgid and "\x04" not in msgid:
            entries[msgid] = data[start : start + length].decode()
    return entries


def read_catalogue(path: Path) -> dict[str, str]:
    """The entries of the compiled catalogue at ``path``; none when there is no such file
    (English needs none: its texts are the msgids)."""
    try:
        return read_mo(path.read_bytes())
    except FileNotFoundError:
        return {}


@functools.cache
def domain_entries(language: str) -> Mapping[str, str]:
    """The translations of the domain's messages into ``language`` (read once)."""
    return read_catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "domain.mo")


def placeholders(template: str) -> list[str]:
    """The placeholder names of a template, in order (a repeated one repeats)."""
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]


def compile_template(msgid: str) -> re.Pattern[str]:
    """The pattern of the texts a template produces: its fixed text, a group per value."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, name, _, _ in _FORMATTER.parse(msgid):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} in {msgid!r} is not a name")
        # A value named twice ("from -{bound} to {bound}") must be the same text twice.
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


def _fixed_length(msgid: str) -> int:
    return sum(len(literal) for literal, _, _, _ in _FORMATTER.parse(msgid))


class Catalogue:
    """One language's messages: msgid (English text or template) -> translation."""

    def __init__(self, language: str, entries: Mapping[str, str]) -> None:
        self.language = language
        self.entries = dict(entries)
        templates = []
        for msgid, translation in self.entries.items():
            if not placeholders(msgid):
                continue
            if not _fixed_length(msgid):
                raise ValueError(f"template {msgid!r} has no fixed text to recognise it by")
            templates.append((_fixed_length(msgid), compile_template(msgid), translation))
        # The template with the most fixed text is the most specific: it is tried first, so
        # "{message} Log in again." never swallows a text another template knows better.
        templates.sort(key=lambda item: -item[0])
        self._templates = [(pattern, translation) for _, pattern, translation in templates]
        # Answers repeat the same few messages (one per rejected mutation of a batch).
        self.translate = functools.lru_cache(maxsize=4096)(self._translate)

    def template(self, msgid: str) -> str:
        """The translation of a msgid itself (placeholders unfilled), or the msgid."""
        return self.entries.get(msgid, msgid)

    def _translate(self, text: str) -> str:
        exact = self.entries.get(text)
        if exact is not None:
            return exact
        for pattern, translation in self._templates:
            match = pattern.fullmatch(text)
            if match is not None:
                values = {name: self.translate(value) for name, value in match.groupdict().items()}
                return translation.format_map(values)
        return text
