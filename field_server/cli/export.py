"""`field-server export units|visits|households|snapshot --unit SCHEME:CODE`: the exports
of docs/exports.md from the command line, through the same services as the API
(services/exports.py: a CSV is the same bytes as the download; XLSX and SQLite the same
content; the same audit row).

The operator acts as an admin: every unit is in scope and phone numbers come out in clear
unless `--mask-phones` is given. Each export writes an audit row with the actor
`cli:<system user>`. Writing to a file (`-o`) shows a progress bar on stderr.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO, NoReturn

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from domain.records import REVIEW_STATES
from schemas.exports import QUERIES

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..services import exports
from ..services.context import Caller


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _parse(kind: str, fmt: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options through the API's own schema, so both refuse the same things."""
    query = {k: v for k, v in given.items() if v is not None}
    try:
        return QUERIES[(kind, fmt)]().load(query)
    except ValidationError as exc:
        problems = "; ".join(
            f"{name}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
            for name, msgs in sorted(exc.messages_dict.items())
        )
        _fail(problems)


class _Bar:
    """A click progress bar on stderr when writing to a file (services.exports.Progress)."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, total: int) -> None:
        self.bar = click.progressbar(length=max(total, 1), label="Exporting rows", file=sys.stderr)
        self.bar.__enter__()

    def advance(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def run_export(
    kind: str,
    fmt: str,
    given: dict[str, Any],
    output: str | None,
    mask_phones: bool,
) -> None:
    """Parse the options, call the export's service, write its bytes."""
    query = _parse(kind, fmt, given)
    caller = Caller.operator(_actor())
    bar = _Bar() if output else None
    call: dict[str, Any] = {"now": utcnow(), "settings": current_settings(), "progress": bar}
    if fmt != "sqlite":
        call["format"] = fmt
        call["lang"] = query["lang"]
    if fmt == "csv":
        call.update(sep=query["sep"], bom=bool(query["bom"]))
    try:
        if kind == "units":
            file = exports.export_units(
                caller, unit=query["unit"], to=query["to"], layout=query["layout"], **call
            )
        elif kind == "visits":
            file = exports.export_visits(
                caller,
                unit=query["unit"],
                start=query["from_"],
                end=query["to"],
                review_status=query["review_status"],
                **call,
            )
        elif kind == "households":
            file = exports.export_households(
                caller, unit=query["unit"], mask_phones=mask_phones, **call
            )
        else:
            file = exports.export_snapshot(
                caller, unit=query["unit"], mask_phones=mask_phones, **call
            )
    except ApiError as exc:
        if bar is not None:
            bar.close()
        _fail(_problem(exc, query["unit"]))
    try:
        if output:
            with open(output, "wb") as handle:
                _write(handle, file.chunks)
        else:
            _write(sys.stdout.buffer, file.chunks)
            sys.stdout.buffer.flush()
    finally:
        if bar is not None:
            bar.close()
    if output:
        click.echo(f"Wrote {output} ({file.unicode_filename}).", err=True)


def _problem(exc: ApiError, unit: str) -> str:
    """An export's refusal in the words of the command line."""
    if exc.code == "not_found":
        return f"no unit {unit}."
    if exc.code == "validation_failed":
        return "units lists wards: choose a ward or a unit above it."
    return exc.code


def _write(handle: BinaryIO, chunks: Iterator[bytes]) -> None:
    """Every chunk to the handle; the chunks closed after (a built file is deleted)."""
    try:
        for chunk in chunks:
            handle.write(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


# --- the commands --------------------------------------------------------------------------

_unit = click.option("--unit", "unit", required=True, metavar="SCHEME:CODE", help="The unit.")
_output = click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here (default: stdout)."
)
_format = click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True
)
_lang = click.option("--lang", type=click.Choice(["en", "vi"]), help="Header language.")
_sep = click.option(
    "--sep",
    type=click.Choice(["comma", "semicolon"]),
    help="CSV separator (default comma); semicolon also writes decimals with a comma, for "
    "Excel with Vietnamese regional settings.",
)
_bom = click.option("--no-bom", is_flag=True, help="CSV without the UTF-8 byte-order mark.")
_mask = click.option(
    "--mask-phones", is_flag=True, help="Mask phone numbers as for non-admin callers."
)


def _sheet_options(fmt: str, lang: str | None, sep: str | None, no_bom: bool) -> dict[str, Any]:
    if fmt == "xlsx":
        if sep or no_bom:
            _fail("--sep and --no-bom apply to CSV only.")
        return {"lang": lang}
    return {"lang": lang, "sep": sep, "bom": 0 if no_bom else None}


@click.group("export")
def export() -> None:
    """Export units, visits, households (CSV or XLSX) or a SQLite snapshot (docs/exports.md)."""


@export.command("units")
@_unit
@click.option("--to", "to", metavar="YYYY-MM-DD", help="Figures as of this local day.")
@click.option("--layout", type=click.Choice(["full", "report"]), help="report: daily report.")
@_format
@_lang
@_sep
@_bom
@_output
@with_appcontext
def units(
    unit: str,
    to: str | None,
    layout: str | None,
    fmt: str,
    lang: str | None,
    sep: str | None,
    no_bom: bool,
    output: str | None,
) -> None:
    """One row per ward under the unit with every figure and its rank."""
    given = {"unit": unit, "to": to, "layout": layout, **_sheet_options(fmt, lang, sep, no_bom)}
    run_export("units", fmt, given, output, mask_phones=False)


@export.command("visits")
@_unit
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First local day.")
@click.option("--to", "to", metavar="YYYY-MM-DD", help="Last local day.")
@click.option("--review-status", type=click.Choice(REVIEW_STATES))
@_format
@_lang
@_sep
@_bom
@_output
@with_appcontext
def visits(
    unit: str,
    start: str | None,
    to: str | None,
    review_status: str | None,
    fmt: str,
    lang: str | None,
    sep: str | None,
    no_bom: bool,
    output: str | None,
) -> None:
    """One row per visit under the unit."""
    given = {
        "unit": unit,
        "from": start,
        "to": to,
        "review_status": review_status,
        **_sheet_options(fmt, lang, sep, no_bom),
    }
    run_export("visits", fmt, given, output, mask_phones=False)


@export.command("households")
@_unit
@_format
@_lang
@_sep
@_bom
@_mask
@_output
@with_appcontext
def households(
    unit: str,
    fmt: str,
    lang: str | None,
    sep: str | None,
    no_bom: bool,
    mask_phones: bool,
    output: str | None,
) -> None:
    """One row per household (not merged away) with its counters."""
    given = {"unit": unit, **_sheet_options(fmt, lang, sep, no_bom)}
    run_export("households", fmt, given, output, mask_phones=mask_phones)


@export.command("snapshot")
@_unit
@_mask
@_output
@with_appcontext
def snapshot(unit: str, mask_phones: bool, output: str | None) -> None:
    """The units, visits and households tables in one SQLite file."""
    if output is None and sys.stdout.isatty():
        _fail("a SQLite file is binary: give -o FILE or redirect stdout.")
    run_export("snapshot", "sqlite", {"unit": unit}, output, mask_phones=mask_phones)
