"""The units CSV (docs/api.md, docs/cli.md `units import`): parse, validate and plan an import.
Pure.

An import file has exactly the columns ``scheme,code,name,level,parent_code,
adult_population,target_rate`` (a header line is required; any order is accepted). Reading
it is two steps so that the caller can fetch only the stored units the file talks about:

1. ``parse_units_csv(text)`` checks the header and every field on its own and returns the
   rows with the field errors found so far;
2. ``plan_units_import(parsed, stored, ward_target_rate=...)`` checks the rows against each
   other and against the stored units (parents, levels, duplicates, cycles) and returns an
   ``ImportPlan``: every unit of the file with its final values and whether it is new,
   changed or unchanged, parents before children. Any error raises ``ImportRejected`` with
   all the errors found (up to ``MAX_ERRORS``), so an operator fixes the file in one go.

Line numbers are physical lines of the file, 1-based, the header being line 1.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

COLUMNS = (
    "scheme",
    "code",
    "name",
    "level",
    "parent_code",
    "adult_population",
    "target_rate",
)
LEVELS = ("province", "district", "ward", "group")
# Which levels a unit's parent may have. A ward hangs under a district, or directly under
# a province in a two-level scheme such as nso-2025; a province is a root.
ALLOWED_PARENT_LEVELS: dict[str, frozenset[str]] = {
    "province": frozenset(),
    "district": frozenset({"province"}),
    "ward": frozenset({"district", "province"}),
    "group": frozenset({"ward"}),
}
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
MAX_ERRORS = 200
# Same lengths as the units table, and the characters API unit refs (scheme:code) accept.
MAX_SCHEME_LENGTH = 32
MAX_CODE_LENGTH = 32
MAX_NAME_LENGTH = 200
SCHEME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # fullmatch: "$" passes a final "\n"
CODE_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_POPULATION = 2_000_000_000  # fits the INTEGER column on every backend

UnitKey = tuple[str, str]  # (scheme, code)
Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class RowError:
    """One problem in the file: where it is and what is wrong. ``column`` is None for
    problems with the file as a whole (encoding, CSV syntax)."""

    line: int
    column: str | None
    code: str
    message: str

    def format(self, filename: str) -> str:
        where = f"{filename}:{self.line}:"
        if self.column is None:
            return f"{where} {self.message}"
        return f"{where} column {self.column}: {self.message}"


class ImportRejected(Exception):
    """The file cannot be imported; nothing was written. ``errors`` is in line order."""

    code = "import_rejected"

    def __init__(self, errors: Iterable[RowError], *, truncated: bool = False) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line, _column_order(e.column)))
        self.truncated = truncated
        first = self.errors[0].format("line") if self.errors else "no details"
        super().__init__(f"{len(self.errors)} error(s) in the units file; first: {first}")


def _column_order(column: str | None) -> int:
    return COLUMNS.index(column) if column in COLUMNS else -1


@dataclass(frozen=True)
class UnitRow:
    """One data line, with the fields that parsed (a field with an error is None)."""

    line: int
    scheme: str
    code: str
    name: str
    level: str | None
    parent_code: str | None
    adult_population: int | None
    target_rate: float | None


@dataclass
class ParsedFile:
    rows: list[UnitRow]
    errors: list[RowError]
    truncated: bool = False

    def keys(self) -> set[UnitKey]:
        """Every (scheme, code) the file names, as a unit or as a parent: the stored units
        the caller has to pass to ``plan_units_import``."""
        keys: set[UnitKey] = set()
        for row in self.rows:
            keys.add((row.scheme, row.code))
            if row.parent_code:
                keys.add((row.scheme, row.parent_code))
        return keys


@dataclass(frozen=True)
class StoredUnit:
    """A unit as stored, with its parent's code (same scheme) instead of an id."""

    scheme: str
    code: str
    name: str
    level: str
    parent_code: str | None
    adult_population: int | None
    target_rate: float | None
    id: int | None = None


@dataclass(frozen=True)
class PlannedUnit:
    """A unit of the file with its final values (stored values kept where the file left a
    field empty, defaults for new units) and what the import does with it."""

    line: int
    scheme: str
    code: str
    name: str
    level: str
    parent_code: str | None
    adult_population: int | None
    target_rate: float | None
    action: Action
    moved: bool = False  # an existing unit whose parent changes (its subtree's paths move)

    @property
    def key(self) -> UnitKey:
        return (self.scheme, self.code)


@dataclass
class ImportPlan:
    """The units in an order where every parent comes before its children."""

    units: list[PlannedUnit] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for unit in self.units if unit.action == action)


class _Errors:
    """Collects errors up to the cap; ``full`` tells the caller it may stop looking."""

    def __init__(self, initial: Iterable[RowError] = (), truncated: bool = False) -> None:
        self.items: list[RowError] = []
        self.truncated = truncated
        for error in initial:
            self.items.append(error)

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def add(self, line: int, column: str | None, code: str, message: str) -> None:
        if self.full:
            self.truncated = True
            return
        self.items.append(RowError(line, column, code, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportRejected(self.items, truncated=self.truncated)


def decode_csv_bytes(data: bytes) -> str:
    """The file's text. UTF-8 only, with or without the byte order mark Excel writes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected(
            [
                RowError(
                    line,
                    None,
                    "not_utf8",
                    f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start}); save it as 'CSV UTF-8 (comma delimited)'",
                )
            ]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ImportRejected(
            [
                RowError(
                    line,
                    None,
                    "not_csv",
                    "the file contains NUL bytes: it is not a CSV text file "
                    "(a spreadsheet must be saved as 'CSV UTF-8')",
                )
            ]
        )
    return text


def parse_units_csv(text: str) -> ParsedFile:
    """Read the header and the rows; return the rows and the field errors.

    A missing, wrong or repeated header column raises ``ImportRejected`` at once (no row can
    be read without it). Whitespace around fields is ignored and blank lines are skipped.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors = _Errors()
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ImportRejected(
                [
                    RowError(
                        1,
                        None,
                        "no_header",
                        f"the file is empty; the first line must be the header {','.join(COLUMNS)}",
                    )
                ]
            )
        positions = _check_header(header)
        rows: list[UnitRow] = []
        previous_end = reader.line_num
        for record in reader:
            line = previous_end + 1  # a quoted field may span lines: report where it starts
            previous_end = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            row = _parse_row(line, record, positions, len(header), errors)
            if row is not None:
                rows.append(row)
            if errors.full:
                errors.truncated = True
                break
    except csv.Error as exc:
        errors.add(reader.line_num, None, "not_csv", f"not valid CSV: {exc}")
        raise ImportRejected(errors.items, truncated=errors.truncated) from None
    return ParsedFile(rows=rows, errors=errors.items, truncated=errors.truncated)


def _check_header(header: list[str]) -> dict[str, int]:
    names = [cell.strip() for cell in header]
    expected = ", ".join(COLUMNS)
    errors: list[RowError] = []
    if len(names) == 1 and names[0].replace(";", ",").split(",") == list(COLUMNS):
        raise ImportRejected(
            [
                RowError(
                    1,
                    names[0].split(";")[0],
                    "wrong_delimiter",
                    "columns are separated by ';'; the file must use commas",
                )
            ]
        )
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        shown = name or f"#{index + 1} (empty header)"
        if name not in COLUMNS:
            errors.append(
                RowError(1, shown, "unknown_column", f"unknown column; expected {expected}")
            )
        elif name in positions:
            errors.append(RowError(1, name, "duplicate_column", "column appears twice"))
        else:
            positions[name] = index
    for name in COLUMNS:
        if name not in positions:
            errors.append(
                RowError(1, name, "missing_column", f"missing column; expected {expected}")
            )
    if errors:
        raise ImportRejected(errors)
    return positions


def _parse_row(
    line: int,
    record: list[str],
    positions: dict[str, int],
    width: int,
    errors: _Errors,
) -> UnitRow | None:
    if len(record) > width:
        extra = record[width:]
        if any(cell.strip() for cell in extra):
            last = max(positions, key=positions.__getitem__)
            errors.add(
                line,
                last,
                "extra_fields",
                f"the line has {len(record)} fields but the header has {width}",
            )
            return None
    if len(record) < width:
        missing = [name for name, pos in positions.items() if pos >= len(record)]
        missing.sort(key=positions.__getitem__)
        errors.add(
            line,
            missing[0],
            "missing_fields",
            f"the line has {len(record)} fields but the header has {width}",
        )
        return None
    values = {name: record[pos].strip() for name, pos in positions.items()}
    ok = True

    scheme = values["scheme"]
    if not scheme:
        errors.add(line, "scheme", "required", "must not be empty")
        ok = False
    elif len(scheme) > MAX_SCHEME_LENGTH or not SCHEME_PATTERN.fullmatch(scheme):
        errors.add(
            line,
            "scheme",
            "bad_scheme",
            f"{scheme!r} is not a scheme name: lowercase letters, digits, '.', '_' and '-', "
            f"at most {MAX_SCHEME_LENGTH} characters (e.g. gso-2020)",
        )
        ok = False

    code = values["code"]
    if not code:
        errors.add(line, "code", "required", "must not be empty")
        ok = False
    elif len(code) > MAX_CODE_LENGTH or not CODE_PATTERN.fullmatch(code):
        errors.add(
            line,
            "code",
            "bad_code",
            f"{code!r} is not a unit code: letters, digits, '.', '_' and '-', "
            f"at most {MAX_CODE_LENGTH} characters",
        )
        ok = False

    name = values["name"]
    if not name:
        errors.add(line, "name", "required", "must not be empty")
    elif len(name) > MAX_NAME_LENGTH:
        errors.add(
            line, "name", "too_long", f"is {len(name)} characters long; at most {MAX_NAME_LENGTH}"
        )

    level: str | None = values["level"]
    if level not in LEVELS:
        shown = f"{level!r}" if level else "empty"
        errors.add(line, "level", "bad_level", f"{shown} is not a level; use {', '.join(LEVELS)}")
        level = None

    parent_code = values["parent_code"] or None
    if parent_code is not None and (
        len(parent_code) > MAX_CODE_LENGTH or not CODE_PATTERN.fullmatch(parent_code)
    ):
        errors.add(line, "parent_code", "bad_code", f"{parent_code!r} is not a unit code")
        parent_code = None

    population = _parse_population(line, values["adult_population"], errors)
    rate = _parse_rate(line, values["target_rate"], errors)
    if not ok:
        # Without a scheme and a code the row cannot take part in the cross-row checks; with
        # them it still can (so its children are not also reported as orphans).
        return None
    return UnitRow(
        line=line,
        scheme=scheme,
        code=code,
        name=name,
        level=level,
        parent_code=parent_code,
        adult_population=population,
        target_rate=rate,
    )


def _parse_population(line: int, raw: str, errors: _Errors) -> int | None:
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        errors.add(
            line,
            "adult_population",
            "not_a_number",
            f"{raw!r} is not a whole number (write 12345, without separators)",
        )
        return None
    if value < 0:
        errors.add(line, "adult_population", "negative", f"{value} is negative")
        return None
    if value > MAX_POPULATION:
        errors.add(line, "adult_population", "too_large", f"{value} is too large")
        return None
    return value


def _parse_rate(line: int, raw: str, errors: _Errors) -> float | None:
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.add(line, "target_rate", "not_a_number", f"{raw!r} is not a fraction such as 0.6")
        return None
    if not 0 < value <= 1:
        errors.add(
            line,
            "target_rate",
            "out_of_range",
            f"{raw} is not a fraction above 0 and at most 1 (60% is written 0.6)",
        )
        return None
    return value


def plan_units_import(
    parsed: ParsedFile,
    stored: Mapping[UnitKey, StoredUnit],
    *,
    ward_target_rate: float,
) -> ImportPlan:
    """Check the rows against each other and the stored units; return the plan or raise
    ``ImportRejected`` with every error (the field errors of ``parsed`` included).

    ``stored`` must hold at least the stored units among ``parsed.keys()``. A new ward
    without a target rate gets ``ward_target_rate`` (the campaign's); other new units keep
    an empty figure as null. An existing unit keeps a stored figure the file leaves empty.
    """
    errors = _Errors(parsed.errors, truncated=parsed.truncated)
    by_key: dict[UnitKey, UnitRow] = {}
    for row in parsed.rows:
        first = by_key.get((row.scheme, row.code))
        if first is not None:
            errors.add(
                row.line,
                "code",
                "duplicate",
                f"{row.scheme}:{row.code} is already on line {first.line}",
            )
            continue
        by_key[(row.scheme, row.code)] = row

    for row in by_key.values():
        if errors.full:
            errors.truncated = True  # rows left unchecked may hold more problems
            break
        _check_parent(row, by_key, stored, errors)
    if not errors.full:
        _check_cycles(by_key, errors)
    errors.raise_if_any()

    plan = ImportPlan()
    ordered = sorted(by_key.values(), key=lambda r: (LEVEL_RANK[r.level or "group"], r.line))
    for row in ordered:
        plan.units.append(_planned(row, stored.get((row.scheme, row.code)), ward_target_rate))
    return plan


def _level_of(
    key: UnitKey, by_key: Mapping[UnitKey, UnitRow], stored: Mapping[UnitKey, StoredUnit]
) -> str | None:
    if key in by_key:
        return by_key[key].level
    return stored[key].level if key in stored else None


def _check_parent(
    row: UnitRow,
    by_key: Mapping[UnitKey, UnitRow],
    stored: Mapping[UnitKey, StoredUnit],
    errors: _Errors,
) -> None:
    existing = stored.get((row.scheme, row.code))
    if existing is not None and row.level is not None and existing.level != row.level:
        errors.add(
            row.line,
            "level",
            "level_changed",
            f"{row.scheme}:{row.code} is stored as a {existing.level}; the level of an "
            "existing unit cannot change (load a reorganised geography as a new scheme)",
        )
    if row.level is None:
        return
    allowed = ALLOWED_PARENT_LEVELS[row.level]
    if row.parent_code is None:
        if allowed:
            errors.add(
                row.line,
                "parent_code",
                "parent_required",
                f"a {row.level} needs a parent ({' or '.join(sorted(allowed))})",
            )
        return
    if not allowed:
        errors.add(row.line, "parent_code", "parent_forbidden", "a province has no parent")
        return
    parent_key = (row.scheme, row.parent_code)
    if parent_key == (row.scheme, row.code):
        errors.add(row.line, "parent_code", "cycle", "a unit cannot be its own parent")
        return
    if parent_key not in by_key and parent_key not in stored:
        errors.add(
            row.line,
            "parent_code",
            "unknown_parent",
            f"unknown parent {row.scheme}:{row.parent_code}: it is neither in this file nor stored",
        )
        return
    parent_level = _level_of(parent_key, by_key, stored)
    if parent_level is not None and parent_level not in allowed:
        errors.add(
            row.line,
            "parent_code",
            "bad_parent_level",
            f"the parent {row.scheme}:{row.parent_code} is a {parent_level}; a {row.level}'s "
            f"parent must be a {' or '.join(sorted(allowed))}",
        )


def _check_cycles(by_key: Mapping[UnitKey, UnitRow], errors: _Errors) -> None:
    """Parent chains inside the file must end. With valid levels they always do (a parent
    is strictly higher); this guards the invariant the store relies on."""
    state: dict[UnitKey, int] = {}  # 1 = on the current chain, 2 = known to end
    for start in by_key:
        chain: list[UnitKey] = []
        key: UnitKey | None = start
        while key is not None and key in by_key and state.get(key) != 2:
            if state.get(key) == 1:
                loop = chain[chain.index(key) :]
                row = by_key[loop[0]]
                codes = " -> ".join(code for _, code in [*loop, key])
                errors.add(row.line, "parent_code", "cycle", f"parents form a cycle: {codes}")
                break
            state[key] = 1
            chain.append(key)
            parent = by_key[key].parent_code
            # A unit naming itself as parent is already reported by _check_parent.
            key = (key[0], parent) if parent and parent != key[1] else None
        for visited in chain:
            state[visited] = 2


def _planned(row: UnitRow, existing: StoredUnit | None, ward_target_rate: float) -> PlannedUnit:
    assert row.level is not None  # rows with a bad level were rejected
    if existing is None:
        rate = row.target_rate
        if rate is None and row.level == "ward":
            rate = ward_target_rate
        return PlannedUnit(
            line=row.line,
            scheme=row.scheme,
            code=row.code,
            name=row.name,
            level=row.level,
            parent_code=row.parent_code,
            adult_population=row.adult_population,
            target_rate=rate,
            action="create",
        )
    population = (
        row.adult_population if row.adult_population is not None else existing.adult_population
    )
    rate = row.target_rate if row.target_rate is not None else existing.target_rate
    moved = row.parent_code != existing.parent_code
    changed = (
        moved
        or row.name != existing.name
        or population != existing.adult_population
        or rate != existing.target_rate
    )
    return PlannedUnit(
        line=row.line,
        scheme=row.scheme,
        code=row.code,
        name=row.name,
        level=row.level,
        parent_code=row.parent_code,
        adult_population=population,
        target_rate=rate,
        action="update" if changed else "unchanged",
        moved=moved,
    )
