"""An in-memory server implementing the tablet's side of the login and the sync protocol
minimally, for the client's unit tests, plus a transport wrapper that injects network trouble.

``FakeServer`` keeps a ledger per device (last_mutation_id, each mutation's canonical hash
and stored result), answers replays, refuses gaps with 409, pages pulls with a cursor, and
answers ``reset`` when its scope epoch moves. It is deliberately small: households and
visits, no review, merges only when a test asks for one.

``Flaky`` wraps any transport: scripted answers before a request reaches the server (a 503
with Retry-After, a network failure), and dropped answers after the server applied it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.hlc import HybridClock, format_hlc
from domain.records import HOUSEHOLD_KEYS, VISIT_KEYS, SyncError
from domain.validation import clean_household, clean_visit, count_errors, parse_mutation
from field_sync.transport import Response, TransportError

RECORD_KEYS = {"household": HOUSEHOLD_KEYS, "visit": VISIT_KEYS}


def envelope(status: int, code: str, message: str = "", **details: Any) -> dict[str, Any]:
    return {"ok": False, "status": status, "code": code, "message": message or code,
            "errors": {}, "details": details}  # fmt: skip


def canonical(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Device:
    last: int = 0
    ledger: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    revoked: bool = False
    secret: str | None = None


class FakeServer:
    """Implements Transport.request directly."""

    def __init__(self, users: dict[str, str] | None = None, wall_ms: int = 1_597_458_600_000):
        self.users = users or {"cv.hy.001": "secret"}
        self.wall_ms = wall_ms
        self.clock = HybridClock("server")
        self.devices: dict[str, Device] = {}
        self.access: dict[str, str] = {}  # token -> device id
        self.expired: set[str] = set()
        self.refresh: dict[str, str] = {}  # live refresh token -> device id
        self.rotated: set[str] = set()
        self.records: dict[tuple[str, str], dict[str, Any]] = {}  # state incl. tombstones
        self.seq = 0
        self.epoch = 1
        self.push_bodies: list[dict[str, Any]] = []
        self.applied_creates = 0

    # --- helpers for tests -------------------------------------------------------------

    def households(self) -> dict[str, dict[str, Any]]:
        return {
            i: r for (e, i), r in self.records.items() if e == "household" and r["op"] == "upsert"
        }

    def visits(self) -> dict[str, dict[str, Any]]:
        return {i: r for (e, i), r in self.records.items() if e == "visit" and r["op"] == "upsert"}

    def put(self, entity: str, id_: str, data: dict[str, Any], op: str = "upsert") -> None:
        """A change made on the server (another tablet, a supervisor)."""
        self.seq += 1
        old = self.records.get((entity, id_))
        version = (old["version"] + 1) if old and op == "upsert" else 1
        self.records[(entity, id_)] = {"op": op, "version": version, "data": data, "seq": self.seq}

    def merge(self, merged: str, into: str) -> None:
        self.put("household", merged, {"into": into}, op="merge")

    def drop_from_scope(self, entity: str, id_: str) -> None:
        """The scope changed (an assignment ended): the record leaves without a tombstone
        and every older cursor gets a reset."""
        del self.records[(entity, id_)]
        self.epoch += 1

    def expire_access_tokens(self) -> None:
        self.expired.update(self.access)

    def restore_backup(self, device_id: str, last: int) -> None:
        """The server lost the device's mutations above ``last`` (restored from a backup)."""
        device = self.devices[device_id]
        lost = [result for k, (_, result) in device.ledger.items() if k > last]
        device.last = last
        device.ledger = {k: v for k, v in device.ledger.items() if k <= last}
        for result in lost:
            # What those mutations created is gone too (their updates are not modelled).
            if result.get("status") != "rejected" and result.get("version") == 1:
                for entity in ("household", "visit"):
                    self.records.pop((entity, result.get("id")), None)

    # --- Transport ---------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, token: str | None = None):
        url = urlsplit(path)
        json = copy.deepcopy(json)
        if (method, url.path) == ("POST", "/api/v1/auth/login"):
            return self._login(json)
        if (method, url.path) == ("POST", "/api/v1/auth/refresh"):
            return self._refresh(json)
        device_id = self.access.get(token or "")
        if device_id is None:
            return self._answer(401, envelope(401, "token_invalid"))
        if token in self.expired:
            return self._answer(401, envelope(401, "token_expired"))
        if self.devices[device_id].revoked:
            return self._answer(401, envelope(401, "device_revoked"))
        if (method, url.path) == ("POST", "/api/v1/sync/push"):
            return self._push(device_id, json)
        if (method, url.path) == ("GET", "/api/v1/sync/pull"):
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            return self._pull(device_id, query)
        if (method, url.path) == ("GET", "/api/v1/sync/status"):
            device = self.devices[device_id]
            return self._answer(200, {"device_id": device_id, "last_mutation_id": device.last,
                                      "last_push_at": None, **self._times()})  # fmt: skip
        return self._answer(404, envelope(404, "not_found"))

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        return Response(status, headers or {}, body)

    def _times(self) -> dict[str, str]:
        return {"server_time": "2020-08-15T02:30:00Z",
                "server_hlc": format_hlc(self.clock.now(self.wall_ms))}  # fmt: skip

    def _session(self, device_id: str, username: str) -> dict[str, Any]:
        access, refresh = f"a-{uuid.uuid4()}", f"r-{uuid.uuid4()}"
        self.access[access] = device_id
        self.refresh[refresh] = device_id
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                "expires_in": 900, "user": {"username": username, "role": "canvasser",
                                            "units": []}}  # fmt: skip

    def _login(self, body: dict[str, Any]) -> Response:
        assert set(body) <= {"username", "password", "device_id", "device_secret", "device_name"}
        if self.users.get(body.get("username")) != body.get("password"):
            return self._answer(401, envelope(401, "invalid_credentials"))
        secret = body.get("device_secret")
        assert isinstance(secret, str) and 32 <= len(secret) <= 128
        device = self.devices.setdefault(body["device_id"], Device(secret=secret))
        if device.secret is None:
            device.secret = secret  # a device from before credentials takes its first secret
        elif device.secret != secret:
            return self._answer(401, envelope(401, "device_credentials_invalid"))
        if device.revoked:
            return self._answer(401, envelope(401, "device_revoked"))
        answer = self._session(body["device_id"], body["username"])
        answer["device"] = {"device_id": body["device_id"], "last_mutation_id": device.last}
        return self._answer(200, answer)

    def _refresh(self, body: dict[str, Any]) -> Response:
        assert set(body) <= {"refresh_token", "device_id"}
        token = body["refresh_token"]
        if token in self.rotated:
            return self._answer(401, envelope(401, "refresh_reused"))
        device_id = self.refresh.pop(token, None)
        if device_id is None:
            return self._answer(401, envelope(401, "token_invalid"))
        self.rotated.add(token)
        answer = self._session(device_id, "cv.hy.001")
        answer["device"] = {"device_id": device_id,
                            "last_mutation_id": self.devices[device_id].last}  # fmt: skip
        return self._answer(200, answer)

    # --- push --------------------------------------------------------------------------

    def _push(self, device_id: str, body: dict[str, Any]) -> Response:
        self.push_bodies.append(copy.deepcopy(body))
        if set(body) != {"device_id", "mutations"} or body["device_id"] != device_id:
            return self._answer(422, envelope(422, "validation_failed"))
        raws = body["mutations"]
        if len(raws) > 500:
            return self._answer(422, envelope(422, "batch_too_large", limit=500))
        ids = [m["mutation_id"] for m in raws]
        if ids and ids != list(range(ids[0], ids[0] + len(ids))):
            return self._answer(422, envelope(422, "validation_failed"))
        device = self.devices[device_id]
        if ids and ids[0] > device.last + 1:
            expected = device.last + 1
            return self._answer(409, envelope(409, "mutation_gap",
                                              f"Expected mutation {expected} next, got {ids[0]}.",
                                              expected=expected, got=ids[0]))  # fmt: skip
        results = []
        for raw in raws:
            mid = raw["mutation_id"]
            digest = canonical(raw)
            if mid <= device.last:
                stored_digest, stored = device.ledger[mid]
                if stored_digest == digest:
                    results.append({**stored, "replayed": True})
                else:
                    results.append({"mutation_id": mid, "status": "rejected",
                                    "code": "mutation_id_reused", "message": "reused",
                                    "replayed": True})  # fmt: skip
                continue
            result = {"mutation_id": mid, **self._apply(device_id, raw)}
            device.ledger[mid] = (digest, result)
            device.last = mid
            results.append(result)
        return self._answer(200, {"last_mutation_id": device.last, **self._times(),
                                  "results": results})  # fmt: skip

    def _apply(self, device_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            m = parse_mutation(raw)
            if m.type == "household.upsert":
                target = self._follow(m.id)
                if m.base_version == 0 and ("household", m.id) not in self.records:
                    clean_household(m.data, creating=True)
                    self.put("household", m.id, dict(m.data))
                    return {"status": "applied", "id": m.id, "version": 1}
                clean_household(m.data, creating=False)
                old = self.records[("household", target)]
                self.put("household", target, {**old["data"], **m.data})
                status = "redirected" if target != m.id else "applied"
                result = {"status": status, "id": target,
                          "version": self.records[("household", target)]["version"]}  # fmt: skip
                if target != m.id:
                    result["redirected_to"] = target
                return result
            if m.type == "visit.create":
                clean_visit(m.data, creating=True)
                if errors := count_errors(m.data):
                    raise SyncError("validation_failed", "counts", errors=errors)
                household = self._follow(m.data["household_id"])
                if household not in self.households():
                    raise SyncError("household_unknown", "No such household.")
                self.applied_creates += 1
                self.put("visit", m.id, {**m.data, "household_id": household,
                                         "device_id": device_id})  # fmt: skip
                result = {"status": "applied", "id": m.id, "version": 1}
                if household != m.data["household_id"]:
                    result.update(status="redirected", redirected_to=household)
                return result
            if m.type in ("visit.update", "visit.void"):
                old = self.records.get(("visit", m.id))
                if old is None or old["op"] != "upsert":
                    raise SyncError("validation_failed", "Unknown visit.", errors={"id": ["?"]})
                if m.type == "visit.void":
                    self.put("visit", m.id, {}, op="delete")
                    return {"status": "applied", "id": m.id, "version": old["version"]}
                self.put("visit", m.id, {**old["data"], **m.data})
                return {"status": "applied", "id": m.id,
                        "version": self.records[("visit", m.id)]["version"]}  # fmt: skip
            raise SyncError("validation_failed", "Unknown type.")
        except SyncError as exc:
            return {"status": "rejected", "code": exc.code, "message": exc.message,
                    "errors": exc.errors}  # fmt: skip

    def _follow(self, household_id: str) -> str:
        record = self.records.get(("household", household_id))
        while record is not None and record["op"] == "merge":
            household_id = record["data"]["into"]
            record = self.records.get(("household", household_id))
        return household_id

    # --- pull --------------------------------------------------------------------------

    def _pull(self, device_id: str, query: dict[str, str]) -> Response:
        limit = int(query.get("limit", 100))
        position, reset = 0, False
        if "cursor" in query:
            parts = query["cursor"].split(":")
            if len(parts) != 3 or parts[0] != device_id[:8]:
                return self._answer(400, envelope(400, "cursor_invalid"))
            if int(parts[1]) == self.epoch:
                position = int(parts[2])
            else:
                reset = True
        ordered = sorted(
            (r["seq"], e, i, r) for (e, i), r in self.records.items() if r["seq"] > position
        )
        page = ordered[:limit]
        changes = []
        for _, entity, id_, record in page:
            change = {"entity": entity, "op": record["op"], "id": id_}
            if record["op"] == "upsert":
                # Shown with the keys, in the order, of the server's records.
                data = {key: record["data"].get(key) for key in RECORD_KEYS[entity]}
                data.update(id=id_, version=record["version"])
                change.update(version=record["version"], data=data)
            elif record["op"] == "merge":
                change["data"] = record["data"]
            changes.append(change)
        new_position = page[-1][0] if page else position
        return self._answer(200, {
            "changes": changes, "cursor": f"{device_id[:8]}:{self.epoch}:{new_position}",
            "has_more": len(ordered) > limit, "reset": reset,
            "last_mutation_id": self.devices[device_id].last, **self._times(),
        })  # fmt: skip


class Flaky:
    """A transport wrapper that plays a script of network trouble, then passes through.

    ``script`` holds (path prefix, action) pairs, consumed in order by the first request
    whose path starts with the prefix: ``"pass"`` lets it through, ``"drop"`` lets the
    server apply it and loses the answer, ``"down"`` fails before the server sees it, and
    a ``Response`` is answered instead of the server's.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.script: list[tuple[str, Any]] = []
        self.log: list[tuple[str, str, Any]] = []

    def then(self, prefix: str, action: Any) -> Flaky:
        self.script.append((prefix, action))
        return self

    def request(self, method: str, path: str, *, json: Any = None, token: str | None = None):
        self.log.append((method, path, copy.deepcopy(json)))
        for index, (prefix, action) in enumerate(self.script):
            if path.startswith(prefix):
                del self.script[index]
                if action == "down":
                    raise TransportError("connection refused")
                if isinstance(action, Response):
                    return action
                if action == "pass":
                    break
                assert action == "drop"
                self.inner.request(method, path, json=json, token=token)
                raise TransportError("connection reset while reading the answer")
        return self.inner.request(method, path, json=json, token=token)
