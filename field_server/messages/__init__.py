"""Every message the server sends, in each language it speaks, and the one way to translate.

One answer speaks one language (docs/errors.md): the envelope's ``message``, its field
errors and the messages inside a push's results. Messages are written in English where they
arise — the domain's rules, marshmallow, the schemas, the services, the error registry — and
translated here, at the edge, once the answer's language is known: ``error_response``
translates the envelope; the views that return push results or stored rejections call
``translate_result`` / ``translate_results``.

English is the source language: a message's English text is its key (its msgid), so the
English catalogue is empty and ``vi.py`` maps each msgid to its Vietnamese text. A message
formatted with values ("Unknown unit gso-2020:99.") is keyed by its template with named
placeholders ("Unknown unit {ref}."): each template is compiled once into a pattern, and a
text that matches it gets the translation with the same values put back — each value
translated in turn when it is itself a message ("Invalid hlc: {message}"). A text that no
entry knows is returned as it is: better English than nothing, and
tests/unit/test_catalogues.py fails when a message the server can produce has no entry.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from .vi import VI

LANGUAGES = ("vi", "en")
_FORMATTER = string.Formatter()
_Result = TypeVar("_Result")


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


CATALOGUES: dict[str, Catalogue] = {
    "en": Catalogue("en", {}),
    "vi": Catalogue("vi", VI),
}


def catalogue(language: str) -> Catalogue:
    """The catalogue of a language; English (the msgids themselves) for an unknown one."""
    return CATALOGUES.get(language) or CATALOGUES["en"]


def translate(text: str, language: str) -> str:
    """One message in ``language``; a text no entry knows comes back as it is."""
    if language == "en":
        return text
    return catalogue(language).translate(text)


def translate_errors(errors: Any, language: str) -> Any:
    """A field-error map (dicts and lists of messages, nested as marshmallow nests them)
    with every message translated; keys and anything that is not text stay as they are."""
    if language == "en":
        return errors
    if isinstance(errors, str):
        return translate(errors, language)
    if isinstance(errors, Mapping):
        return {key: translate_errors(value, language) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [translate_errors(value, language) for value in errors]
    return errors


def translate_result(result: _Result, language: str) -> _Result:
    """A push result, or a stored rejection, with its ``message`` and ``errors`` translated
    (and the push ``result`` a re-applied rejection carries). A dict gives a dict with its
    keys in the same order; a dataclass (services/rejections.py's ``Rejection``) a copy.

    Results keep their English in the ledger (a replay is translated again, into the
    language of the answer it is part of); the same object comes back when there is nothing
    to translate, so the applied results of a big batch cost nothing."""
    if language == "en":
        return result
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        changes = _translated_parts(vars(result), language)
        return dataclasses.replace(result, **changes) if changes else result
    if isinstance(result, dict):
        changes = _translated_parts(result, language)
        # A dict of the same keys: the caller's type still describes it.
        return cast(_Result, {**result, **changes}) if changes else result
    return result


def _translated_parts(values: Mapping[str, Any], language: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if isinstance(values.get("message"), str):
        changes["message"] = translate(values["message"], language)
    if values.get("errors"):
        changes["errors"] = translate_errors(values["errors"], language)
    if isinstance(values.get("result"), dict):
        changes["result"] = translate_result(values["result"], language)
    return changes


def translate_results(results: Sequence[_Result], language: str) -> list[_Result]:
    """``translate_result`` over a push answer's ``results`` or a page of rejections."""
    return [translate_result(result, language) for result in results]
