"""The hybrid logical clock of the sync protocol (docs/sync-protocol.md). Pure: wall time is an
argument.

An HLC timestamp is ``<ms since epoch>-<counter>-<node>`` (``1597458600000-0003-5b0c…``).
It orders edits and breaks ties between them, and is compared as the tuple
(integer ms, integer counter, node), never as a string. Tablets use their device id as the
node, the server uses ``"server"``.

The server's clock never runs more than ``MAX_CLOCK_AHEAD_MS`` (10 minutes) past its wall
time. A remote timestamp beyond that is *suspect*; ``HybridClock.observe`` ignores it (it
does not clamp it either): the receive event is then handled like a local one, so a tablet
whose clock is days ahead can never drag the server's clock, and with it every later edit,
into the future.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .records import MAX_CLOCK_AHEAD_MS, SyncError

MAX_COUNTER = 0xFFFF
MAX_MS = 2**53 - 1  # the largest integer a JavaScript tablet can hold exactly
MAX_NODE_LENGTH = 64
_MS_DIGITS = len(str(MAX_MS))
_COUNTER_DIGITS = len(str(MAX_COUNTER))
# Applied with fullmatch: with match, "$" would also accept a final newline.
_DIGITS = re.compile(r"^[0-9]+$")
_NODE = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces: a device id or "server"


class HLC(NamedTuple):
    """One hybrid logical clock reading; tuple order is the clock's order."""

    ms: int
    counter: int
    node: str


def _invalid(message: str) -> SyncError:
    return SyncError("validation_failed", f"Invalid hlc: {message}", errors={"hlc": [message]})


def parse_hlc(text: object) -> HLC:
    """Read ``<ms>-<counter>-<node>``. The node may itself contain '-' (a UUID), so only
    the first two '-' separate fields. Raises ``validation_failed`` on anything else,
    a value that is not a string included (whatever a tablet sent)."""
    if type(text) is str:
        # The usual reading, checked with str methods, which are several times cheaper
        # than the patterns below: ASCII digits are exactly [0-9]; printable ASCII without
        # the space is exactly [!-~]. Anything else takes the checks below.
        parts = text.split("-", 2)
        if len(parts) == 3:
            ms_text, counter_text, node = parts
            if (
                len(ms_text) <= _MS_DIGITS
                and len(counter_text) <= _COUNTER_DIGITS
                and ms_text.isdigit()
                and counter_text.isdigit()
                and ms_text.isascii()
                and counter_text.isascii()
                and 0 < len(node) <= MAX_NODE_LENGTH
                and node.isascii()
                and node.isprintable()
                and " " not in node
            ):
                ms, counter = int(ms_text), int(counter_text)
                if ms <= MAX_MS and counter <= MAX_COUNTER:
                    return HLC(ms, counter, node)
    if not isinstance(text, str):
        raise _invalid("Must be a string <ms>-<counter>-<node>.")
    parts = text.split("-", 2)
    if len(parts) != 3:
        raise _invalid("Must have the form <ms>-<counter>-<node>.")
    ms_text, counter_text, node = parts
    if not _DIGITS.fullmatch(ms_text) or _number(ms_text) > MAX_MS:
        raise _invalid("The milliseconds must be a non-negative integer.")
    if not _DIGITS.fullmatch(counter_text) or _number(counter_text) > MAX_COUNTER:
        raise _invalid(f"The counter must be an integer from 0 to {MAX_COUNTER}.")
    if not node or len(node) > MAX_NODE_LENGTH or not _NODE.fullmatch(node):
        raise _invalid(f"The node must be 1 to {MAX_NODE_LENGTH} printable characters.")
    return HLC(_number(ms_text), _number(counter_text), node)


def _number(digits: str) -> int:
    """The value of a run of digits, or MAX_MS + 1 for one too long to be a reading: int()
    refuses strings of thousands of digits (ValueError), and one bad hlc must reject its
    mutation, never fail the whole push."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MS_DIGITS else MAX_MS + 1


def format_hlc(h: HLC) -> str:
    """The wire form; the counter is zero-padded to 4 digits."""
    return f"{h.ms}-{h.counter:04d}-{h.node}"


def is_suspect(h: HLC, wall_ms: int) -> bool:
    """Whether a reading is more than ``MAX_CLOCK_AHEAD_MS`` ahead of the wall time."""
    return h.ms > wall_ms + MAX_CLOCK_AHEAD_MS


class HybridClock:
    """A node's clock. ``now`` stamps a local or send event, ``observe`` a receive event;
    each returns a reading strictly greater than every reading it returned before.

    Should the counter ever pass ``MAX_COUNTER`` (65,536 events within one millisecond),
    the overflow carries into the milliseconds: order is never given up for the format.
    """

    def __init__(self, node: str, last: HLC | None = None) -> None:
        self._node = node
        self._last = last

    @property
    def node(self) -> str:
        return self._node

    @property
    def last(self) -> HLC | None:
        """The latest reading given out (or the one the clock was restored with)."""
        return self._last

    def now(self, wall_ms: int) -> HLC:
        """A local or send event at this wall time."""
        last = self._last
        if last is None or wall_ms > last.ms:
            return self._set(wall_ms, 0)
        return self._set(last.ms, last.counter + 1)

    def observe(self, remote: HLC, wall_ms: int) -> HLC:
        """A receive event: merge a remote reading (standard HLC). A suspect remote (too
        far ahead of the wall time) is ignored, and this is then a local event."""
        if is_suspect(remote, wall_ms):
            return self.now(wall_ms)
        last_ms = self._last.ms if self._last is not None else -1
        last_counter = self._last.counter if self._last is not None else -1
        ms = max(last_ms, remote.ms, wall_ms)
        if ms == last_ms == remote.ms:
            counter = max(last_counter, remote.counter) + 1
        elif ms == last_ms:
            counter = last_counter + 1
        elif ms == remote.ms:
            counter = remote.counter + 1
        else:
            counter = 0
        return self._set(ms, counter)

    def _set(self, ms: int, counter: int) -> HLC:
        if counter > MAX_COUNTER:
            ms, counter = ms + 1, 0
        self._last = HLC(ms, counter, self._node)
        return self._last
