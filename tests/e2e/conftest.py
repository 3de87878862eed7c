"""Fixtures for end-to-end tests: real server processes, always stopped at the end."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import ServerPool


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
