"""Storage faults made from outside the server, none of which chmod could make (the tests and
CI run as root, and root writes through any permission bits):

- **A read-only SQLite database**: the file's header says so. Byte 18 of a SQLite file is
  its "write version"; above 2 every connection must treat the file as read-only
  (sqlite.org/fileformat.html, "File format version numbers") and refuses writes with
  SQLITE_READONLY — the error a server gets from a file it may not write.
- **A full disk**: a file-size limit (RLIMIT_FSIZE, set on the server's processes with
  prlimit) of one byte; the kernel then refuses every write that would go past it, so
  SQLite can append nothing to its WAL (SQLITE_FULL or SQLITE_IOERR), as on a full disk.
  Python ignores SIGXFSZ, so the processes live on; their output goes through pipes, which
  the limit does not touch.
- **A read-only PostgreSQL database**: ``default_transaction_read_only`` on the test's own
  database, and its sessions cut so that new ones start read-only (a server failed over to a
  standby answers the same SQLSTATE 25006).
- **PostgreSQL connections cut**: ``pg_terminate_backend`` on the backends of the test's own
  database only (filtered by ``datname``), never anyone else's.
"""

from __future__ import annotations

import os
import resource
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import POSTGRES_ADMIN_URL

WRITE_VERSION_OFFSET = 18
WAL_WRITE_VERSION = 2  # what a WAL database has there
READ_ONLY_WRITE_VERSION = 3  # any value above 2
FLIP_ATTEMPTS = 50


def sqlite_refuses_writes(path: Path) -> bool:
    """Whether a fresh connection may not write (what every new server connection sees)."""
    probe = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise
        return True
    finally:
        probe.close()


def set_sqlite_read_only(path: Path, read_only: bool) -> None:
    """Make a live WAL database read-only (or writable again) for every connection.

    The header is rewritten in the main file while this connection holds the write lock
    and the WAL is empty, so no writer can put an older page 1 back; a commit that touches
    another page then changes the WAL index, which makes every other connection drop its
    cached pages (page 1 with them) at its next transaction. Repeated until a fresh
    connection sees the new state (a writer may slip in between the checkpoint and the lock).
    """
    for _ in range(FLIP_ATTEMPTS):
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if read_only:
                conn.execute("BEGIN IMMEDIATE")  # still writable: hold off every writer
                if os.path.getsize(f"{path}-wal") != 0:  # a commit slipped in: again
                    conn.execute("ROLLBACK")
                    continue
                _write_header_byte(path, READ_ONLY_WRITE_VERSION)
                conn.execute("UPDATE alembic_version SET version_num = version_num")
                conn.execute("COMMIT")
            else:
                # Nobody can write, so nothing can race the header; the second checkpoint
                # changes the WAL index all the same, so cached pages are dropped.
                _write_header_byte(path, WAL_WRITE_VERSION)
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        if sqlite_refuses_writes(path) == read_only:
            return
    raise AssertionError(f"{path} did not become {'read-only' if read_only else 'writable'}")


def _write_header_byte(path: Path, value: int) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, bytes([value]), WRITE_VERSION_OFFSET)
        os.fsync(fd)
    finally:
        os.close(fd)


def limit_file_size(pids: Iterable[int], limit: int | None) -> None:
    """Set (``None``: lift) the soft file-size limit of running processes; their hard limit
    stays, so lifting needs no privilege. Processes forked later inherit the parent's."""
    for pid in pids:
        try:
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            if limit is None or (hard != resource.RLIM_INFINITY and limit > hard):
                soft = hard  # (RLIM_INFINITY is -1: min() would pick it)
            else:
                soft = limit
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
        except ProcessLookupError:
            pass  # a worker that just exited: its replacement inherits the master's limit


def _admin_execute(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def terminate_backends(database: str) -> int:
    """Cut every connection to the test's own database (and no other); how many were cut."""
    rows = _admin_execute(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def set_postgres_read_only(database: str, read_only: bool) -> None:
    """Switch the database's default for new sessions; when turning it on, cut the current
    ones so that the server's next connections start read-only. Turning it off cuts
    nothing: the server must notice by itself (its read-only sessions must go)."""
    quoted = '"' + database.replace('"', '""') + '"'
    if read_only:
        _admin_execute(f"ALTER DATABASE {quoted} SET default_transaction_read_only = on")
        terminate_backends(database)
    else:
        _admin_execute(f"ALTER DATABASE {quoted} RESET default_transaction_read_only")
