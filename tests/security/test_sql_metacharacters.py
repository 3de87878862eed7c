"""SQL metacharacters in every query parameter of every GET operation (docs/security.md).

No query string is ever formatted into SQL: every value is a bound parameter, and text
searches escape LIKE's wildcards. Each parameter of each GET operation (read from its query
schema, so a new one is covered without editing this file) gets each hostile value below.
The answer is never a 500; when it is 200 it holds no rows, since no record contains these
strings (so ``' OR 1=1 --`` or a bare ``%`` matching everything would show); and afterwards
every table still holds what it held.

How the defences were checked: with ``ColumnOperators.contains`` patched to drop
``autoescape`` (the household search's LIKE escaping), the ``%`` and ``_`` cases of
``/households?q=`` fail with every household listed.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from field_server.extensions import db
from tests.security.routes import api_routes
from tests.security.scene import build_scene

ATTACKS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    '" OR "1"="1',
    "%",
    "_",
    "%%",
    "\\",
    "\\%",
    "'; DROP TABLE users; --",
    '"; DROP TABLE visits; --',
    "1; SELECT pg_sleep(0)",
    "*",
    "[a-z]*",
    "') UNION SELECT username, password_hash FROM users --",
    "gso-2020:12019' OR '1'='1",
    "$$",
    "1 OR 1",
]
# Tables whose rows a read may add to (an export writes its audit row).
GROWS_ON_READ = {"audit_log"}


def _endpoint(app: Any, rule: str) -> str:
    return next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule)


def table_counts(app: Any) -> dict[str, int]:
    with app.app_context():
        counts = {
            table.name: db.session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables
        }
        db.session.rollback()
    return counts


def rows_in(response: Any) -> int:
    """How many records an answer holds: list items, pull changes or data rows of a file."""
    data = response.get_data()
    if response.mimetype == "application/json":
        body = response.get_json()
        return len(body.get("items", body.get("changes", body.get("children", []))))
    if response.mimetype.startswith("text/csv"):
        text = data.decode("utf-8-sig")
        return max(0, len(list(csv.reader(io.StringIO(text, newline="")))) - 1)
    if data.startswith(b"PK"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        return max(0, sum(1 for _ in sheet.iter_rows()) - 1)
    if data.startswith(b"SQLite format 3"):
        return 0  # a snapshot of a unit: the unit parameter is what is probed, see below
    raise AssertionError(f"unexpected answer {response.mimetype}")


# Parameters that are not filters: a hostile value is refused (never 200 with rows).
NOT_FILTERS = {"cursor", "limit", "lang", "sep", "bom", "layout", "from", "to"}


@pytest.fixture
def scene(world, client):
    return build_scene(world, client)


def test_every_query_parameter_refuses_or_matches_nothing(app, world, client, scene):
    params = []
    for route in api_routes(app):
        if route.method != "GET" or "<" in route.rule:
            continue
        spec = app.view_functions[_endpoint(app, route.rule)].field_operation
        if spec.query is None:
            continue
        caller = None
        if route.roles is not None:
            caller = "admin" if "admin" in route.roles else "cv.vg.001"
        for name, declared in spec.query().fields.items():
            params.append((route.rule, declared.data_key or name, caller))
    assert len(params) >= 40, params  # the walk found the parameters
    tokens = {who: world.headers(client, who) for who in {"admin", "cv.vg.001"}}
    before = table_counts(app)
    required = {"/api/v1/stats": "unit", "/api/v1/duplicates": "ward"}
    for rule, name, caller in params:
        headers = tokens[caller] if caller else {}
        for attack in ATTACKS:
            query = {name: attack}
            needs = required.get(rule) or ("unit" if "/exports/" in rule else None)
            if needs and needs != name:
                query[needs] = "gso-2020:12019"
            response = client.get(f"{rule}?{urlencode(query)}", headers=headers)
            where = (rule, name, attack, response.status_code)
            assert response.status_code != 500, where
            assert response.status_code in (200, 400, 404, 422), where
            if response.status_code == 200:
                assert name not in NOT_FILTERS, where
                assert rows_in(response) == 0, where
    after = table_counts(app)
    for table in GROWS_ON_READ:
        assert after.pop(table) >= before.pop(table)
    assert after == before


@pytest.mark.parametrize("attack", ["%", "_", "%%", "\\", "\\%", "' OR 1=1 --", "*"])
def test_household_search_treats_wildcards_as_text(world, client, scene, attack):
    headers = world.headers(client, "admin")
    everything = client.get("/api/v1/households?limit=1000", headers=headers).get_json()["items"]
    assert len(everything) >= 5
    found = client.get(f"/api/v1/households?{urlencode({'q': attack})}", headers=headers)
    assert found.status_code == 200
    assert found.get_json()["items"] == []


def test_household_search_finds_text_with_wildcards_in_it(world, client, scene):
    # The other side of escaping: a literal % or _ in an address is found as written.
    tablet = scene.canvassed.tablets["a"]
    odd = tablet.household(address="Kiốt 50%_giảm, chợ Văn Giang")
    tablet.push([odd])
    headers = world.headers(client, "admin")
    for needle in ("50%_giảm", "%_", "50%"):
        response = client.get(f"/api/v1/households?{urlencode({'q': needle})}", headers=headers)
        assert [h["id"] for h in response.get_json()["items"]] == [odd["id"]], needle
