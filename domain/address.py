"""Vietnamese address normalisation, for spotting one household entered twice (docs/sync-protocol.md
``possible_duplicate``: a new household whose normalised address equals one already in the
same ward).

``normalise_address`` changes only the *form* of an address, never what it names:

- Unicode NFC, lowercase, one space between words; the tone of ``oa``/``oe``/``uy`` at a
  word's end written on the first vowel (``hoà`` and ``hòa``, ``thuỷ`` and ``thủy`` are one
  word typed two ways; ``hòa``/``thủy`` is kept);
- punctuation is only a separator: commas, dots, brackets, quotes and free-standing dashes
  and slashes go; a slash or dash touching a number joins a house path (``12 / 34`` and
  ``12/034`` are ``12/34``; ``12 - 14`` is ``12-14``) and is kept as one token; leading
  zeros of numbers go (``tổ 05`` is ``tổ 5``);
- the usual abbreviations become one canonical word (see ``_DOTTED``, ``_GLUED`` and
  ``_WORDS``): ``ng. 34`` is ``ngõ 34``, ``P. Hiến Nam`` is ``phường hiến nam``, ``Q.1`` is
  ``quận 1``, ``TDP 3`` and ``tổ dân phố 3`` are ``tổ 3``, ``K54/12`` (Đà Nẵng, Huế) is
  ``kiệt 54/12``. A one-letter abbreviation is expanded only where it is one: a standalone
  letter with a dot (or glued to a number), never inside a word. Diacritic-less keywords
  (``so``, ``ngo``, ``hem``, ``to`` …) are expanded only before a number, because ``Ngo
  Quyen`` is a street (Ngô Quyền), not a lane;
- a house-number label is dropped before its number: ``Số 12``, ``SN 12``, ``số nhà 12``,
  ``so nha 12`` and ``12`` are all ``12`` (and ``đường số 7`` is ``đường 7``), since
  "number 12" and "12" name the same house.

What it keeps: diacritics (Đông Thành and Đông Thạnh are different places; only
``fold_diacritics``, used to find candidates and never to decide, makes them alike); the
kinds of street, which are different things in an address and are never rewritten into one
another (``đường``, ``phố``, ``ngõ``, ``ngách``, ``hẻm`` in the south, ``kiệt`` in Huế and
Đà Nẵng; ``đ.`` is ``đường``, but ``P.`` is ``phường``, never ``phố``); the ward, district and
province names (only their form is normalised); and the order of the parts: Hà Nội's
``số 12 ngõ 34 ngách 5`` and a ``12/34/5`` path are not rewritten into each other, since the
order of the numbers in a path differs from city to city.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Letters and digits as regex classes (any script, so Vietnamese letters count).
_ALNUM = r"[^\W_]"
_START = rf"(?<!{_ALNUM})"  # not preceded by a letter or digit: the start of a word
_END = rf"(?!{_ALNUM})"  # not followed by one: the end of a word

# Characters written several ways: the Icelandic eth for đ, dashes, no-break spaces.
_CHARACTERS = str.maketrans(
    {
        "\u00d0": "\u0110",  # Ð -> Đ
        "\u00f0": "\u0111",  # ð -> đ
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u00a0\u2007\u202f\u3000", " "),
        "\uff0c": ",",
        "\uff0f": "/",
    }
)

# Old-style tone placement at a word's end -> tone on the first vowel.
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng


def _toned(letter: str) -> list[str]:
    return [unicodedata.normalize("NFC", letter + tone) for tone in _TONES]


_TONE_MOVES: dict[str, str] = {}
for _first, _second in (("o", "a"), ("o", "e"), ("u", "y")):
    for _a, _b in zip(_toned(_second), _toned(_first), strict=True):
        _TONE_MOVES[_first + _a] = _b + _second
# "uy" after q is the vowel y ("quý"), whose tone is on y in both styles.
_TONE_PATTERN = re.compile(
    "(?:" + "|".join(k for k in _TONE_MOVES if k[0] == "o") + ")" + _END
    + "|(?<!q)(?:" + "|".join(k for k in _TONE_MOVES if k[0] == "u") + ")" + _END
)  # fmt: skip

# Abbreviations written with a dot, glued to what follows or not: abbreviation ->
# (word before a number, word before a name). None: leave it alone in that place.
_DOTTED: dict[str, tuple[str | None, str | None]] = {
    "sn": ("số", None),
    "ng": ("ngõ", None),  # "Ng. Trãi" is a name (Nguyễn Trãi), not a lane
    "ngh": ("ngách", None),
    "k": ("kiệt", None),
    "h": ("hẻm", "huyện"),  # lanes are numbered, districts (huyện) are named
    "đ": ("đường", "đường"),
    "d": ("đường", "đường"),
    "p": ("phường", "phường"),
    "f": ("phường", None),  # Sài Gòn's old "F.12"
    "q": ("quận", "quận"),
    "t": ("tổ", "tỉnh"),
    "tdp": ("tổ", "tổ"),
    "kp": ("khu phố", "khu phố"),
    "x": (None, "xã"),
    "tx": (None, "thị xã"),
    "tp": (None, "thành phố"),
}
_DOTTED_PATTERN = re.compile(
    _START + "(" + "|".join(sorted(_DOTTED, key=len, reverse=True)) + r")\.\s*(?=(\d)|\w)"
)

# Abbreviations glued to a number without a dot ("P12", "Q1", "K54/12", "tdp5").
_GLUED = {"p": "phường", "f": "phường", "q": "quận", "k": "kiệt", "sn": "số"}
_GLUED |= {"tdp": "tổ", "kp": "khu phố"}
_GLUED_PATTERN = re.compile(
    _START + "(" + "|".join(sorted(_GLUED, key=len, reverse=True)) + r")(?=\d)"
)

# Whole words and phrases -> canonical words. The first table applies everywhere, the
# second (diacritic-less or one-letter forms) only before a number.
_WORDS: dict[str, str] = {
    "số nhà": "số",
    "nhà số": "số",
    "tổ dân phố": "tổ",
    "tổ dp": "tổ",
    "tdp": "tổ",
    "kp": "khu phố",
    "tx": "thị xã",
    "tp": "thành phố",
    "tphcm": "thành phố hồ chí minh",
    "hcm": "hồ chí minh",
}
_WORDS_BEFORE_NUMBER: dict[str, str] = {
    "so nha": "số",
    "nha so": "số",
    "sn": "số",
    "so": "số",
    "ngo": "ngõ",
    "ngach": "ngách",
    "hem": "hẻm",
    "kiet": "kiệt",
    "to dan pho": "tổ",
    "to": "tổ",
    "khu pho": "khu phố",
    "thon": "thôn",
    "xom": "xóm",
    "ap": "ấp",
    "phuong": "phường",
    "p": "phường",
    "quan": "quận",
    "q": "quận",
    "duong": "đường",
}


def _alternatives(words: dict[str, str]) -> str:
    # Longest first, so that "số nhà" wins over "số"; spaces match any spacing.
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len)[::-1])


_WORDS_PATTERN = re.compile(_START + "(" + _alternatives(_WORDS) + ")" + _END)
_BEFORE_NUMBER_PATTERN = re.compile(
    _START + "(" + _alternatives(_WORDS_BEFORE_NUMBER) + r")\s*(?=\d)"
)
_NUMBER_WORD = "số"
_NUMBER_LABEL = re.compile(_START + _NUMBER_WORD + r"\s+(?=\d)")

# House paths and ranges: a slash with a number on one side joins its neighbours, spaces or
# not ("12 / 34", "12a/3"); a dash does between two numbers ("12 - 14"), or unspaced with a
# number on one side ("A-12"). Any other slash or dash separates ("Văn Giang - Hưng Yên").
_SLASH = re.compile(rf"(?<=\d)\s*/\s*(?={_ALNUM})|(?<={_ALNUM})\s*/\s*(?=\d)")
_DASH = re.compile(r"(?<=\d)\s*-\s*(?=\d)")
_PUNCTUATION = re.compile(r"[^\w\s/-]|_")
_LOOSE_JOINER = re.compile(rf"(?<!\d)[/-](?!\d)|(?<!{_ALNUM})[/-]|[/-](?!{_ALNUM})")
_LEADING_ZEROS = re.compile(_START + r"0+(?=\d)")
_SPACES = re.compile(r"\s+")


def _one_word(words: dict[str, str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return words[_SPACES.sub(" ", match.group(1))] + " "

    return replace


def _dotted(match: re.Match[str]) -> str:
    before_number, before_name = _DOTTED[match.group(1)]
    word = before_number if match.group(2) else before_name
    return match.group(0) if word is None else word + " "


def _tone_moved(match: re.Match[str]) -> str:
    return _TONE_MOVES[match.group(0)]


def _glued(match: re.Match[str]) -> str:
    return _GLUED[match.group(1)] + " "


_word_before_number = _one_word(_WORDS_BEFORE_NUMBER)
_word = _one_word(_WORDS)

# Characters without which a step cannot match: the step is skipped when the text has
# none of them (most addresses have no slash, dash, dot or old-style tone), since every
# pattern costs a scan of the whole text. Normalising runs at least twice per address.
_TRANSLATED = frozenset(map(chr, _CHARACTERS))
_TONED = frozenset(key[1] for key in _TONE_MOVES)


def normalise_address(text: str) -> str:
    """One canonical spelling of an address (the rules are in the module docstring)."""
    value = _normalise_once(text)
    # A rewrite can make a new match ("số số 5": dropping one label shows the other), so
    # repeat to a fixed point: normalising a normalised address changes nothing.
    for _ in range(_MAX_PASSES):
        again = _normalise_once(value)
        if again == value:
            break
        value = again
    return value


_MAX_PASSES = 5


def _normalise_once(text: str) -> str:
    value = unicodedata.normalize("NFC", text)
    if not _TRANSLATED.isdisjoint(value):
        value = value.translate(_CHARACTERS)
    value = value.lower()
    if not _TONED.isdisjoint(value):
        value = _TONE_PATTERN.sub(_tone_moved, value)
    value = _SPACES.sub(" ", value)
    if "/" in value:
        value = _SLASH.sub("/", value)
    if "-" in value:
        value = _DASH.sub("-", value)
    if "." in value:
        value = _DOTTED_PATTERN.sub(_dotted, value)
    value = _GLUED_PATTERN.sub(_glued, value)
    value = _PUNCTUATION.sub(" ", value)
    if "/" in value or "-" in value:
        value = _LOOSE_JOINER.sub(" ", value)
    value = _BEFORE_NUMBER_PATTERN.sub(_word_before_number, value)
    value = _WORDS_PATTERN.sub(_word, value)
    if _NUMBER_WORD in value:
        value = _NUMBER_LABEL.sub("", value)
    if "0" in value:
        value = _LEADING_ZEROS.sub("", value)
    # str.split() splits at exactly the characters \s matches, and drops the ends.
    return " ".join(value.split())


def fold_diacritics(text: str) -> str:
    """The text without diacritics: tone marks and vowel marks (â ă ê ô ơ ư) go, đ becomes
    d. For finding candidate duplicates only (``Đông Thạnh`` folds like ``Đông Thành``,
    and like ``Dong Thanh`` typed without them), never for deciding that two are one."""
    decomposed = unicodedata.normalize("NFD", text)
    # Nonspacing marks, and the few spacing marks that still combine (a Javanese pangkon):
    # nothing that attaches to a letter survives.
    bare = "".join(
        ch
        for ch in decomposed
        if unicodedata.category(ch) != "Mn" and not unicodedata.combining(ch)
    )
    return unicodedata.normalize("NFC", bare.replace("đ", "d").replace("Đ", "D"))
