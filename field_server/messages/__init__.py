"""Every message the server sends, in each language it speaks, and the one way to translate.

One answer speaks one language (docs/errors.md): the envelope's ``message``, its field
errors and the messages inside a push's results. Messages are written in English where they
arise — the domain's rules, marshmallow, the schemas, the services, the error registry — and
translated here, at the edge, once the answer's language is known: ``error_response``
translates the envelope; the views that return push results or stored rejections call
``translate_result`` / ``translate_results``.

English is the source language: a message's English text is its key (its msgid), so
English needs no catalogue. The Vietnamese texts are gettext catalogues, compiled and read
once, here, with no request around (the API translates outside the pages' rendering): the
server's, field_server/translations/vi/LC_MESSAGES/messages.po, which also holds the pages'
texts, and the domain's, domain/translations/vi/LC_MESSAGES/domain.po, which holds the
messages written in domain/ (field-sync shows them too). ``pybabel extract`` finds every
message through the extraction methods of ``extract.py`` (docs/web.md, Translations).

A message formatted with values ("Unknown unit gso-2020:99.") is keyed by its template with
named placeholders ("Unknown unit {ref}."): each template is compiled once into a pattern,
and a text that matches it gets the translation with the same values put back, each value
translated in turn when it is itself a message ("Invalid hlc: {message}"). A text that no
entry knows is returned as it is: better English than nothing, and
tests/unit/test_catalogues.py fails when a message the server can produce has no entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from domain.messages import (
    Catalogue,
    compile_template,
    domain_entries,
    placeholders,
    read_catalogue,
)

LANGUAGES = ("vi", "en")
# The server's catalogues: <language>/LC_MESSAGES/messages.mo, package data (setup.cfg).
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
__all__ = ["VI", "Catalogue", "compile_template", "placeholders"]
_Result = TypeVar("_Result")


def entries(language: str) -> dict[str, str]:
    """Every translation into ``language`` the server has: the domain's and its own."""
    own = read_catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo")
    return {**domain_entries(language), **own}


VI = entries("vi")
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
