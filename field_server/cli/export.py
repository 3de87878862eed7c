"""`field-server export units|visits|households|snapshot --unit SCHEME:CODE`: the exports
of API §7 from the command line, through the same code as the API (a CSV is the same bytes
as the download; XLSX and SQLite the same content).

The operator acts as an admin: every unit is in scope and phone numbers come out in clear
unless `--mask-phones` is given. Each export writes an audit row with the actor
`cli:<system user>`. Writing to a file (`-o`) shows a progress bar on stderr.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from domain.records import REVIEW_STATES
from schemas.exports import QUERIES

from ..models import utcnow
from ..store import audit
from ..store import exports as export_store
from ..store.engine import begin_read_snapshot, write_transaction
from ..store.units import get_unit_by_ref


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _fail(message: str, code: int = 2) -> None:
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
            for name, msgs in sorted(exc.messages.items())  # type: ignore[union-attr]
        )
        _fail(problems)
        raise  # unreachable


def run_export(
    kind: str,
    fmt: str,
    given: dict[str, Any],
    output: str | None,
    mask_phones: bool,
) -> None:
    """Parse, check, audit, build and write one export."""
    query = _parse(kind, fmt, given)
    unit = get_unit_by_ref(query["unit"])
    if unit is None:
        _fail(f"no unit {query['unit']}.")
    if kind == "units" and unit.level == "group":  # type: ignore[union-attr]
        _fail("units lists wards: choose a ward or a unit above it.")
    root = export_store.Root.of(unit)  # type: ignore[arg-type]
    options = export_store.ExportOptions(
        kind=kind,
        format=fmt,
        start=query.get("from_"),
        end=query.get("to"),
        review_status=query.get("review_status"),
        layout=query.get("layout", "full"),
        lang=query.get("lang", "en"),
        sep=query.get("sep", "comma"),
        bom=bool(query.get("bom", 1)),
        mask_phones=mask_phones,
    )
    zone = current_app.config["TIMEZONE"]
    today: date = datetime.now(ZoneInfo(zone)).date()
    now, actor = utcnow(), _actor()

    begin_read_snapshot()
    total = export_store.expected_rows(root, options, zone=zone) if output else 0
    with _bar(output, total) as update:
        built = export_store.build(
            root,
            options,
            today=today,
            zone=zone,
            campaign_rate=current_app.config["TARGET_RATE"],
            actor=actor,
            now=now,
            on_rows=update,
        )
        with write_transaction():
            audit.record(
                action="export",
                actor=actor,
                target=root.ref,
                client_address=None,
                at=now,
                details={
                    "kind": kind,
                    "format": fmt,
                    "unit": root.ref,
                    "filters": options.filters(),
                    "phones": "masked" if mask_phones else "clear",
                    "via": "cli",
                    **({"rows": built.rows} if built.rows is not None else {}),
                },
            )
        begin_read_snapshot()
        if output:
            with open(output, "wb") as handle:
                _write(handle, built.chunks)
        else:
            _write(sys.stdout.buffer, built.chunks)
            sys.stdout.buffer.flush()
    if output:
        click.echo(f"Wrote {output} ({built.filename[1]}).", err=True)


def _write(handle: BinaryIO, chunks: Any) -> None:
    for chunk in chunks:
        handle.write(chunk)


class _bar:
    """A click progress bar on stderr when writing to a file; nothing on stdout exports."""

    def __init__(self, output: str | None, total: int) -> None:
        self.bar = (
            click.progressbar(
                length=max(total, 1),
                label="Exporting rows",
                file=sys.stderr,
            )
            if output
            else None
        )

    def __enter__(self) -> Callable[[int], None] | None:
        if self.bar is None:
            return None
        bar = self.bar.__enter__()
        return bar.update

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


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
    "--sep", type=click.Choice(["comma", "semicolon"]), help="CSV separator (default comma)."
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
    """Export units, visits, households (CSV or XLSX) or a SQLite snapshot (API §7)."""


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
