"""The summary table of `make bench`: every bench's headline figures in one place.

Each bench, when it writes its section of docs/benchmarks.md (``--write``), also leaves a
record in build/bench/NAME.json (tests/benchmarks/doc.py ``record``): its headline rows
(figure, value, floor of the same run, ratio, bar, pass or FAIL), the date and the machine.
The sync and load benches hand their rows over; for the others the rows are read here from
the tables of the section they wrote (``headlines``), so no bench needs code of its own for
the summary. This module prints the table and, with ``--write``, puts it in the
``<!-- bench:summary -->`` section at the top of docs/benchmarks.md with the date and the
machine. A bench with no record yet is listed as such; a record from another machine or an
older day shows its own date, so a stale figure cannot pass for a fresh one.

    python -m tests.benchmarks.summary [--write]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from collections.abc import Callable
from datetime import UTC, datetime

from tests.benchmarks.doc import BENCH_DOC, RECORDS, ROW_KEYS, Row, machine

# Every section `make bench` writes, in the order it runs them, with its module.
BENCHES = (
    ("sync", "bench_sync"),
    ("sync-postgresql", "bench_sync --backend postgresql"),
    ("exports", "bench_exports"),
    ("figures", "bench_figures"),
    ("login-timing", "bench_login_timing"),
    ("pages", "bench_pages"),
    ("app", "bench_app"),
    ("load", "bench_load"),
)
START, END = "<!-- bench:summary -->", "<!-- /bench:summary -->"


# --- reading a section's tables -------------------------------------------------------------


def tables(section: str) -> list[list[dict[str, str]]]:
    """Every markdown table of the section, as rows keyed by the header's cells."""
    return [rows for _, rows in captioned_tables(section)]


def captioned_tables(section: str) -> list[tuple[str, list[dict[str, str]]]]:
    """Every markdown table with the last line of text before it (its caption)."""
    found: list[tuple[str, list[dict[str, str]]]] = []
    block: list[list[str]] = []
    caption = ""
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2:
            header = block[0]
            found.append((caption, [dict(zip(header, c, strict=False)) for c in block[2:]]))
        block = []
        if line.strip():
            caption = line.strip()
    return found


def column(row: dict[str, str], *prefixes: str) -> str:
    """The cell whose header starts with one of the prefixes (case-insensitive)."""
    for prefix in prefixes:
        for header, cell in row.items():
            if header.lower().startswith(prefix.lower()):
                return cell
    raise KeyError(prefixes[0])


def verdict_of(text: str) -> str:
    """pass or FAIL from a cell's words (yes/no count too), empty when it has none."""
    words = re.findall(r"[A-Za-z]+", text)
    if any(w in ("FAIL", "no") for w in words):
        return "FAIL"
    if any(w in ("pass", "PASS", "yes") for w in words):
        return "pass"
    return ""


def number(text: str) -> float:
    match = re.search(r"-?[\d,]*\.?\d+", text)
    if match is None:
        raise ValueError(f"no number in {text!r}")
    return float(match.group().replace(",", ""))


def after_colon(text: str) -> str:
    return text.rsplit(": ", 1)[-1]


# --- one reader per bench that hands no rows over -------------------------------------------


def exports_rows(section: str) -> list[Row]:
    rows: list[Row] = []
    for row in tables(section)[0]:
        database = row["database"]
        ratio_cell = column(row, "export / floor")
        memory = column(row, "worker's peak memory")
        rows += [
            {
                "figure": f"{database}: export of visits.csv",
                "value": after_colon(row["export"]),
                "floor": after_colon(column(row, "floor")),
                "ratio": ratio_cell.split()[0],
                "bar": "0.9x of the floor",
                "verdict": verdict_of(ratio_cell),
            },
            {
                "figure": f"{database}: export, worker's peak memory",
                "value": memory.split(" (")[0],
                "bar": "150 MB",
                "verdict": verdict_of(memory),
            },
        ]
    return rows


def figures_rows(section: str) -> list[Row]:
    """Each ratio column (``ratio``, ``b/a``) beside the two times before it: the larger
    size's time against the smaller's. The verdict is the row's own (its pass/FAIL cells
    after the ratio) or, where it has none, DESIGN.md's: under 50 ms and within 1.5x."""
    rows: list[Row] = []
    for caption, table in captioned_tables(section):
        bold = re.match(r"\*\*([^*]+)\*\*", caption)
        prefix = f"{bold.group(1)}: " if bold else ""
        for row in table:
            headers, cells = list(row), list(row.values())
            for i, header in enumerate(headers):
                if i < 3 or not re.search(r"ratio|\b\w/\w\b", header):
                    continue
                small, large = cells[i - 2], cells[i - 1]
                if not (small.endswith(" ms") and large.endswith(" ms")):
                    continue
                after = " ".join(cells[i + 1 :])
                verdict = verdict_of(after)
                bar = "under 1 s" if "under 1 s" in after else "under 50 ms, within 1.5x"
                if not verdict:
                    fast = number(large) < 50 and number(cells[i]) <= 1.5
                    verdict = "pass" if fast else "FAIL"
                rows.append(
                    {
                        "figure": f"{prefix}{cells[0]}",
                        "value": large,
                        "floor": small,
                        "ratio": cells[i],
                        "bar": bar,
                        "verdict": verdict,
                    }
                )
    return rows


def login_timing_rows(section: str) -> list[Row]:
    cells = {row[next(iter(row))]: list(row.values())[-1] for row in tables(section)[0]}
    unknown = next(v for k, v in cells.items() if k.startswith("unknown"))
    wrong = next(v for k, v in cells.items() if k.startswith("known"))
    ratio = next(v for k, v in cells.items() if k.startswith("ratio"))
    return [
        {
            "figure": "failed login: unknown user (floor: wrong password), medians",
            "value": unknown,
            "floor": wrong,
            "ratio": ratio,
            "bar": "about 1 (no fixed bar)",
        }
    ]


def pages_rows(section: str) -> list[Row]:
    rows: list[Row] = []
    for row in tables(section)[0]:
        verdicts = row.get(list(row)[-1], "")
        if not verdict_of(verdicts):
            continue
        sizes = [h for h in row if "median /" in h]
        rows.append(
            {
                "figure": f"page: {row[next(iter(row))]}",
                "value": row[sizes[-1]].split(" / ")[0] + " ms",
                "floor": row[sizes[0]].split(" / ")[0] + " ms",
                "ratio": column(row, "ratio"),
                "bar": "100 ms, 100 KB",
                "verdict": verdict_of(verdicts),
            }
        )
    return rows


def app_rows(section: str) -> list[Row]:
    rows: list[Row] = []
    for row in tables(section)[0]:
        bar = row.get("bar", "")
        if bar.startswith("(baseline") and rows:
            rows[-1]["floor"] = row.get("measured", "")
            continue
        verdict = verdict_of(column(row, "under the bar"))
        if not verdict:
            continue
        rows.append(
            {
                "figure": f"app: {row['figure']}",
                "value": row.get("measured", ""),
                "bar": bar,
                "verdict": verdict,
            }
        )
    return rows


def any_rows(section: str) -> list[Row]:
    """For a section no reader knows: its table rows that say pass or FAIL."""
    rows: list[Row] = []
    for table in tables(section):
        for row in table:
            cells = list(row.values())
            verdict = verdict_of(" ".join(cells[1:]))
            if verdict and cells:
                value = cells[1] if len(cells) > 1 else ""
                rows.append({"figure": cells[0], "value": value, "verdict": verdict})
    return rows


READERS: dict[str, Callable[[str], list[Row]]] = {
    "exports": exports_rows,
    "figures": figures_rows,
    "login-timing": login_timing_rows,
    "pages": pages_rows,
    "app": app_rows,
}


def headlines(name: str, section: str) -> list[Row]:
    """The headline rows of a section, read from its tables."""
    return READERS.get(name, any_rows)(section)


# --- the table ------------------------------------------------------------------------------


def load_records() -> dict[str, dict]:
    records = {}
    for path in sorted(RECORDS.glob("*.json")) if RECORDS.exists() else []:
        entry = json.loads(path.read_text())
        records[entry["name"]] = entry
    return records


def summary_rows(records: dict[str, dict]) -> list[list[str]]:
    """One line per headline figure: bench, the row's cells, and the record's date (and its
    machine, when it is not this one)."""
    here = machine()
    lines: list[list[str]] = []
    names = [name for name, _ in BENCHES] + sorted(set(records) - {n for n, _ in BENCHES})
    modules = dict(BENCHES)
    for name in names:
        entry = records.get(name)
        if entry is None:
            command = modules.get(name, name)
            lines.append(
                [name, f"no record yet: `python -m tests.benchmarks.{command} --write`"] + [""] * 6
            )
            continue
        when = entry["measured"][:10]
        if entry["machine"] != here:
            when += f" on {entry['machine']}"
        for row in entry["rows"] or [{"figure": "(no headline figures)"}]:
            lines.append([name, *(row.get(key, "") for key in ROW_KEYS), when])
    return lines


HEADER = ["bench", "figure", "value", "floor (same run)", "ratio", "bar", "verdict", "measured"]


def markdown(lines: list[list[str]]) -> str:
    escape = [[cell.replace("|", "\\|") for cell in line] for line in lines]
    out = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    out += ["| " + " | ".join(line) + " |" for line in escape]
    return "\n".join(out)


def plain(lines: list[list[str]]) -> str:
    """The table for a terminal: columns padded, the figure column cut to fit."""
    cut = [[line[0], line[1][:70], *line[2:]] for line in [HEADER, *lines]]
    widths = [max(len(line[i]) for line in cut) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cut
    )


def describe_machine() -> str:
    return f"{machine()}, {platform.platform()}"


def section(lines: list[list[str]]) -> str:
    failed = sum(1 for line in lines if line[6] == "FAIL")
    passed = sum(1 for line in lines if line[6] == "pass")
    missing = sum(1 for line in lines if line[1].startswith("no record yet"))
    return "\n".join(
        [
            START,
            f"Summary written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {describe_machine()}. "
            "One line per headline figure, from each bench's last `--write` (its date in the "
            "last column; another machine is named there). Floors are measured in the same "
            f"run as their figure. {passed} pass, {failed} FAIL, {missing} bench(es) with "
            "no record yet.",
            "",
            markdown(lines),
            END,
        ]
    )


def write(text: str) -> None:
    """Replace the summary section, or put it before the first `##` heading (the top of the
    document, under its title and introduction)."""
    doc = BENCH_DOC.read_text()
    if START in doc:
        before, rest = doc.split(START, 1)
        doc = before + text + rest.split(END, 1)[1]
    else:
        head, sep, tail = doc.partition("\n## ")
        doc = head.rstrip() + "\n\n## Summary\n\n" + text + "\n" + sep + tail
    BENCH_DOC.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    lines = summary_rows(load_records())
    print(f"make bench summary, {describe_machine()}")
    print(plain(lines))
    if args.write:
        write(section(lines))


if __name__ == "__main__":
    main()
