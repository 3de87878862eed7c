"""``field-sync``: a tablet on the command line, over the real HTTP API.

A thin click shell over ``SyncClient`` and ``LocalStore``: every command opens the local
store (``--data``), does one thing and prints one clear line (status prints a few). Exit
codes: 0 done, 1 the operation failed (the server refused it, the session ended, the network
failed after retries, or the numbering needs a person), 2 a usage error (a bad option or a
value the protocol's rules refuse, caught before anything is written).

Messages are in Vietnamese or English (``--lang``; default from the locale variables, else
Vietnamese): field-sync's own lines come from field_sync/messages.py, the server is asked
for its answers in the same language (``Accept-Language``), and the English of the checks
run here before recording (domain/validation.py) is translated on the way out.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TextIO

import click

from domain.records import MAX_BATCH, OUTCOMES, SyncError

from .client import LoginRequired, MutationGapError, RefusedError, SyncClient, SyncClientError
from .messages import LANGUAGES, Messages, language_from_environment
from .store import LocalStore
from .transport import HttpTransport, TransportError

DEFAULT_SERVER = "http://127.0.0.1:5000"
DEFAULT_DATA = "./field-sync.db"


@dataclass
class Tablet:
    """What every command needs: the store file and the server, opened on first use."""

    data: str
    server: str | None
    timeout: float
    messages: Messages = field(default_factory=lambda: Messages("vi"))
    _client: SyncClient | None = field(default=None, repr=False)

    @property
    def server_url(self) -> str:
        # An explicit --server wins; then the server of the last login; then the default.
        return self.server or self.store.get("server_url") or DEFAULT_SERVER

    @property
    def client(self) -> SyncClient:
        if self._client is None:
            store = LocalStore(self.data)
            url = self.server or store.get("server_url") or DEFAULT_SERVER
            transport = HttpTransport(url, timeout=self.timeout)
            # The server answers in the language the messages here are in.
            transport.accept_language = self.messages.language
            self._client = SyncClient(transport, store)
        return self._client

    @property
    def store(self) -> LocalStore:
        return self.client.store


def _messages() -> Messages:
    """The messages of the language chosen for this run (``--lang``)."""
    context = click.get_current_context(silent=True)
    tablet = context.find_object(Tablet) if context is not None else None
    if tablet is not None:
        return tablet.messages
    return Messages(language_from_environment(os.environ))


def _(msgid: str, **values: Any) -> str:
    """One of field-sync's own messages, in the chosen language, values filled in."""
    return _messages()(msgid, **values)


def _plural(n: int, word: str, plural: str) -> str:
    return _messages().plural(n, word, plural)


def fail(message: str, code: int = 1) -> None:
    click.echo(_("Error: {message}", message=message), err=True)
    sys.exit(code)


def _refusal(code: str, message: str, errors: dict[str, Any] | None = None) -> str:
    """``code: message (field: problem; problem, field: problem)``, the messages in the
    chosen language (the server's are already; the checks run here are not)."""
    messages = _messages()
    parts = [f"{name}: {text}" for name, text in _flat_errors(messages.errors(errors or {}))]
    fields = " (" + ", ".join(parts) + ")" if parts else ""
    return f"{code}: {messages.translate(message)}{fields}"


def _flat_errors(errors: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested field errors as (dotted name, "problem; problem") pairs."""
    if not isinstance(errors, dict):
        items = errors if isinstance(errors, list) else [errors]
        return [(prefix, "; ".join(str(item) for item in items))]
    found: list[tuple[str, str]] = []
    for name, value in errors.items():
        found += _flat_errors(value, f"{prefix}.{name}" if prefix else str(name))
    return found


def handled(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the client's errors into one line on stderr and the documented exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SyncError as exc:  # refused locally, before anything was written
            fail(_refusal(exc.code, exc.message, exc.errors), 2)
        except LoginRequired as exc:
            fail(_refusal(exc.code, exc.message))
        except RefusedError as exc:
            fail(_refusal(exc.code, exc.message, exc.errors))
        except MutationGapError as exc:
            fail(_refusal(exc.code, exc.message))
        except SyncClientError as exc:
            fail(_refusal(exc.code, exc.message))
        except TransportError as exc:
            reason = _("no answer from the server after retries ({reason}).", reason=exc)
            fail(f"network_error: {reason}")

    return wrapper


@contextmanager
def bar(label: str, length: int | None) -> Iterator[Callable[[int], None]]:
    """A click progress bar on stderr; ``length=None`` when the total is unknown."""
    # An iterator without a length hint makes click draw a bar of unknown length.
    source = range(length) if length is not None else iter(int, 1)
    with click.progressbar(source, label=label, file=sys.stderr, length=length) as progress:
        yield progress.update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data",
    type=click.Path(dir_okay=False),
    default=DEFAULT_DATA,
    show_default=True,
    help="The tablet's local store (an SQLite file, created when missing).",
)
@click.option(
    "--server",
    default=None,
    metavar="URL",
    help=f"The server; default: the one of the last login, else {DEFAULT_SERVER}.",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP request.")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of the messages, also asked of the server; default: from LANGUAGE, "
    "LC_ALL, LC_MESSAGES or LANG (vi_VN... gives vi, another locale en), else vi.",
)
@click.pass_context
def cli(
    ctx: click.Context, data: str, server: str | None, timeout: float, lang: str | None
) -> None:
    """Act as a canvasser's tablet: record households and visits offline, then push and pull."""
    language = lang or language_from_environment(os.environ)
    ctx.obj = Tablet(data=data, server=server, timeout=timeout, messages=Messages(language))


pass_tablet = click.make_pass_decorator(Tablet)


@cli.command()
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--device-name", default=None, help="A name supervisors see (e.g. 'Tab 7').")
@click.option(
    "--device-id",
    default=None,
    help="Restore a known device id into a new store (a reinstalled tablet).",
)
@click.option(
    "--device-secret-file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="With --device-id: a file whose first line is that device's secret.",
)
@pass_tablet
@handled
def login(
    tablet: Tablet,
    username: str,
    password_stdin: bool,
    device_name: str | None,
    device_id: str | None,
    device_secret_file: TextIO | None,
) -> None:
    """Log in; the device id and its secret are made once per store and kept."""
    device_secret = None
    if device_secret_file is not None:
        device_secret = device_secret_file.readline().strip()
        if device_id is None:
            fail(_("--device-secret-file restores a device: give --device-id too."), 2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(_("Password"), hide_input=True, err=True)
    if not password:
        fail(_("a password is required."), 2)
    url = tablet.server_url
    result = tablet.client.login(
        username, password, device_name, device_id=device_id, device_secret=device_secret
    )
    tablet.store.set("server_url", url)
    who = f"{result.username} ({result.role})" if result.role else result.username
    click.echo(
        _(
            "Logged in as {who} at {url} on device {device}; next mutation {next}.",
            who=who,
            url=url,
            device=result.device_id,
            next=result.next_mutation_id,
        )
    )


@cli.group()
def household() -> None:
    """Households."""


def _unit_ref(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value.count(":") != 1:
        raise click.BadParameter(_("use SCHEME:CODE, e.g. gso-2020:12019"))
    return value


def _both_or_neither(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise click.UsageError(_("give --lat and --lon together"))


@household.command("add")
@click.option("--ward", required=True, callback=_unit_ref, metavar="SCHEME:CODE")
@click.option("--address", required=True)
@click.option("--group", callback=_unit_ref, metavar="SCHEME:CODE", default=None)
@click.option("--head-name", default=None)
@click.option("--phone", default=None)
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@pass_tablet
@handled
def household_add(
    tablet: Tablet,
    ward: str,
    address: str,
    group: str | None,
    head_name: str | None,
    phone: str | None,
    lat: float | None,
    lon: float | None,
) -> None:
    """Record a new household; prints its id."""
    _both_or_neither(lat, lon)
    entry = tablet.client.add_household(
        ward=ward, address=address, group=group, head_name=head_name, phone=phone, lat=lat,
        lon=lon,
    )  # fmt: skip
    click.echo(entry.id)


@cli.group()
def visit() -> None:
    """Visits."""


_COUNT_OPTIONS = (
    ("--adults", "adults"),
    ("--smartphones", "smartphones"),
    ("--installed-before", "installed_before"),
    ("--installed-during", "installed_during"),
    ("--priority-subjects", "priority_subjects"),
    ("--priority-installed", "priority_installed"),
)


def _count_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for flag, _name in reversed(_COUNT_OPTIONS):
        func = click.option(flag, type=click.IntRange(min=0), default=None, metavar="N")(func)
    return func


@visit.command("add")
@click.option("--household", "household_id", required=True, metavar="ID")
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES))
@_count_options
@click.option("--visited-at", default=None, metavar="RFC3339", help="Default: now, local time.")
@click.option("--come-back-at", default=None, metavar="RFC3339")
@click.option("--notes", default=None)
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@click.option("--accuracy-m", type=click.FloatRange(min=0), default=None)
@pass_tablet
@handled
def visit_add(
    tablet: Tablet,
    household_id: str,
    outcome: str,
    visited_at: str | None,
    come_back_at: str | None,
    notes: str | None,
    lat: float | None,
    lon: float | None,
    accuracy_m: float | None,
    **counts: int | None,
) -> None:
    """Record a visit to a household; prints its id."""
    _both_or_neither(lat, lon)
    entry = tablet.client.add_visit(
        household_id=household_id,
        outcome=outcome,
        visited_at=visited_at,
        counts={k: v for k, v in counts.items() if v is not None},
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        notes=notes,
        come_back_at=come_back_at,
    )
    click.echo(entry.id)


def _push(tablet: Tablet, batch_size: int) -> None:
    client = tablet.client
    client.require_login()
    pending = client.store.pending_count()
    if pending == 0:
        click.echo(_("Nothing to push."))
        return
    if pending > batch_size:
        with bar(_("Pushing"), pending) as step:
            report = client.push(batch_size=batch_size, progress=step)
    else:
        report = client.push(batch_size=batch_size)
    counts = {
        "sent": _plural(report.sent, "mutation", "mutations"),
        "batches": _plural(report.batches, "batch", "batches"),
        "acknowledged": report.acknowledged,
        "rejected": report.rejected,
    }
    if report.replayed:
        line = _(
            "Pushed {sent} in {batches}: {acknowledged} acknowledged ({replayed} replayed), "
            "{rejected} rejected.",
            replayed=report.replayed,
            **counts,
        )
    else:
        line = _(
            "Pushed {sent} in {batches}: {acknowledged} acknowledged, {rejected} rejected.",
            **counts,
        )
    if report.rejected:
        line += " " + _("See `field-sync attention`.")
    click.echo(line)


def _pull(tablet: Tablet, limit: int) -> None:
    client = tablet.client
    with _PullProgress() as progress:
        report = client.pull(limit=limit, progress=progress)
    counts = {
        "changes": _plural(report.changes, "change", "changes"),
        "pages": _plural(report.pages, "page", "pages"),
        "records": _plural(client.store.record_count(), "record", "records"),
    }
    if report.full_copy:
        line = _("Pulled {changes} in {pages} (full copy); the replica holds {records}.", **counts)
    else:
        line = _("Pulled {changes} in {pages}; the replica holds {records}.", **counts)
    click.echo(line)


class _PullProgress:
    """Opens a progress bar once a pull turns out to need more than one page."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._step: Callable[[int], None] | None = None

    def __enter__(self) -> _PullProgress:
        return self

    def __call__(self, changes: int, has_more: bool) -> None:
        if self._bar is None and has_more:
            self._bar = bar(_("Pulling"), None)
            self._step = self._bar.__enter__()
        if self._step is not None:
            self._step(changes)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


@cli.command()
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=MAX_BATCH,
              show_default=True, help="Mutations per request.")  # fmt: skip
@pass_tablet
@handled
def push(tablet: Tablet, batch_size: int) -> None:
    """Send the outbox to the server, in order."""
    _push(tablet, batch_size)


@cli.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=500, show_default=True,
              help="Changes per page.")  # fmt: skip
@pass_tablet
@handled
def pull(tablet: Tablet, limit: int) -> None:
    """Bring the local replica up to date."""
    _pull(tablet, limit)


@cli.command("sync")
@pass_tablet
@handled
def sync_(tablet: Tablet) -> None:
    """Push, then pull."""
    _push(tablet, MAX_BATCH)
    _pull(tablet, 500)


@cli.command()
@click.option("--local", "local_only", is_flag=True, help="Do not ask the server.")
@pass_tablet
@handled
def status(tablet: Tablet, local_only: bool) -> None:
    """What this tablet holds, and the server's view of this device."""
    local = tablet.client.local_status()
    device, user = local["device_id"] or "-", local["username"] or "-"
    click.echo(_("device: {device} (user {user})", device=device, user=user))
    click.echo(_("server: {url}", url=tablet.server_url))
    waiting = _plural(local["outbox"], "mutation", "mutations")
    click.echo(
        _(
            "outbox: {mutations} waiting; next mutation {next}",
            mutations=waiting,
            next=local["next_mutation_id"],
        )
    )
    rejected = _plural(local["attention"], "rejected mutation", "rejected mutations")
    click.echo(_("attention: {rejected}", rejected=rejected))
    cursor = tablet.messages.translate(local["cursor"])
    held = _plural(local["records"], "record", "records")
    click.echo(_("pull: {cursor}; {records} held", cursor=cursor, records=held))
    if local_only:
        return
    remote = tablet.client.status()
    click.echo(
        _(
            "server status: last mutation {last}, last push {push}, server time {time}",
            last=remote.get("last_mutation_id"),
            push=remote.get("last_push_at") or _("never"),
            time=remote.get("server_time"),
        )
    )


@cli.command()
@pass_tablet
@handled
def attention(tablet: Tablet) -> None:
    """List rejected mutations: what the server refused, and why."""
    items = tablet.client.needs_attention()
    if not items:
        click.echo(_("No mutations need attention."))
        return
    for item in items:
        refusal = _refusal(item["code"], item["message"], item["errors"])
        click.echo(f"#{item['mutation_id']} {item['type']} {item['id']}: {refusal}")


def main() -> None:
    """The console script."""
    cli(prog_name="field-sync")
