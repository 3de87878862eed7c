"""Names and phone numbers never reach the logs (DESIGN.md, Known pitfalls: Logs).

The app is driven through everything that handles a household's personal data: logins,
pushes (applied, merged, rejected: a rejected payload is kept), the supervisors' reads and
search, a correction, every export with phones in clear, and database failures whose
statements carry the phone (a storage error, 503, and an error whose driver message quotes
the failing row, 500). Every log record of every logger is captured at DEBUG, tracebacks
included, and searched for the seeded name and phone in the forms they may take: as typed,
without diacritics, decomposed, lower-cased, URL-quoted, JSON-escaped, digits only.

The one logger not at DEBUG is SQLAlchemy's statement echo (``sqlalchemy.engine``): at INFO
it logs each statement and its parameters, which the engine hides (``hide_parameters``);
at DEBUG it would log the rows each query returns, a developer's tool that no setting of
the server turns on.

A real `field-server serve` process is checked the same way, its stdout (access log) and
stderr (gunicorn's and the app's log) both: tests/e2e/test_backup_restore.py
``test_served_process_logs_no_personal_data``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import event

from field_server.extensions import db
from tests.api.sync_helpers import WARD_A, Tablet, counts

NAME = "Nguyễn Thị Seeded"
PHONE = "0912 345 678"
NEW_PHONE = "0912 345 999"  # what the failing pushes send
ADDRESS = "Số 41, ngõ Riêng Tư, phố Seeded"
NOTES = "Chị Seeded dặn gọi 0912 345 678 buổi tối"


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.replace("đ", "d").replace("Đ", "D")


def forms(value: str) -> set[str]:
    """The ways ``value`` could be written into a log line (compared lower-cased)."""
    bases = {value, unicodedata.normalize("NFD", value), _folded(value)}
    variants = set(bases)
    for base in bases:
        variants |= {quote(base), quote_plus(base), json.dumps(base)[1:-1]}
    digits = "".join(ch for ch in value if ch.isdigit())
    variants.add(digits)
    return {v.lower() for v in variants if len(v) >= 6}


SECRETS = (
    forms(NAME)
    | forms("Seeded")  # the one word of the name (and address) found nowhere else
    | forms(PHONE)
    | forms(NEW_PHONE)
    | forms("Riêng Tư")
    | forms("+84912345678")
)


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return sorted(form for form in SECRETS if form in lowered)


def captured(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it, its traceback included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("field_server", "werkzeug", "flask", "alembic"):
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    return caplog


@contextmanager
def statements_with_the_phone_fail(app: Any, error: BaseException) -> Iterator[None]:
    """Every statement whose parameters hold NEW_PHONE fails at the driver with ``error``
    (SQLAlchemy wraps it as it would a real one: statement, parameters and all)."""
    with app.app_context():
        engine = db.engine

    def fail(_conn: Any, _cursor: Any, _statement: str, parameters: Any, *_: Any) -> None:
        if NEW_PHONE in repr(parameters):
            raise error

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def driver_errors(backend: str) -> tuple[BaseException, BaseException]:
    """(a storage error, an error about the failing row) of the backend's driver, as the
    database would raise them: PostgreSQL's quotes the row in its DETAIL line."""
    row = f"Failing row contains (h1, 12019, {ADDRESS}, {NAME}, {NEW_PHONE})."
    if backend == "sqlite":
        return (
            sqlite3.OperationalError("database or disk is full"),
            # SQLite's messages name the constraint, never a value.
            sqlite3.IntegrityError("NOT NULL constraint failed: households.ward_id"),
        )
    import psycopg

    return (
        psycopg.errors.DiskFull('could not extend file "base/16384/16385": No space left'),
        psycopg.errors.NotNullViolation(
            f'null value in column "ward_id" of relation "households" violates not-null '
            f"constraint\nDETAIL:  {row}"
        ),
    )


def test_no_name_or_phone_in_any_log(app, client, world, backend, all_logs):
    tablet = Tablet(world, client, "cv.vg.001")
    sv = world.headers(client, "sv.vangiang")
    admin = world.headers(client, "admin")
    household = tablet.household(address=ADDRESS, head_name=NAME, phone=PHONE)
    visit = tablet.visit(household["id"], notes=NOTES)
    rename = tablet.mutation(
        "household.upsert", household["id"], {"head_name": NAME + " B", "phone": PHONE}, 1
    )
    # Rejected, payload kept: counts that do not add up; a phone that is no phone.
    bad_visit = tablet.visit(household["id"], notes=NOTES, **counts(adults=1, smartphones=4))
    bad_household = tablet.household(address=ADDRESS + " 2", head_name=NAME, phone=f"{PHONE} x")
    answer = tablet.push([household, visit, rename, bad_visit, bad_household])
    assert [r["status"] for r in answer["results"]][-2:] == ["rejected", "rejected"]
    tablet.pull_all()

    for path in (
        f"/api/v1/households?ward={WARD_A}&q={quote(NAME)}",
        f"/api/v1/households?ward={WARD_A}&q={quote(PHONE)}",
        f"/api/v1/households/{household['id']}",
        f"/api/v1/visits?ward={WARD_A}",
        f"/api/v1/rejections?ward={WARD_A}",
        f"/api/v1/conflicts?ward={WARD_A}",
    ):
        assert client.get(path, headers=sv).status_code == 200, path
    corrected = client.patch(
        f"/api/v1/visits/{visit['id']}",
        json={"base_version": 1, "data": {"notes": NOTES + " (sửa)"}},
        headers=sv,
    )
    assert corrected.status_code == 200, corrected.get_json()
    for kind in ("households.csv", "visits.csv", "households.xlsx", "snapshot.sqlite"):
        response = client.get(f"/api/v1/exports/{kind}?unit={WARD_A}", headers=admin)
        assert response.status_code == 200, kind
        response.get_data()  # streamed: the rows are read (and any log written) now

    storage, quoting_row = driver_errors(backend)
    again = tablet.mutation("household.upsert", household["id"], {"phone": NEW_PHONE}, 2)
    with statements_with_the_phone_fail(app, storage):
        failed = client.post(
            "/api/v1/sync/push",
            json={"device_id": tablet.device_id, "mutations": [again]},
            headers=tablet.headers,
        )
    assert failed.status_code == 503, failed.get_json()
    assert failed.get_json()["code"] == "storage_unavailable"
    with statements_with_the_phone_fail(app, quoting_row):
        failed = client.post(
            "/api/v1/sync/push",
            json={"device_id": tablet.device_id, "mutations": [again]},
            headers=tablet.headers,
        )
    assert failed.status_code == 500
    assert failed.get_json()["code"] == "internal_error"

    text = captured(all_logs)
    assert "storage unavailable" in text and "internal error" in text  # both were logged
    assert "Traceback" in text
    assert leaks(text) == [], text


def test_the_search_is_a_leak_check_that_would_fire(all_logs):
    """The check itself: each form of the seeded values is found when it is logged."""
    logging.getLogger("field_server.test").warning(
        "%s %s", quote_plus(_folded(NAME)), "".join(c for c in PHONE if c.isdigit())
    )
    assert len(leaks(captured(all_logs))) >= 2
    assert leaks(f"device {uuid.uuid4()} clock is -3 s off") == []
