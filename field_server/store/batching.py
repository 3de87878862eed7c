"""Splitting long lists for IN (...) lists and executemany: far below SQLite's bound-variable
limit, and the same chunk size everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

CHUNK = 500
T = TypeVar("T")


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """The distinct values, in their first order, in lists of at most ``size``."""
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]
