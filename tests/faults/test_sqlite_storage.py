"""A full disk and a read-only database under a live SQLite server (faults/storage.py says
how each is made, as root): while the fault lasts every write answers 503
``storage_unavailable`` with Retry-After and nothing is acknowledged; once it is lifted the
same server, not restarted, takes the tablets' work again. 2 episodes of each in
``make test``, 10 under FIELD_SOAK=1."""

import pytest

from tests.faults.harness import Campaign, soak_count
from tests.faults.storage import set_sqlite_read_only

pytestmark = pytest.mark.e2e

FAULT_BACKENDS = ("sqlite",)
EPISODES = soak_count(2, 10)
FULL = 1  # bytes: no file of the server's may grow past its first byte


def test_full_disk_and_read_only_database(campaign: Campaign) -> None:
    path = campaign.database.sqlite_path
    assert path is not None
    server = campaign.server
    campaign.start()
    probe = campaign.open_probe()
    for _ in range(EPISODES):
        campaign.random_moment()
        campaign.storage_episode(
            "full_disk",
            probe,
            fault=lambda: server.limit_file_size(FULL),
            heal=lambda: server.limit_file_size(None),
        )
        campaign.random_moment()
        campaign.storage_episode(
            "read_only",
            probe,
            fault=lambda: set_sqlite_read_only(path, True),
            heal=lambda: set_sqlite_read_only(path, False),
        )
    campaign.finish()
    probe.pull_all(campaign.deadline())
    probe.settle()
    campaign.verify(extra=[probe])
    assert server.starts == 1  # healed without a restart
