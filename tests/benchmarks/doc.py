"""Where the benchmarks' results go: their sections of docs/benchmarks.md (between markers)
and, for the summary table (tests/benchmarks/summary.py), one small JSON record per section
under build/bench/ (not committed) with its headline figures, the date and the machine."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DOC = ROOT / "docs" / "benchmarks.md"
RECORDS = ROOT / "build" / "bench"
# A headline figure: figure, value, floor, ratio, bar, verdict (pass, FAIL or empty).
Row = dict[str, str]
ROW_KEYS = ("figure", "value", "floor", "ratio", "bar", "verdict")


def machine() -> str:
    """CPU count, model and Python version, as every section's first line names them."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def write_section(name: str, heading: str, section: str, rows: list[Row] | None = None) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` with
    ``section`` (which carries the markers), or append it under ``## heading``; then record
    the section's headline figures for the summary (``rows``, or read from the section)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = BENCH_DOC.read_text() if BENCH_DOC.exists() else "# Benchmarks\n"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n" + section + "\n"
    BENCH_DOC.write_text(text)
    record(name, section, rows)


def record(name: str, section: str, rows: list[Row] | None = None) -> Path:
    """Write build/bench/NAME.json: the headline rows, the date, the machine and the section
    itself. Without ``rows`` they are read from the section's tables by the summary's reader
    for that bench; a section it cannot read gives one row that says so, never an error
    (the bench has already spent its minutes)."""
    if rows is None:
        # Imported here: the summary imports this module.
        from tests.benchmarks.summary import headlines

        try:
            rows = headlines(name, section)
        except Exception as exc:  # a reader out of step with a section: say so, go on
            rows = [{"figure": f"(the section's figures could not be read: {exc!r})"}]
    RECORDS.mkdir(parents=True, exist_ok=True)
    path = RECORDS / f"{name}.json"
    entry = {
        "name": name,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "platform": platform.platform(),
        "rows": [{key: str(row.get(key, "")) for key in ROW_KEYS} for row in rows],
        "section": section,
    }
    path.write_text(json.dumps(entry, ensure_ascii=False, indent=1) + "\n")
    return path
