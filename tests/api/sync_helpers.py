"""A minimal tablet for API tests: numbered mutations, push, pull to the end."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields

from schemas import Timestamp
from schemas.sync import CHANGE_DATA, PullResponseSchema, PushResponseSchema

WARD_A = "gso-2020:12019"  # Thị trấn Văn Giang: cv.vg.001 (ward), cv.vg.002 (group -01)
GROUP_A1 = "gso-2020:12019-01"
WARD_B = "gso-2020:12022"  # Xuân Quan: cv.xq.001
WARD_C = "gso-2020:11953"  # Hiến Nam, in another district


def counts(adults=4, smartphones=3, before=1, during=2, subjects=0, priority=0) -> dict:
    return {
        "adults": adults,
        "smartphones": smartphones,
        "installed_before": before,
        "installed_during": during,
        "priority_subjects": subjects,
        "priority_installed": priority,
    }


@dataclass
class Tablet:
    world: Any
    client: Any
    username: str
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_id: int = 1
    ms: itertools.count = field(default_factory=lambda: itertools.count(1597458600000, 1000))
    token: str = ""

    def __post_init__(self) -> None:
        body = self.world.login(self.client, self.username, device_id=self.device_id)
        self.token = body["access_token"]
        self.next_id = body["device"]["last_mutation_id"] + 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def hlc(self) -> str:
        return f"{next(self.ms)}-0000-{self.device_id}"

    def mutation(self, type_: str, record_id: str, data: dict, base_version=None) -> dict:
        m = {
            "mutation_id": self.next_id,
            "type": type_,
            "id": record_id,
            "hlc": self.hlc(),
            "data": data,
        }
        if base_version is not None:
            m["base_version"] = base_version
        self.next_id += 1
        return m

    def household(self, ward=WARD_A, address="Số 12, ngõ 34, phố Hiến Nam", **extra) -> dict:
        data = {
            "ward": ward,
            "group": None,
            "address": address,
            "lat": 20.95,
            "lon": 105.94,
            "head_name": "Nguyễn Văn A",
            "phone": None,
            **extra,
        }
        return self.mutation("household.upsert", str(uuid.uuid4()), data, base_version=0)

    def visit(self, household_id: str, outcome="installed", visited_at=None, **extra) -> dict:
        data = {
            "household_id": household_id,
            "visited_at": visited_at or "2020-08-15T09:31:00+07:00",
            "outcome": outcome,
            **counts(before=1, during=2),
            "lat": 20.9501,
            "lon": 105.9402,
            "accuracy_m": 12,
            "notes": "",
            **extra,
        }
        return self.mutation("visit.create", str(uuid.uuid4()), data)

    def push(self, mutations: list[dict], expect: int = 200) -> dict:
        response = self.client.post(
            "/api/v1/sync/push",
            json={"device_id": self.device_id, "mutations": mutations},
            headers=self.headers,
        )
        assert response.status_code == expect, response.get_json()
        body = response.get_json()
        if response.status_code == 200:
            assert schema_errors(PushResponseSchema, body) == []
        return body

    def pull_all(self, cursor: str | None = None, limit: int = 500) -> tuple[list, str, dict]:
        changes: list = []
        last: dict = {}
        for _ in range(1000):
            query = f"/api/v1/sync/pull?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            response = self.client.get(query, headers=self.headers)
            assert response.status_code == 200, response.get_json()
            last = response.get_json()
            assert pull_page_errors(last) == []
            changes += last["changes"]
            cursor = last["cursor"]
            if not last["has_more"]:
                break
        return changes, cursor, last


# --- answers against their schemas ------------------------------------------------------
# Push and pull send ready JSON, not a schema's dump; these check what they send against
# the schema that documents it, key by key, so the fast writers cannot drift from it.

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def schema_errors(schema: type[Schema] | Schema, data: Any, where: str = "") -> list[str]:
    """What in ``data`` the output schema does not describe: a key it does not declare, a
    required key missing, a null where none is allowed, a value of another type or outside
    the field's validators. Empty when ``data`` is exactly what the schema says."""
    fields_ = (schema() if isinstance(schema, type) else schema).fields
    if not isinstance(data, dict):
        return [f"{where or '.'}: {data!r} is not an object"]
    problems = [f"{where}.{key}: not in the schema" for key in data if key not in fields_]
    for name, declared in fields_.items():
        if name not in data:
            if declared.required:
                problems.append(f"{where}.{name}: required, missing")
            continue
        problems += _field_errors(declared, data[name], f"{where}.{name}")
    return problems


def _field_errors(declared: fields.Field, value: Any, where: str) -> list[str]:
    if value is None:
        return [] if declared.allow_none else [f"{where}: null where none is allowed"]
    if isinstance(declared, fields.Nested):
        nested = declared.schema
        if declared.many:
            if not isinstance(value, list):
                return [f"{where}: {value!r} is not a list"]
            return [
                p for i, v in enumerate(value) for p in schema_errors(nested, v, f"{where}[{i}]")
            ]
        return schema_errors(nested, value, where)
    if isinstance(declared, fields.List):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        inner = declared.inner
        return [p for i, v in enumerate(value) for p in _field_errors(inner, v, f"{where}[{i}]")]
    expected: tuple[type, ...] | None = None
    if isinstance(declared, Timestamp):
        if not isinstance(value, str) or not RFC3339_UTC.match(value):
            return [f"{where}: {value!r} is not a UTC RFC 3339 time"]
    elif isinstance(declared, fields.Boolean):
        expected = (bool,)
    elif isinstance(declared, fields.Integer):
        expected = (int,)
    elif isinstance(declared, fields.Float):
        expected = (int, float)
    elif isinstance(declared, fields.String):
        expected = (str,)
    elif isinstance(declared, fields.Dict):
        expected = (dict,)
    if expected is not None and (
        not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))
    ):
        return [f"{where}: {value!r} is not a {declared.__class__.__name__}"]
    problems = []
    for check in declared.validators:
        try:
            check(value)
        except ValidationError as exc:
            problems.append(f"{where}: {value!r}: {exc.messages}")
    return problems


def pull_page_errors(page: Any) -> list[str]:
    """``schema_errors`` of a pull page, with each change's data held against the record
    schema of its entity and op (a ``ChangeSchema`` only says it is an object)."""
    problems = schema_errors(PullResponseSchema, page)
    for index, change in enumerate(page.get("changes") or []):
        kind = (change.get("entity"), change.get("op"))
        where = f".changes[{index}]"
        if kind in CHANGE_DATA:
            problems += schema_errors(CHANGE_DATA[kind], change.get("data"), f"{where}.data")
            if kind[1] == "upsert" and "version" not in change:
                problems.append(f"{where}.version: required for an upsert, missing")
        elif kind == ("visit", "delete"):
            problems += [f"{where}.{key}: not sent with a delete" for key in ("version", "data")
                         if key in change]  # fmt: skip
        else:
            problems.append(f"{where}: no such change {kind}")
    return problems
