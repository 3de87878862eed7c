"""Fixtures of the fault runs: the databases a test runs on, and a campaign that is always
torn down — server and proxy stopped, tablets told to stop, PostgreSQL database dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.faults.harness import Campaign, Database


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``database_kind``: both backends, or a module's ``FAULT_BACKENDS`` when it has faults
    only one backend can have."""
    if "database_kind" in metafunc.fixturenames:
        allowed = getattr(metafunc.module, "FAULT_BACKENDS", BACKENDS)
        metafunc.parametrize("database_kind", list(allowed))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Runs on a backend that --backend left out are deselected (not skipped)."""
    chosen = config.getoption("backend") or list(BACKENDS)
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("database_kind") if callspec else None
        (drop if kind is not None and kind not in chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def fault_database(database_kind: str, tmp_path: Path) -> Iterator[Database]:
    database = Database.create(database_kind, tmp_path)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def campaign(
    request: pytest.FixtureRequest, fault_database: Database, tmp_path: Path
) -> Iterator[Campaign]:
    run = Campaign(request.node.originalname, fault_database, tmp_path)
    try:
        yield run
    finally:
        run.close()  # before the database is dropped: no server may hold a connection
