"""`field-server backup FILE`: a consistent copy of an SQLite database while the server
keeps writing (docs/operations.md "Backup and restore").

SQLite's online backup API copies every page inside one read transaction: in WAL mode that
transaction blocks no writer, and the copy is the database as of one commit (a push is in
it whole or not at all). The copy is written beside FILE under a temporary name (mode
0600: it holds every name and phone), switched out of WAL mode so that it is one
self-contained file, checked with ``PRAGMA integrity_check``, flushed to disk and only then
renamed to FILE: a crash or a full disk leaves FILE as it was.

PostgreSQL is copied with its own tool, pg_dump, which takes the same kind of consistent
snapshot: this refuses with the exact command to run.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from ..migrations_support import sqlite_file

# How long the copy may wait for a lock (a checkpoint in progress) before it gives up.
BUSY_TIMEOUT_S = 30.0


class BackupRefused(Exception):
    """Nothing was written; ``str(exc)`` says why and what to do instead."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int  # bytes
    source: Path


def pg_dump_command(database_url: str, target: Path) -> str:
    """The pg_dump command that copies this PostgreSQL database to ``target`` (the password,
    if the URL holds one, left out: pg_dump reads it from PGPASSWORD or ~/.pgpass)."""
    url = make_url(database_url).set(drivername="postgresql", password=None)
    return f"pg_dump --format=custom --file={target} '{url.render_as_string()}'"


def _fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(source: Path, temporary: Path) -> None:
    # Read-only: the backup can never write to the live database.
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        dest = sqlite3.connect(temporary, isolation_level=None)
        try:
            src.backup(dest, pages=-1)  # every page in one step: one consistent snapshot
            dest.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
            found = [row[0] for row in dest.execute("PRAGMA integrity_check")]
            if found != ["ok"]:
                raise BackupRefused(f"the copy failed its integrity check: {'; '.join(found)}")
        finally:
            dest.close()
    finally:
        src.close()
    with temporary.open("rb+") as copied:
        os.fsync(copied.fileno())


def backup_database(database_url: str, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the SQLite database at ``database_url`` to ``target`` atomically (mode 0600).
    Raises BackupRefused, writing nothing, for PostgreSQL, an existing ``target`` without
    ``force``, or a target that cannot be written."""
    source = sqlite_file(database_url)
    if source is None:
        if make_url(database_url).get_backend_name() == "postgresql":
            raise BackupRefused(
                "field-server backup copies SQLite databases only; back up PostgreSQL with "
                f"pg_dump (docs/operations.md): {pg_dump_command(database_url, target)}"
            )
        raise BackupRefused("the database is not an SQLite file: nothing to copy")
    if not source.is_file():
        raise BackupRefused(f"no database at {source}")
    target = target.expanduser().absolute()
    if target.is_dir():
        raise BackupRefused(f"{target} is a folder: give the backup's file name")
    if target.exists() and target.resolve() == source.resolve():
        raise BackupRefused(f"{target} is the database itself")
    if target.exists() and not force:
        raise BackupRefused(f"{target} exists: choose another name, or --force to replace it")
    if not target.parent.is_dir():
        raise BackupRefused(f"the folder {target.parent} does not exist")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BackupRefused(f"cannot write in {target.parent}: {exc.strerror or exc}") from None
    os.close(fd)  # mkstemp made it 0600; sqlite3 writes into it
    temporary = Path(name)
    try:
        _copy(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_directory(target.parent)
    return BackupResult(path=target, size=target.stat().st_size, source=source)
