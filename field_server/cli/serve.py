"""`field-server serve`: the server under gunicorn, the production WSGI server.

Before gunicorn starts, in this order, each stopping the command with one clear line: the
configuration is validated (exit 2, instead of every worker crashing in turn); the database
must exist at the newest schema (exit 3, checked by the `field-server` group for every
command: cli/__init__.py); the address must be free to listen on (exit 1, at once, instead
of after gunicorn's five seconds of retries). Each worker then
builds its own app after the fork: nothing is preloaded, so no database connection or pool
is ever shared between processes. Access log lines go to stdout, gunicorn's own log to
stderr.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication


def default_workers() -> int:
    """2 x CPUs + 1 (gunicorn's advice), between 2 and 8: sync workers wait on the
    database, and more processes than that only queue on SQLite's single writer."""
    return max(2, min(8, 2 * (os.cpu_count() or 1) + 1))


class FieldServerApplication(BaseApplication):
    """gunicorn driven from Python: options set here, the app built in each worker."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn >= 24 opens a control socket at one fixed path per user: two servers on
        # one machine would fight over it, and nothing here uses it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from .. import create_app

        # Called in the worker after the fork (preload_app is off).
        app = create_app()
        # The app's modules, schemas and compiled statements live as long as the worker:
        # keeping them out of the collector's generations spares the full collections that
        # a push of 500 mutations would otherwise trigger (a few ms per request).
        gc.collect()
        gc.freeze()
        return app


def check_address_free(host: str, port: int) -> None:
    """Bind the address as gunicorn will (SO_REUSEADDR) and let it go again; raise a
    ClickException with one line saying what to do when that fails."""
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {where}: unknown host ({exc})") from None
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another server?): stop it, or "
                f"choose another port with --port (make run PORT={port + 1})"
            ) from None
        if exc.errno == errno.EACCES:
            raise click.ClickException(
                f"not allowed to listen on {where}: ports below 1024 need privileges; "
                "choose another with --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise click.ClickException(
                f"cannot listen on {where}: {host} is not an address of this machine"
            ) from None
        raise click.ClickException(f"cannot listen on {where}: {exc.strerror or exc}") from None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=5000, show_default=True, help="TCP port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: 2 x CPUs + 1, between 2 and 8).",
)
@with_appcontext
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the server with gunicorn (FIELD_WORKER_TIMEOUT sets the worker timeout)."""
    # with_appcontext has already built the app once: the configuration is valid here, and
    # the database checked (its connection closed again: none may survive into the fork).
    timeout = current_app.config["WORKER_TIMEOUT"]
    check_address_free(host, port)
    options = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers or default_workers(),
        "worker_class": "sync",
        "timeout": timeout,
        "graceful_timeout": min(timeout, 30),
        "preload_app": False,
        "accesslog": "-",
        # The path without its query string, and no referer: a household search puts a
        # name or a phone number in the query, and personal data never reaches the logs.
        "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"',
        "errorlog": "-",
        "proc_name": "field-server",
        # Behind a proxy, FIELD_TRUSTED_PROXIES decides whom to believe; gunicorn must not.
        "forwarded_allow_ips": "",
    }
    click.echo(
        f"Serving on http://{host}:{port} with {options['workers']} worker(s), "
        f"worker timeout {timeout}s"
    )
    FieldServerApplication(options).run()
