"""kill -9 at random moments while the tablets push: the whole server (master and workers,
as a power cut would; started again) or one gunicorn worker (its master starts another).
10 kills per database in ``make test``; ``FIELD_SOAK_KILLS`` (default 100) under
FIELD_SOAK=1. Afterwards no acknowledged visit is lost and none is doubled."""

import pytest

from tests.faults.harness import Campaign, soak_count

pytestmark = pytest.mark.e2e

KILLS = soak_count(10, 100, "FIELD_SOAK_KILLS")
GROUP_SHARE = 0.4  # of the kills, those of the whole server; the rest kill one worker


def test_kill_9_of_the_server_and_of_single_workers(campaign: Campaign) -> None:
    campaign.start()
    for _ in range(KILLS):
        campaign.random_moment()
        if campaign.rng.random() < GROUP_SHARE:
            campaign.kill_server()
        else:
            campaign.kill_worker()
        campaign.wait_pushing()
    campaign.finish()
    figures = campaign.verify()
    assert figures.kills == KILLS
