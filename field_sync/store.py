"""The tablet's local store: outbox, local replica, settings and the "needs attention" list.

One SQLite file, reached through sqlite-utils. Tables:

``outbox``
    Every change the canvasser makes, written *before* any attempt to send it, numbered per
    device (1, 2, 3, … with no gaps, for the life of the install). ``state`` is ``pending``
    until a 200 push answer lists the mutation: acknowledged entries then become ``sent``, and
    rejected ones ``rejected`` (consumed by the server, never sent again in a normal
    push), each with the server's ``result``, so that a server which lost them (restored from
    a backup older than the tablet's last sync) can be given them
    back (see ``SyncClient.push``). ``data`` is stored as the JSON text first written, so a
    retry sends exactly the same content.
``records``
    The local replica of what the server holds for this device (``entity``, ``id``,
    ``version``, ``data``, ``op``). Rows written by the pull have ``op = 'upsert'``; rows the
    canvasser created or changed with changes still waiting in the outbox have
    ``op = 'local'`` (and are carried over a full copy's swap). A household's or a visit's
    ``data`` is the record as the server shows it, whichever wrote it: the keys, in their
    order, of domain/records.py (``HOUSEHOLD_KEYS``, ``VISIT_KEYS``), which the server's
    pull and its schemas share; what the tablet cannot know yet (the counters, the review)
    is null in a local row until a pull brings the server's.
``records_next``
    A full copy being built beside ``records`` (a pull from no cursor, or a ``reset``); it
    replaces ``records`` only in the transaction of the page with ``has_more: false``.
``merges``
    Households the server merged into others (``id`` → ``into``), from pulls and from
    ``redirected`` push results, so new visits can go to the survivor.
``attention``
    Rejected mutations kept for the canvasser: code, message, field errors and the payload.
``meta``
    Key/value settings as JSON: device id, user name, server URL, tokens, the next mutation
    id, the pull cursor, the clock's last reading, the last acknowledged mutation id.

Every multi-row change runs in one SQLite transaction (``Database.atomic``): a pull page and
its cursor, a push answer's results, a new mutation and the numbering it consumed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from domain.records import (
    APPLIED,
    CONFLICT,
    HOUSEHOLD_KEYS,
    MERGED,
    REDIRECTED,
    REJECTED,
    VISIT_KEYS,
)

PENDING = "pending"
# Acknowledged, kept: a server restored from a backup is given these back (a campaign's worth
# of records is a few thousand rows, small beside the replica).
SENT = "sent"
ACKNOWLEDGED = frozenset({APPLIED, MERGED, CONFLICT, REDIRECTED})

# Which replica entity a mutation type touches.
ENTITY_OF_TYPE = {
    "household.upsert": "household",
    "visit.create": "visit",
    "visit.update": "visit",
    "visit.void": "visit",
}

_RECORD_COLUMNS = {"entity": str, "id": str, "version": int, "data": str, "op": str}

# The keys of each entity's records, in order: one description for the server's pull, its
# schemas and this replica.
RECORD_KEYS: dict[str, tuple[str, ...]] = {"household": HOUSEHOLD_KEYS, "visit": VISIT_KEYS}


def shaped(entity: str, id: str, version: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """A household or visit recorded here, as the server shows its records: every key of
    ``RECORD_KEYS``, in order, from ``values`` (null where the tablet cannot know it yet);
    anything else in ``values`` is not part of a record and is left out."""
    record = {key: values.get(key) for key in RECORD_KEYS[entity]}
    record["id"] = id
    record["version"] = version
    return record


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class OutboxEntry:
    """One mutation waiting in the outbox."""

    mutation_id: int
    type: str
    id: str
    base_version: int | None
    hlc: str
    data: dict[str, Any]
    created_at: str
    state: str = PENDING
    result: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        """The mutation exactly as docs/sync-protocol.md#mutations wants it; ``visit.create``
        has no base_version."""
        out: dict[str, Any] = {"mutation_id": self.mutation_id, "type": self.type, "id": self.id}
        if self.base_version is not None:
            out["base_version"] = self.base_version
        out["hlc"] = self.hlc
        out["data"] = self.data
        return out


@dataclass(frozen=True)
class PushTally:
    """What one push answer did to the outbox."""

    acknowledged: int = 0
    replayed: int = 0
    rejected: int = 0
    unanswered: int = 0


def _make_private(path: str) -> None:
    """The store holds the session's tokens and the device secret: readable by its owner
    only. SQLite gives its -wal and -shm files the database file's mode, so those follow."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a store made before this rule, or under a loose umask
    finally:
        os.close(fd)
    for companion in (f"{path}-wal", f"{path}-shm"):
        if os.path.exists(companion):
            os.chmod(companion, 0o600)


class LocalStore:
    """The tablet's SQLite file. ``path`` may be ``":memory:"`` for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _make_private(self.path)
        # Autocommit at the driver level: every transaction is an explicit BEGIN from
        # Database.atomic(), never one the sqlite3 module opens behind our back.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
        self.db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            self.db.enable_wal()
        # The outbox is the only copy of a canvasser's day: make each commit durable.
        self.db.execute("PRAGMA synchronous=FULL")
        self._create_schema()

    def close(self) -> None:
        self.db.close()

    def _create_schema(self) -> None:
        with self.db.atomic():
            self.db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
            self.db.table("outbox").create(
                {
                    "mutation_id": int,
                    "type": str,
                    "id": str,
                    "base_version": int,
                    "hlc": str,
                    "data": str,
                    "created_at": str,
                    "state": str,
                    "result": str,
                },
                pk="mutation_id",
                not_null={"type", "id", "hlc", "data", "created_at", "state"},
                if_not_exists=True,
            )
            for name in ("records", "records_next"):
                self.db.table(name).create(
                    _RECORD_COLUMNS,
                    pk=("entity", "id"),
                    not_null={"version", "op"},
                    if_not_exists=True,
                )
            self.db.table("merges").create({"id": str, "into": str}, pk="id", if_not_exists=True)
            self.db.table("attention").create(
                {
                    "mutation_id": int,
                    "type": str,
                    "id": str,
                    "code": str,
                    "message": str,
                    "errors": str,
                    "payload": str,
                    "rejected_at": str,
                },
                pk="mutation_id",
                if_not_exists=True,
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction (a savepoint when nested)."""
        with self.db.atomic():
            yield

    # --- meta --------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return default if row is None else _loads(row[0])

    def set(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, _dumps(value)],
        )

    def delete(self, *keys: str) -> None:
        for key in keys:
            self.db.execute("DELETE FROM meta WHERE key = ?", [key])

    @property
    def next_mutation_id(self) -> int:
        return int(self.get("next_mutation_id", 1))

    def adopt_numbering(self, server_last: int) -> bool:
        """After a login: go on after the server's ``last_mutation_id`` when nothing is
        waiting to be sent and the local numbering is behind (a reinstalled tablet).
        Pending entries are never renumbered: the server may already hold some of them,
        and the same number with other content would be refused. Returns whether the
        numbering moved."""
        with self.transaction():
            self.set("last_mutation_id", server_last)
            if self.pending_count() or self.next_mutation_id > server_last:
                return False
            self.set("next_mutation_id", server_last + 1)
            return True

    # --- outbox ------------------------------------------------------------------------

    def add_mutation(
        self,
        type: str,
        id: str,
        base_version: int | None,
        data: dict[str, Any],
        *,
        hlc: str,
        created_at: str,
        record: dict[str, Any] | None = None,
        record_version: int = 0,
    ) -> OutboxEntry:
        """Write a mutation with the next number, the clock reading it used and, when
        given, the record's new local state, all in one transaction."""
        with self.transaction():
            mutation_id = self.next_mutation_id
            self.db.execute(
                "INSERT INTO outbox (mutation_id, type, id, base_version, hlc, data, "
                "created_at, state, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [mutation_id, type, id, base_version, hlc, _dumps(data), created_at, PENDING],
            )
            self.set("next_mutation_id", mutation_id + 1)
            self.set("clock", hlc)
            if record is not None:
                entity = ENTITY_OF_TYPE[type]
                self.db.execute(
                    "INSERT OR REPLACE INTO records (entity, id, version, data, op) "
                    "VALUES (?, ?, ?, ?, 'local')",
                    [
                        entity,
                        id,
                        record_version,
                        _dumps(shaped(entity, id, record_version, record)),
                    ],
                )
        return OutboxEntry(mutation_id, type, id, base_version, hlc, data, created_at)

    def _entry(self, row: sqlite3.Row | tuple) -> OutboxEntry:
        mid, type_, id_, base, hlc, data, created_at, state, result = row
        return OutboxEntry(mid, type_, id_, base, hlc, _loads(data), created_at, state,
                           _loads(result))  # fmt: skip

    _ENTRY_SQL = (
        "SELECT mutation_id, type, id, base_version, hlc, data, created_at, state, result "
        "FROM outbox"
    )

    def pending_count(self) -> int:
        sql = "SELECT count(*) FROM outbox WHERE state = ?"
        return self.db.execute(sql, [PENDING]).fetchone()[0]

    def first_pending_id(self) -> int | None:
        sql = "SELECT min(mutation_id) FROM outbox WHERE state = ?"
        return self.db.execute(sql, [PENDING]).fetchone()[0]

    def outbox(self, *, state: str | None = PENDING) -> list[OutboxEntry]:
        if state is None:
            rows = self.db.execute(f"{self._ENTRY_SQL} ORDER BY mutation_id")
        else:
            rows = self.db.execute(
                f"{self._ENTRY_SQL} WHERE state = ? ORDER BY mutation_id", [state]
            )
        return [self._entry(r) for r in rows.fetchall()]

    def run_from(self, start: int, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` entries numbered ``start``, ``start + 1``, … (any state), stopping
        at the first missing number: a push batch must be consecutive."""
        rows = self.db.execute(
            f"{self._ENTRY_SQL} WHERE mutation_id >= ? ORDER BY mutation_id LIMIT ?",
            [start, limit],
        ).fetchall()
        run: list[OutboxEntry] = []
        for row in rows:
            entry = self._entry(row)
            if entry.mutation_id != start + len(run):
                break
            run.append(entry)
        return run

    def last_outbox_id(self) -> int | None:
        return self.db.execute("SELECT max(mutation_id) FROM outbox").fetchone()[0]

    def record_push_results(
        self,
        batch: Iterable[OutboxEntry],
        results: Iterable[dict[str, Any]],
        *,
        last_mutation_id: int | None,
        received_at: str,
    ) -> PushTally:
        """Apply one 200 push answer in one transaction: acknowledged entries leave the
        outbox, rejected ones are marked and listed for the canvasser, entries the answer
        does not mention stay pending."""
        # Looked up by whatever the server answered as mutation_id (None when it sent none).
        by_id: dict[object, OutboxEntry] = {entry.mutation_id: entry for entry in batch}
        acknowledged = replayed = rejected = 0
        answered: set[int] = set()
        with self.transaction():
            for result in results:
                entry = by_id.get(result.get("mutation_id"))
                if entry is None or entry.mutation_id in answered:
                    continue
                status = result.get("status")
                if status in ACKNOWLEDGED:
                    self._acknowledge(entry, result)
                    acknowledged += 1
                elif status == REJECTED:
                    self._reject(entry, result, received_at)
                    rejected += 1
                else:
                    continue  # an unknown status: keep the entry and send it again later
                answered.add(entry.mutation_id)
                replayed += bool(result.get("replayed"))
            if last_mutation_id is not None:
                self.set("last_mutation_id", last_mutation_id)
            self.set("last_push_at", received_at)
        return PushTally(acknowledged, replayed, rejected, len(by_id) - len(answered))

    def _acknowledge(self, entry: OutboxEntry, result: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE outbox SET state = ?, result = ? WHERE mutation_id = ?",
            [SENT, _dumps(result), entry.mutation_id],
        )
        self.db.execute("DELETE FROM attention WHERE mutation_id = ?", [entry.mutation_id])
        entity = ENTITY_OF_TYPE.get(entry.type)
        self._settle(entry)
        version = result.get("version")
        if entity and isinstance(version, int):
            # The replica learns the version its next edit must be based on (the record's
            # own ``version`` key with it, so the row and its data agree).
            self.db.execute(
                "UPDATE records SET version = ?, data = json_set(data, '$.version', ?) "
                "WHERE entity = ? AND id = ? AND version < ?",
                [version, version, entity, result.get("id") or entry.id, version],
            )
        survivor = result.get("redirected_to")
        if result.get("status") == REDIRECTED and isinstance(survivor, str):
            merged = entry.id if entity == "household" else entry.data.get("household_id")
            if isinstance(merged, str) and merged != survivor:
                self._note_merge("records", merged, survivor)

    def _settle(self, entry: OutboxEntry) -> None:
        """Once the server has answered every waiting change of a record, the local row is
        no longer ahead of the server: the pull (or the next full copy) decides its state,
        so it stops being carried over a swap."""
        self.db.execute(
            "UPDATE records SET op = 'upsert' WHERE entity = ? AND id = ? AND op = 'local' "
            "AND NOT EXISTS (SELECT 1 FROM outbox WHERE id = ? AND state = ? "
            "AND mutation_id > ?)",
            [ENTITY_OF_TYPE[entry.type], entry.id, entry.id, PENDING, entry.mutation_id],
        )

    def _reject(self, entry: OutboxEntry, result: dict[str, Any], at: str) -> None:
        if entry.type == "visit.create" or (
            entry.type == "household.upsert" and entry.base_version == 0
        ):
            # The server never created it: the replica must not show it either (the
            # attention list keeps the payload).
            self.db.execute(
                "DELETE FROM records WHERE entity = ? AND id = ? AND op = 'local'",
                [ENTITY_OF_TYPE[entry.type], entry.id],
            )
        else:
            self._settle(entry)
        self.db.execute(
            "UPDATE outbox SET state = ?, result = ? WHERE mutation_id = ?",
            [REJECTED, _dumps(result), entry.mutation_id],
        )
        self.db.execute(
            "INSERT OR REPLACE INTO attention (mutation_id, type, id, code, message, errors, "
            "payload, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry.mutation_id,
                entry.type,
                entry.id,
                result.get("code"),
                result.get("message"),
                _dumps(result.get("errors") or {}),
                _dumps(entry.wire()),
                at,
            ],
        )

    # --- needs attention ---------------------------------------------------------------

    def attention(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT mutation_id, type, id, code, message, errors, payload, rejected_at "
            "FROM attention ORDER BY mutation_id"
        ).fetchall()
        return [
            {
                "mutation_id": r[0],
                "type": r[1],
                "id": r[2],
                "code": r[3],
                "message": r[4],
                "errors": _loads(r[5]),
                "payload": _loads(r[6]),
                "rejected_at": r[7],
            }
            for r in rows
        ]

    def attention_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM attention").fetchone()[0]

    # --- replica -----------------------------------------------------------------------

    def record(self, entity: str, id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT version, data, op FROM records WHERE entity = ? AND id = ?", [entity, id]
        ).fetchone()
        if row is None:
            return None
        return {"entity": entity, "id": id, "version": row[0], "data": _loads(row[1]),
                "op": row[2]}  # fmt: skip

    def records(self, entity: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT entity, id, version, data, op FROM records"
        rows = (
            self.db.execute(f"{sql} WHERE entity = ? ORDER BY id", [entity])
            if entity
            else self.db.execute(f"{sql} ORDER BY entity, id")
        ).fetchall()
        return [
            {"entity": r[0], "id": r[1], "version": r[2], "data": _loads(r[3]), "op": r[4]}
            for r in rows
        ]

    def record_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM records").fetchone()[0]

    def survivor(self, household_id: str) -> str:
        """The household a merged one now lives in (through chains), or itself."""
        seen = {household_id}
        current = household_id
        while True:
            row = self.db.execute("SELECT [into] FROM merges WHERE id = ?", [current]).fetchone()
            if row is None or row[0] in seen:
                return current
            current = row[0]
            seen.add(current)

    @property
    def cursor(self) -> str | None:
        return self.get("cursor")

    @property
    def copying(self) -> bool:
        """Whether a full copy is being built in ``records_next``."""
        return bool(self.get("full_copy", False))

    def drop_cursor(self) -> None:
        """Forget the cursor and any copy half-built: the next pull starts a full copy."""
        with self.transaction():
            self.delete("cursor", "full_copy")
            self.db.execute("DELETE FROM records_next")

    def apply_page(
        self,
        changes: list[dict[str, Any]],
        *,
        cursor: str | None,
        has_more: bool,
        start_copy: bool,
        last_mutation_id: int | None = None,
    ) -> None:
        """Apply one pull page and store its cursor, all or nothing.

        ``start_copy`` (a pull from no cursor, or a ``reset``) begins a full copy in
        ``records_next``; while copying, pages go there and the old replica stays usable
        until the page with ``has_more: false`` swaps the copies.
        """
        with self.transaction():
            copying = self.copying
            if start_copy:
                self.db.execute("DELETE FROM records_next")
                copying = True
            table = "records_next" if copying else "records"
            for change in changes:
                self._apply_change(table, change)
            if copying and not has_more:
                self._swap()
                copying = False
            if copying:
                self.set("full_copy", True)
            else:
                self.delete("full_copy")
            if cursor is not None:
                self.set("cursor", cursor)
            if last_mutation_id is not None:
                self.set("last_mutation_id", last_mutation_id)

    def _apply_change(self, table: str, change: dict[str, Any]) -> None:
        # Anything not understood raises: the page is rolled back and its cursor not
        # stored, rather than silently skipping a record.
        entity, id_, op = change["entity"], change["id"], change["op"]
        if not isinstance(entity, str) or not isinstance(id_, str):
            raise ValueError(f"Malformed change: {change!r}")
        if op == "upsert":
            version = change.get("version")
            if not isinstance(version, int) or not isinstance(change.get("data"), dict):
                raise ValueError(f"Malformed upsert: {change!r}")
            self.db.execute(
                f"INSERT OR REPLACE INTO {table} (entity, id, version, data, op) "  # noqa: S608
                "VALUES (?, ?, ?, ?, 'upsert')",
                [entity, id_, version, _dumps(change["data"])],
            )
        elif op == "delete":
            sql = f"DELETE FROM {table} WHERE entity = ? AND id = ?"  # noqa: S608
            self.db.execute(sql, [entity, id_])
        elif op == "merge":
            into = (change.get("data") or {}).get("into")
            if entity != "household" or not isinstance(into, str):
                raise ValueError(f"Malformed merge: {change!r}")
            self._note_merge(table, id_, into)
        else:
            raise ValueError(f"Unknown op {op!r} in {change!r}")

    def _note_merge(self, table: str, merged: str, into: str) -> None:
        sql = f"DELETE FROM {table} WHERE entity = 'household' AND id = ?"  # noqa: S608
        self.db.execute(sql, [merged])
        self.db.execute("INSERT OR REPLACE INTO merges (id, [into]) VALUES (?, ?)", [merged, into])

    def _swap(self) -> None:
        # Local edits the server has not sent back yet survive the swap.
        self.db.execute(
            "INSERT INTO records_next (entity, id, version, data, op) "
            "SELECT entity, id, version, data, op FROM records r WHERE op = 'local' "
            "AND NOT EXISTS (SELECT 1 FROM records_next n "
            "WHERE n.entity = r.entity AND n.id = r.id)"
        )
        self.db.execute("DELETE FROM records")
        self.db.execute("INSERT INTO records SELECT * FROM records_next")
        self.db.execute("DELETE FROM records_next")
