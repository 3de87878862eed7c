"""A canvassed world for the review queue, review, household and audit tests: visits pushed
by real tablets in two wards, a statement counter for the "no query per row" checks, and a
check that an answer is what its output schema declares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event

from field_server.extensions import db
from tests.api.sync_helpers import GROUP_A1, WARD_B, Tablet, counts


def assert_error(response: Any, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["ok"] is False and body["code"] == code and body["status"] == status
    return body


def assert_figures_consistent(app: Any) -> None:
    """The kept counters (and the households' own counters) equal a recount from visits."""
    from field_server.store import figures

    with app.app_context():
        result = figures.recount(timezone="Asia/Ho_Chi_Minh")
        assert result.household_counter_errors == []
        assert result.contributions == figures.stored()
        db.session.rollback()


@dataclass
class Canvassed:
    """Ids of what the tablets pushed (see ``canvass``)."""

    tablets: dict[str, Tablet]
    households: dict[str, str]  # name -> household id
    visits: dict[str, str]  # name -> visit id


def canvass(world: Any, client: Any) -> Canvassed:
    """Ward A (Văn Giang): h1 visited on the 14th and the 16th, h2 once with a GPS far from
    the household (flagged), h3 a household with a person in quarantine (priority), and
    h4 in group -01, refused. Ward B (Xuân Quan): h5, visited once."""
    a = Tablet(world, client, "cv.vg.001")
    g = Tablet(world, client, "cv.vg.002")
    b = Tablet(world, client, "cv.xq.001")
    h1 = a.household(address="Số 12, ngõ 34, phố Hiến Nam", head_name="Nguyễn Văn An")
    h2 = a.household(address="Số 7, ngõ 2, phố Hiến Nam", head_name="Trần Thị Bình")
    h3 = a.household(address="Số 9, đường Chu Mạnh Trinh", head_name="Lê Văn Cường")
    old = a.visit(h1["id"], visited_at="2020-08-14T09:00:00+07:00")
    new = a.visit(h1["id"], visited_at="2020-08-16T09:00:00+07:00")
    far = a.visit(h2["id"], visited_at="2020-08-15T10:00:00+07:00", lat=20.96, lon=105.95)
    priority = a.visit(
        h3["id"],
        visited_at="2020-08-15T08:00:00+07:00",
        **counts(adults=3, smartphones=2, before=0, during=1, subjects=1, priority=1),
    )
    a.push([h1, h2, h3, old, new, far, priority])
    h4 = g.household(group=GROUP_A1, address="Số 3, tổ 1", head_name="Phạm Văn Dũng")
    refused = g.visit(
        h4["id"],
        outcome="refused",
        visited_at="2020-08-15T11:00:00+07:00",
        **counts(adults=2, smartphones=2, before=0, during=0),
    )
    g.push([h4, refused])
    h5 = b.household(ward=WARD_B, address="Thôn 1, xã Xuân Quan", phone="0912345678")
    other = b.visit(h5["id"], visited_at="2020-08-15T12:00:00+07:00")
    b.push([h5, other])
    return Canvassed(
        tablets={"a": a, "g": g, "b": b},
        households={
            "h1": h1["id"],
            "h2": h2["id"],
            "h3": h3["id"],
            "h4": h4["id"],
            "h5": h5["id"],
        },
        visits={
            "old": old["id"],
            "new": new["id"],
            "far": far["id"],
            "priority": priority["id"],
            "refused": refused["id"],
            "other": other["id"],
        },
    )


@contextmanager
def counted_statements(app: Any) -> Iterator[list[str]]:
    """Every SQL statement the app runs inside the block (an executemany counts once)."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def assert_fits(schema: Any, data: Any, where: str = "") -> None:
    """``data`` (a decoded JSON answer) has exactly the keys the output schema declares, in
    its order, each of the declared type and passing its validators (null only where the
    schema allows it)."""
    declared = [field.data_key or name for name, field in schema.fields.items()]
    assert isinstance(data, dict) and list(data) == declared, where
    for name, field in schema.fields.items():
        key = field.data_key or name
        _assert_field_fits(field, data[key], f"{where}.{key}")


def _assert_field_fits(field: Any, value: Any, where: str) -> None:
    from marshmallow import fields

    from schemas import Timestamp

    if value is None:
        assert field.allow_none, f"{where} is null"
        return
    if isinstance(field, fields.Nested):
        assert_fits(field.schema, value, where)
        return
    if isinstance(field, fields.List):
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            _assert_field_fits(field.inner, item, f"{where}[{index}]")
    elif isinstance(field, Timestamp):
        assert isinstance(value, str) and value.endswith("Z"), where
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif isinstance(field, fields.Boolean):
        assert isinstance(value, bool), where
    elif isinstance(field, fields.Integer):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif isinstance(field, fields.Float):
        assert isinstance(value, int | float) and not isinstance(value, bool), where
    elif isinstance(field, fields.String):
        assert isinstance(value, str), where
    elif isinstance(field, fields.Dict):
        assert isinstance(value, dict), where
    else:
        raise AssertionError(f"{where}: no check for {type(field).__name__}")
    for validator in field.validators:
        validator(value)
