"""PostgreSQL under fault, the server never restarted: the connections to the test's own
database cut again and again (``pg_terminate_backend``, filtered by the database's name)
while the tablets push, then the database switched to read-only and back. 10 cuts and 2
read-only episodes in ``make test``, 100 and 10 under FIELD_SOAK=1."""

import pytest

from tests.faults.harness import Campaign, soak_count
from tests.faults.storage import set_postgres_read_only, terminate_backends

pytestmark = pytest.mark.e2e

FAULT_BACKENDS = ("postgresql",)
CUTS = soak_count(10, 100)
EPISODES = soak_count(2, 10)


def test_connections_cut_and_a_read_only_database(campaign: Campaign) -> None:
    name = campaign.database.postgres_name
    assert name is not None
    server = campaign.server
    campaign.start()
    workers = sorted(server.workers())
    for _ in range(CUTS):
        campaign.random_moment()
        campaign.figures.connections_cut += terminate_backends(name)
        campaign.mark()
        campaign.wait_pushing()
    probe = campaign.open_probe()
    for _ in range(EPISODES):
        campaign.random_moment()
        campaign.storage_episode(
            "read_only",
            probe,
            fault=lambda: set_postgres_read_only(name, True),
            heal=lambda: set_postgres_read_only(name, False),
        )
    campaign.finish()
    probe.pull_all(campaign.deadline())
    probe.settle()
    figures = campaign.verify(extra=[probe])
    assert figures.connections_cut >= CUTS  # each cut found the server's connections
    assert server.starts == 1 and sorted(server.workers()) == workers  # no restart at all
