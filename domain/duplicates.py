"""Near-duplicate households (docs/api-conflicts.md, the supervisors' /duplicates page): which pairs
of households of one ward may be one household entered twice, with a score and the reasons.

Nothing here merges anything: it only suggests, and a supervisor decides (POST
/households/{id}/merge, or leaves the pair alone).

Addresses are compared in their normalised form (domain/address.py), which keeps diacritics:
``Đông Thành`` and ``Đông Thạnh`` are different places. Folding the diacritics away is used
only to line words up: a word typed without any marks (``Dong``) matches the marked word it
folds to (``Đông``), while two *differently marked* words that fold alike (``Thành`` and
``Thạnh``) mark the addresses as different. House and lane numbers must be the same on
both sides (``12 ngõ 34`` and ``14 ngõ 34`` are neighbours, not one house); what remains is
compared with rapidfuzz's token set ratio, so a missing keyword or a district name added at
the end does not hide a duplicate.

Candidate pairs are found without comparing every household with every other (a ward holds
thousands): addresses are blocked by their numbers, positions by a grid of cells as wide as
the "near" distance, and only households in one block (or neighbouring cells) are compared.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from .address import fold_diacritics as _fold_text
from .rules import distance_m

# Words recur across a ward's addresses: fold each once.
fold_diacritics = functools.lru_cache(maxsize=65536)(_fold_text)

# An address pair at or above this token set ratio (0-100) is "similar_address".
ADDRESS_THRESHOLD = 90.0
# First positions at most this far apart are "near".
NEAR_METRES = 15.0
# A block of more households than this shares an address (or a spot) that names a hamlet or
# a default position, not a house: it is split by its rarest words, and skipped when still
# too large, so that one such block cannot make the comparison quadratic.
MAX_BLOCK = 50
# Score weights (they add up to 1): the address, the distance, the head of household's name.
ADDRESS_WEIGHT, NEAR_WEIGHT, HEAD_WEIGHT = 0.7, 0.2, 0.1

# Two differing words at least this alike (rapidfuzz ratio, 0-100) are one word mistyped.
TYPO_RATIO = 70.0
# The kinds of street and of unit in a normalised address: structure, not names.
KEYWORDS = frozenset(
    {"số", "đường", "phố", "ngõ", "ngách", "hẻm", "kiệt", "tổ", "thôn", "xóm", "ấp", "khu"}
    | {"phường", "xã", "quận", "huyện", "tỉnh"}
)

REASONS = ("same_address", "similar_address", "near", "same_head_name")
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Candidate:
    """One household as the duplicate rules see it."""

    id: str
    address_norm: str
    first_pos: tuple[float, float] | None = None
    head_name: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """Two households that may be one: ``a`` < ``b`` by id."""

    a: str
    b: str
    score: float  # 0..1, higher is likelier
    reasons: tuple[str, ...]
    address_similarity: float  # 0..1
    distance_m: float | None


_DIGIT = re.compile(r"\d")


def _has_digit(token: str) -> bool:
    return _DIGIT.search(token) is not None


@functools.lru_cache(maxsize=65536)
def _parts(address_norm: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tokens, sorted number tokens) of a normalised address: each address is compared
    with several others, so it is split once."""
    tokens = tuple(address_norm.split())
    return tokens, tuple(sorted(t for t in tokens if _has_digit(t)))


def _is_bare(word: str) -> bool:
    """A word typed without any diacritics."""
    return fold_diacritics(word) == word


def _reconcile(words_a: list[str], words_b: list[str]) -> tuple[list[str], list[str]] | None:
    """Line up words that differ only by missing diacritics (one side bare): they become
    the marked form on both sides. None when a pair of words folds alike but both carry
    (different) marks: the two addresses name different places."""
    present_b = set(words_b)
    marked_b: dict[str, str] = {}
    for word in words_b:
        marked_b.setdefault(fold_diacritics(word), word)
    present_a = set(words_a)
    marked_a: dict[str, str] = {}
    for word in words_a:
        marked_a.setdefault(fold_diacritics(word), word)

    def align(word: str, present: set[str], marked: dict[str, str]) -> str | None:
        if word in present:
            return word
        other = marked.get(fold_diacritics(word))
        if other is None:
            return word
        if _is_bare(word):
            return other
        if _is_bare(other):
            return word
        return None  # Thành against Thạnh

    out_a: list[str] = []
    for word in words_a:
        aligned = align(word, present_b, marked_b)
        if aligned is None:
            return None
        out_a.append(aligned)
    out_b: list[str] = []
    for word in words_b:
        aligned = align(word, present_a, marked_a)
        if aligned is None:
            return None
        out_b.append(aligned)
    return out_a, out_b


def _substituted(words_a: list[str], words_b: list[str]) -> bool:
    """True when a name word of one address stands where the other has a different one
    (``Lê Lợi`` against ``Lê Lai``): another street, however much else is shared. A word
    missing on one side (a keyword, a district added at the end) or a typo (``Hiến`` and
    ``Hiếm``) is not one. Keywords (the kinds of street and unit) are left out."""
    only_a = [w for w in words_a if w not in set(words_b) and w not in KEYWORDS]
    only_b = [w for w in words_b if w not in set(words_a) and w not in KEYWORDS]
    if not only_a or not only_b:
        return False
    return any(max(fuzz.ratio(w, other) for other in only_b) < TYPO_RATIO for w in only_a)


def address_similarity(a_norm: str, b_norm: str) -> float:
    """How alike two normalised addresses are, 0..1 (1 for the same address).

    Below 1 unless the addresses are the same. 0 when their numbers differ (as
    multisets), when two words fold alike but are marked differently, or when a name word
    stands where the other has a different one; otherwise the token set ratio of the
    words, diacritic-less words lined up with the marked ones they fold to.
    """
    if a_norm == b_norm:
        return 1.0
    (tokens_a, numbers_a), (tokens_b, numbers_b) = _parts(a_norm), _parts(b_norm)
    if numbers_a != numbers_b:
        return 0.0
    aligned = _reconcile(list(tokens_a), list(tokens_b))
    if aligned is None:
        return 0.0
    left, right = (" ".join(words) for words in aligned)
    if left == right:
        return 1.0
    if _substituted(*aligned):
        return 0.0
    # A subset scores 100 in the token set ratio; only one address is quite the same.
    return round(min(fuzz.token_set_ratio(left, right), 99.0) / 100.0, 4)


def same_name(a: str | None, b: str | None) -> bool:
    """Two heads of household with the same name (case, spacing and Unicode form aside;
    diacritics count, except that a name typed without any matches its marked form)."""
    if not a or not b:
        return False
    left, right = (" ".join(unicodedata.normalize("NFC", n).lower().split()) for n in (a, b))
    if left == right:
        return True
    aligned = _reconcile(left.split(), right.split())
    return aligned is not None and aligned[0] == aligned[1]


def score_pair(a: Candidate, b: Candidate) -> Suggestion | None:
    """The suggestion for two households, or None when nothing makes them alike.

    A pair is suggested when its addresses are the same (``same_address``) or similar
    (``similar_address``, at least ADDRESS_THRESHOLD), or when its first positions are at
    most NEAR_METRES apart (``near``) and its heads of household have the same name
    (``same_head_name``), which otherwise only adds to the score.

    score = 0.7 × address similarity (when same or similar) + 0.2 × closeness (1 at the
    same spot, 0 at NEAR_METRES) + 0.1 × same head's name.
    """
    if a.id == b.id:
        return None
    if a.id > b.id:
        a, b = b, a
    similarity = address_similarity(a.address_norm, b.address_norm)
    reasons: list[str] = []
    if a.address_norm == b.address_norm:
        reasons.append("same_address")
    elif similarity * 100 >= ADDRESS_THRESHOLD:
        reasons.append("similar_address")
    head = same_name(a.head_name, b.head_name)
    # In a dense alley every door is within a few metres of the next: a position alone is
    # no reason, it takes the same address or the same head's name beside it.
    if not reasons and not head:
        return None
    distance = None
    if a.first_pos is not None and b.first_pos is not None:
        distance = distance_m(*a.first_pos, *b.first_pos)
    near = distance is not None and distance <= NEAR_METRES
    if near:
        reasons.append("near")
    if not reasons:
        return None
    if head:
        reasons.append("same_head_name")
    address_part = similarity if reasons[0] in ("same_address", "similar_address") else 0.0
    near_part = 1.0 - distance / NEAR_METRES if near and distance is not None else 0.0
    score = ADDRESS_WEIGHT * address_part + NEAR_WEIGHT * near_part + HEAD_WEIGHT * head
    return Suggestion(
        a=a.id,
        b=b.id,
        score=round(score, 4),
        reasons=tuple(reasons),
        address_similarity=similarity,
        distance_m=round(distance, 1) if distance is not None else None,
    )


# --- candidate generation ----------------------------------------------------------------


def _pairs_within(ids: list[str], pairs: set[tuple[str, str]]) -> None:
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            pairs.add((first, second) if first < second else (second, first))


def _address_pairs(candidates: list[Candidate], pairs: set[tuple[str, str]]) -> None:
    """Pairs sharing their numbers (a requirement of address similarity); an oversize block
    is split by each member's two rarest folded words, which two similar addresses share."""
    blocks: dict[tuple[str, ...], list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        blocks[_parts(candidate.address_norm)[1]].append(candidate)
    for members in blocks.values():
        if len(members) <= MAX_BLOCK:
            _pairs_within([m.id for m in members], pairs)
            continue
        words = {
            m.id: sorted({fold_diacritics(t) for t in m.address_norm.split() if not _has_digit(t)})
            for m in members
        }
        frequency = Counter(w for ws in words.values() for w in ws)
        sub: dict[str, list[str]] = defaultdict(list)
        for member_id, ws in words.items():
            for word in sorted(ws, key=lambda w: (frequency[w], w))[:2]:
                sub[word].append(member_id)
        for ids in sub.values():
            if len(ids) <= MAX_BLOCK:
                _pairs_within(ids, pairs)


def _position_pairs(candidates: list[Candidate], pairs: set[tuple[str, str]]) -> None:
    """Pairs in the same or neighbouring grid cells; cells are at least NEAR_METRES wide
    everywhere in the set, so two near positions are always in neighbouring cells."""
    placed = [(c.id, c.first_pos) for c in candidates if c.first_pos is not None]
    if not placed:
        return
    widest = max(abs(lat) for _, (lat, _lon) in placed)
    dlat = NEAR_METRES / _METRES_PER_DEGREE
    dlon = NEAR_METRES / (_METRES_PER_DEGREE * max(math.cos(math.radians(widest)), 0.01))
    cells: dict[tuple[int, int], list[str]] = defaultdict(list)
    for candidate_id, (lat, lon) in placed:
        cells[(math.floor(lat / dlat), math.floor(lon / dlon))].append(candidate_id)
    for (row, col), ids in cells.items():
        if len(ids) > MAX_BLOCK:
            continue
        _pairs_within(ids, pairs)
        for d_row, d_col in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each neighbour pair once
            others = cells.get((row + d_row, col + d_col))
            if not others or len(others) > MAX_BLOCK:
                continue
            for first in ids:
                for second in others:
                    pairs.add((first, second) if first < second else (second, first))


def candidate_pairs(candidates: Iterable[Candidate]) -> set[tuple[str, str]]:
    """The pairs worth scoring (each as (smaller id, larger id)): at most about
    MAX_BLOCK comparisons per household, whatever the ward's size."""
    members = list(candidates)
    pairs: set[tuple[str, str]] = set()
    _address_pairs(members, pairs)
    _position_pairs(members, pairs)
    return pairs


def suggest(
    candidates: Iterable[Candidate], exclude: Iterable[tuple[str, str]] = ()
) -> list[Suggestion]:
    """Every suggested pair, best first (score descending, then ids). ``exclude`` holds
    pairs (in either order) a supervisor already settled."""
    members = {c.id: c for c in candidates}
    skip = {(a, b) if a < b else (b, a) for a, b in exclude}
    found = []
    for a, b in candidate_pairs(members.values()):
        if (a, b) in skip:
            continue
        suggestion = score_pair(members[a], members[b])
        if suggestion is not None:
            found.append(suggestion)
    found.sort(key=lambda s: (-s.score, s.a, s.b))
    return found


@dataclass(frozen=True)
class Listed:
    """One row of the duplicates list: a suggestion, and the open possible_duplicate
    conflict recorded for the pair, if any."""

    suggestion: Suggestion
    conflict_id: str | None = None

    @property
    def key(self) -> list[Any]:
        """The list's order: open conflicts first, then by score (best first), then ids.
        A list (not a tuple) so that it round-trips through a JSON cursor."""
        s = self.suggestion
        return [0 if self.conflict_id else 1, -s.score, s.a, s.b]


def listing(
    candidates: Iterable[Candidate],
    open_pairs: Mapping[tuple[str, str], str],
    settled_pairs: Iterable[tuple[str, str]] = (),
) -> list[Listed]:
    """The duplicates list of a ward: the pairs of its open possible_duplicate conflicts
    (``open_pairs``: pair -> conflict id) whose households both remain, then every other
    suggestion except the settled pairs, in ``Listed.key`` order."""
    members = {c.id: c for c in candidates}
    rows: list[Listed] = []
    for (a, b), conflict_id in open_pairs.items():
        if a not in members or b not in members:
            continue  # one of them was merged away since
        scored = score_pair(members[a], members[b]) or Suggestion(
            a=min(a, b), b=max(a, b), score=0.0, reasons=(), address_similarity=0.0,
            distance_m=None,
        )  # fmt: skip
        rows.append(Listed(scored, conflict_id))
    skip = {*settled_pairs, *open_pairs}
    rows += [Listed(s) for s in suggest(members.values(), skip)]
    rows.sort(key=lambda row: row.key)
    return rows
