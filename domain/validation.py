"""Checking one pushed mutation (docs/sync-protocol.md): its envelope, its data, and the counts
rules.

Every check raises ``SyncError("validation_failed", message, errors={field: [messages]})``
carrying *all* the problems found, so a canvasser (or a supervisor re-applying a rejected
mutation) fixes everything at once. The ``clean_*`` functions return the values given,
converted to what the server stores (times as aware UTC datetimes); they never fill in
fields that were not sent, because an update sends only what changed.

``count_errors`` and ``outcome_mismatch`` look at a visit as a whole (after an update is
laid over the stored values): the first finds counts that cannot be (the visit is
rejected), the second an outcome that disagrees with its counts (accepted, and flagged).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeGuard

from .geography import CODE_PATTERN, MAX_CODE_LENGTH, MAX_SCHEME_LENGTH, SCHEME_PATTERN
from .hlc import HLC, parse_hlc
from .records import (
    COUNT_FIELDS,
    HOUSEHOLD_FIELDS,
    MUTATION_TYPES,
    OUTCOMES,
    OUTCOMES_REQUIRING_COUNTS,
    VISIT_FIELDS,
    SyncError,
)

MUTATION_KEYS = ("mutation_id", "type", "id", "base_version", "hlc", "data")
_MUTATION_KEY_SET = frozenset(MUTATION_KEYS)
_MUTATION_TYPE_SET = frozenset(MUTATION_TYPES)
_HOUSEHOLD_FIELD_SET = frozenset(HOUSEHOLD_FIELDS)
_VISIT_FIELD_SET = frozenset(VISIT_FIELDS)
# Every data field of any type: a data object whose keys are all among them has text keys.
_DATA_FIELD_SET = _HOUSEHOLD_FIELD_SET | _VISIT_FIELD_SET | {"reason"}
# Types that change an existing record (or, for household.upsert, say "new" with 0).
BASE_VERSION_REQUIRED = frozenset({"household.upsert", "visit.update", "visit.void"})

# Patterns are applied with fullmatch, never match: "$" also matches before a final
# newline, so "…\n" would get through (tests/unit/test_trailing_newlines.py scans for it).
# Any UUID version (v4, v7, …), canonical lowercase form only: ids are compared as text.
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# RFC 3339 date-time with an explicit offset; Python parses the numbers afterwards.
RFC3339_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
PHONE_PATTERN = re.compile(r"^[0-9 +().-]*$")

# The campaign's calendar: the days a query may name (schemas.CAMPAIGN_DATES) and the
# moments a visit may carry (visited_at, come_back_at), in UTC. Far beyond any campaign,
# and well inside what Python's datetime and both databases hold once a time zone or an
# offset shifts a moment by a day: a tablet sending year 1 or 9999 gets that visit
# refused, never a failed push.
FIRST_CAMPAIGN_DAY = date(2000, 1, 1)
LAST_CAMPAIGN_DAY = date(2099, 12, 31)
FIRST_TIME = datetime.combine(FIRST_CAMPAIGN_DAY, time.min, tzinfo=UTC)
LAST_TIME = datetime.combine(LAST_CAMPAIGN_DAY, time.max, tzinfo=UTC)
TIME_FORMAT_MESSAGE = "Must be an RFC 3339 time with its offset."
_SHOWN = "%Y-%m-%dT%H:%M:%SZ"
TIME_RANGE_MESSAGE = f"Must be a time from {FIRST_TIME:{_SHOWN}} to {LAST_TIME:{_SHOWN}}."

MAX_ADDRESS_LENGTH = 500
MAX_HEAD_NAME_LENGTH = 200
MAX_PHONE_LENGTH = 32
MAX_NOTES_LENGTH = 2000
# PostgreSQL cannot store the NUL character in text (SQLite can): refused on both, so a
# tablet's record is stored alike wherever the server runs.
NUL = "\x00"
NUL_MESSAGE = "Must not contain the NUL character."
# No household has ten thousand adults; the cap keeps every count far inside an INTEGER.
MAX_COUNT = 10_000

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class Mutation:
    """One mutation of a push, its envelope checked (its data is checked by type later)."""

    mutation_id: int
    type: str
    id: str
    base_version: int | None
    hlc: HLC
    data: dict[str, Any]


# --- small checks ------------------------------------------------------------------------


def _add(errors: Errors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _raise_if_any(errors: Errors, message: str) -> None:
    if errors:
        raise SyncError("validation_failed", message, errors=errors)


def _is_int(value: Any) -> TypeGuard[int]:
    """A JSON whole number; ``True`` is an int to Python but never a count."""
    return isinstance(value, int) and not isinstance(value, bool)


def _all_whole(values: Collection[Any]) -> bool:
    """Whether every value is a JSON whole number; plain ints, nearly always the case, are
    told apart by their types alone, without a call per value."""
    return set(map(type, values)) <= _INT_TYPE or all(_is_int(value) for value in values)


_INT_TYPE = frozenset({int})


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def is_uuid(value: Any) -> bool:
    """A lowercase canonical UUID string (8-4-4-4-12 hex digits)."""
    return isinstance(value, str) and UUID_PATTERN.fullmatch(value) is not None


def is_unit_ref(value: Any) -> bool:
    """A ``scheme:code`` string, with the same rules as the units import."""
    # Anything longer fails the length rules anyway, and stays out of the cache.
    return (
        isinstance(value, str)
        and len(value) <= MAX_SCHEME_LENGTH + 1 + MAX_CODE_LENGTH
        and _is_unit_ref_text(value)
    )


# A batch names the same one or two wards in nearly every household.
@functools.lru_cache(maxsize=1024)
def _is_unit_ref_text(value: str) -> bool:
    if value.count(":") != 1:
        return False
    scheme, code = value.split(":")
    return (
        len(scheme) <= MAX_SCHEME_LENGTH
        and len(code) <= MAX_CODE_LENGTH
        and SCHEME_PATTERN.fullmatch(scheme) is not None
        and CODE_PATTERN.fullmatch(code) is not None
    )


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time with an explicit offset within the campaign's calendar, as an
    aware datetime in UTC; None when the value is not one (see ``_checked_time``)."""
    parsed, problem = _checked_time(value)
    return None if problem else parsed


def _checked_time(value: Any) -> tuple[datetime | None, str | None]:
    """(the time in UTC, None), or (None, what is wrong): not an RFC 3339 time with its
    offset (a naive time, a date alone, another format), or outside the campaign's
    calendar (``FIRST_TIME`` to ``LAST_TIME``)."""
    if not isinstance(value, str) or not RFC3339_PATTERN.fullmatch(value):
        return None, TIME_FORMAT_MESSAGE
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:  # numbers out of range: month 13, hour 24, second 60 …
        return None, TIME_FORMAT_MESSAGE
    try:
        moment = parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is in year 10000 in UTC
        return None, TIME_RANGE_MESSAGE
    if not FIRST_TIME <= moment <= LAST_TIME:
        return None, TIME_RANGE_MESSAGE
    return moment, None


def _text_error(value: Any, limit: int) -> str | None:
    """The problem with an optional text field, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "Must be a string or null."
    if len(value) > limit:
        return f"At most {limit} characters."
    if NUL in value:
        return NUL_MESSAGE
    return None


def _unknown_fields(data: dict[str, Any], allowed: frozenset[str], errors: Errors) -> None:
    if data.keys() <= allowed:
        return
    for name in sorted(set(data) - allowed, key=str):
        _add(errors, str(name), "Unknown field.")


def _check_position(data: dict[str, Any], errors: Errors) -> None:
    """lat in [-90, 90], lon in [-180, 180]; a position is both or neither. The two keys
    travel together (also in an update), so a stored position is never half replaced."""
    for name, bound in (("lat", 90), ("lon", 180)):
        value = data.get(name)
        # A float in range, the usual value, is settled without the general number test.
        if (
            value is not None
            and not (type(value) is float and -bound <= value <= bound)
            and (not _is_number(value) or abs(value) > bound)
        ):
            _add(errors, name, f"Must be a number from -{bound} to {bound}, or null.")
    if "lat" not in data and "lon" not in data:
        return
    if (data.get("lat") is None) != (data.get("lon") is None):
        missing = "lon" if data.get("lon") is None else "lat"
        _add(errors, missing, "Give lat and lon together (both numbers or both null).")


def _check_counts(data: dict[str, Any], errors: Errors) -> None:
    for name in COUNT_FIELDS:
        value = data.get(name)
        if value is not None and not (
            (type(value) is int or _is_int(value)) and 0 <= value <= MAX_COUNT
        ):
            _add(errors, name, f"Must be a whole number from 0 to {MAX_COUNT}, or null.")


# --- the envelope ------------------------------------------------------------------------


def parse_mutation(raw: object) -> Mutation:
    """Check one mutation's envelope: exactly the keys of docs/sync-protocol.md, a known type, a
    lowercase UUID, a base_version as the type needs it, a valid hlc, an object as data."""
    mutation = _plainly_valid(raw)
    return mutation if mutation is not None else _parse_mutation_fully(raw)


def _parse_mutation_fully(raw: object) -> Mutation:
    """parse_mutation without the shortcut: every check, every problem collected."""
    if not isinstance(raw, dict):
        raise SyncError(
            "validation_failed",
            "A mutation must be an object.",
            errors={"mutation": ["Must be an object."]},
        )
    errors: Errors = {}
    _unknown_fields(raw, _MUTATION_KEY_SET, errors)
    mutation_id = raw.get("mutation_id")
    if not _is_int(mutation_id) or mutation_id < 1:
        _add(errors, "mutation_id", "Must be a whole number, 1 or more.")
    kind = raw.get("type")
    # `kind` is whatever the tablet sent: a JSON object or list is no type (and unhashable).
    if not (isinstance(kind, str) and kind in _MUTATION_TYPE_SET):
        _add(errors, "type", f"Must be one of {', '.join(MUTATION_TYPES)}.")
    if not is_uuid(raw.get("id")):
        _add(errors, "id", "Must be a lowercase UUID.")
    base_version = raw.get("base_version")
    problem = _base_version_error(kind, base_version)
    if problem:
        _add(errors, "base_version", problem)
    hlc: HLC | None = None
    if "hlc" not in raw:
        _add(errors, "hlc", "Required.")
    else:
        try:
            hlc = parse_hlc(raw["hlc"])
        except SyncError as exc:
            for message in exc.errors.get("hlc", [exc.message]):
                _add(errors, "hlc", message)
    data = raw.get("data")
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        _add(errors, "data", "Must be an object.")
    _raise_if_any(errors, "The mutation is invalid.")
    assert hlc is not None  # an invalid hlc raised above
    # Every check passed: the keys read with .get() above are there, with the right types.
    return Mutation(raw["mutation_id"], raw["type"], raw["id"], base_version, hlc, raw["data"])


def _plainly_valid(raw: object) -> Mutation | None:
    """The mutation when its envelope passes every check with exact JSON types, else None.

    Nearly every mutation is like that, and collecting errors costs several times more
    than finding none. None only means "let the full check decide": this accepts a subset
    of what ``_parse_mutation_fully`` accepts (exact ``int``/``str``/``dict`` types, the
    same patterns), so a mutation never gets a different answer for taking this way.
    """
    if type(raw) is not dict or not raw.keys() <= _MUTATION_KEY_SET:
        return None
    mutation_id = raw.get("mutation_id")
    kind = raw.get("type")
    record_id = raw.get("id")
    base_version = raw.get("base_version")
    data = raw.get("data")
    if not (
        type(mutation_id) is int
        and mutation_id >= 1
        and type(kind) is str
        and kind in _MUTATION_TYPE_SET
        and type(record_id) is str
        and UUID_PATTERN.fullmatch(record_id) is not None
        and type(data) is dict
        and data.keys() <= _DATA_FIELD_SET
    ):
        return None
    if kind == "visit.create":
        if base_version is not None and not (type(base_version) is int and base_version == 0):
            return None
    elif type(base_version) is not int or base_version < 0:
        return None
    try:
        hlc = parse_hlc(raw.get("hlc"))
    except SyncError:
        return None
    return Mutation(mutation_id, kind, record_id, base_version, hlc, data)


def _base_version_error(kind: Any, value: Any) -> str | None:
    """base_version: required for changes of existing records, optional (absent, null or
    0) for visit.create; always a non-negative whole number when given."""
    if kind == "visit.create":
        if value is None or (_is_int(value) and value == 0):
            return None
        return "A new visit has no base_version (leave it out, null or 0)."
    if value is None:
        # `kind` may be anything a tablet sent (a JSON object is unhashable).
        required = isinstance(kind, str) and kind in BASE_VERSION_REQUIRED
        return "Required for this type." if required else None
    if not _is_int(value) or value < 0:
        return "Must be a whole number, 0 or more."
    return None


# --- households --------------------------------------------------------------------------


def clean_household(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Check a household's data; return the values given. Creating needs ``ward`` and
    ``address``; an update may not name a ward (a household never moves ward)."""
    errors: Errors = {}
    _unknown_fields(data, _HOUSEHOLD_FIELD_SET, errors)
    if creating:
        for name in ("ward", "address"):
            if data.get(name) is None:
                _add(errors, name, "Required.")
    elif "ward" in data:
        _add(errors, "ward", "A household's ward cannot be changed.")
    if creating and data.get("ward") is not None and not is_unit_ref(data["ward"]):
        _add(errors, "ward", "Must be a unit ref scheme:code.")
    if data.get("group") is not None and not is_unit_ref(data["group"]):
        _add(errors, "group", "Must be a unit ref scheme:code, or null.")
    if "address" in data:
        address = data["address"]
        if not isinstance(address, str) or not address.strip():
            _add(errors, "address", "Must be a non-empty string.")
        elif len(address.strip()) > MAX_ADDRESS_LENGTH:
            _add(errors, "address", f"At most {MAX_ADDRESS_LENGTH} characters.")
        elif NUL in address:
            _add(errors, "address", NUL_MESSAGE)
    if problem := _text_error(data.get("head_name"), MAX_HEAD_NAME_LENGTH):
        _add(errors, "head_name", problem)
    if problem := _phone_error(data.get("phone")):
        _add(errors, "phone", problem)
    _check_position(data, errors)
    _raise_if_any(errors, "The household is invalid.")
    cleaned = dict(data)
    if "address" in cleaned:
        cleaned["address"] = cleaned["address"].strip()
    return cleaned


def _phone_error(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_PHONE_LENGTH
        or not PHONE_PATTERN.fullmatch(value)
        or (value.strip() and not any(ch.isdigit() for ch in value))
    ):
        return f"Digits, spaces and + - . ( ) only, at most {MAX_PHONE_LENGTH}, or null."
    return None


# --- visits ------------------------------------------------------------------------------


def clean_visit(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Check a visit's data; return the values given, times as aware UTC datetimes.
    Creating needs household_id, visited_at and outcome; an update may change every field
    but household_id, and may not clear visited_at or outcome."""
    errors: Errors = {}
    if not creating and "household_id" in data:
        _add(errors, "household_id", "A visit cannot move to another household.")
    # household_id is a visit field either way: an update naming it was told so just above.
    _unknown_fields(data, _VISIT_FIELD_SET, errors)
    for name in ("household_id", "visited_at", "outcome"):
        if (creating or name in data) and data.get(name) is None and name not in errors:
            _add(errors, name, "Required.")
    if creating and data.get("household_id") is not None and not is_uuid(data["household_id"]):
        _add(errors, "household_id", "Must be a lowercase UUID.")
    cleaned = dict(data)
    for name in ("visited_at", "come_back_at"):
        if data.get(name) is not None:
            parsed, problem = _checked_time(data[name])
            if problem:
                _add(errors, name, problem)
            cleaned[name] = parsed
    if data.get("outcome") is not None and data["outcome"] not in OUTCOMES:
        _add(errors, "outcome", f"Must be one of {', '.join(OUTCOMES)}.")
    _check_counts(data, errors)
    accuracy = data.get("accuracy_m")
    if accuracy is not None and (not _is_number(accuracy) or accuracy < 0):
        _add(errors, "accuracy_m", "Must be a number, 0 or more, or null.")
    if problem := _text_error(data.get("notes"), MAX_NOTES_LENGTH):
        _add(errors, "notes", problem)
    _check_position(data, errors)
    _raise_if_any(errors, "The visit is invalid.")
    return cleaned


def count_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    """The counts rules on a whole visit; empty when they hold.

    Outcomes in ``OUTCOMES_REQUIRING_COUNTS`` need all six counts; the others all six or
    none. Given counts must satisfy ``installed_before + installed_during <= smartphones
    <= adults`` and ``priority_installed <= priority_subjects <= adults``. Each broken
    inequality is reported on the field that is too large (the sum on installed_during).
    """
    outcome = values.get("outcome")
    counts = {name: values.get(name) for name in COUNT_FIELDS}
    missing = [name for name, value in counts.items() if value is None]
    errors: Errors = {}
    if outcome in OUTCOMES_REQUIRING_COUNTS and missing:
        for name in missing:
            _add(errors, name, f"Required when the outcome is {outcome}.")
        return errors
    if len(missing) == len(COUNT_FIELDS):
        return errors
    if missing:
        for name in missing:
            _add(errors, name, "Give all six counts or none.")
        return errors
    if not _all_whole(counts.values()):
        return errors  # clean_visit reports the types
    return _inequality_errors(counts)


def _inequality_errors(c: dict[str, Any]) -> Errors:
    errors: Errors = {}
    installs = c["installed_before"] + c["installed_during"]
    if installs > c["smartphones"]:
        _add(
            errors,
            "installed_during",
            f"installed_before + installed_during ({installs}) is more than "
            f"smartphones ({c['smartphones']}).",
        )
    if c["smartphones"] > c["adults"]:
        _add(errors, "smartphones", f"More smartphones than adults ({c['adults']}).")
    if c["priority_installed"] > c["priority_subjects"]:
        _add(
            errors,
            "priority_installed",
            f"More than priority_subjects ({c['priority_subjects']}).",
        )
    if c["priority_subjects"] > c["adults"]:
        _add(errors, "priority_subjects", f"More priority subjects than adults ({c['adults']}).")
    return errors


def outcome_mismatch(values: dict[str, Any]) -> bool:
    """Whether a visit's outcome disagrees with its counts (accepted, flagged
    ``outcome_mismatch``). With installs = installed_before + installed_during:

    =================  =====================================================
    outcome            mismatch when
    =================  =====================================================
    installed          installs < smartphones, or installed_during == 0
    partial            installs == 0, or installs >= smartphones
    already_installed  installed_during > 0, or installed_before < smartphones
    refused            installed_during > 0
    no_smartphone      smartphones > 0
    vacant             adults > 0
    =================  =====================================================

    The other outcomes (not_home, come_back, language_barrier) never mismatch, nor does a
    visit without all six counts.
    """
    # Any: whatever was sent, until _all_whole has made them the ints the rules take.
    counts: dict[str, Any] = {name: values.get(name) for name in COUNT_FIELDS}
    if not _all_whole(counts.values()):
        return False
    rule = _MISMATCH.get(str(values.get("outcome")))
    return rule is not None and rule(counts)


def _installs(c: dict[str, int]) -> int:
    return c["installed_before"] + c["installed_during"]


_MISMATCH: dict[str, Callable[[dict[str, int]], bool]] = {
    "installed": lambda c: _installs(c) < c["smartphones"] or c["installed_during"] == 0,
    "partial": lambda c: _installs(c) == 0 or _installs(c) >= c["smartphones"],
    "already_installed": lambda c: (
        c["installed_during"] > 0 or c["installed_before"] < c["smartphones"]
    ),
    "refused": lambda c: c["installed_during"] > 0,
    "no_smartphone": lambda c: c["smartphones"] > 0,
    "vacant": lambda c: c["adults"] > 0,
}
