"""A lossy link (faults/proxy.py) between the tablets and a healthy server: answers dropped
after the commit, answers cut short, requests held back, and requests cut before the server
had the whole body. 40 faults per database in ``make test``, 400 under FIELD_SOAK=1."""

import pytest

from tests.faults.harness import Campaign, soak_count
from tests.faults.proxy import FAULTS, Chaos

pytestmark = pytest.mark.e2e

FAULTS_PER_RUN = soak_count(40, 400)


def test_dropped_truncated_delayed_and_cut_connections(campaign: Campaign) -> None:
    campaign.start()
    assert campaign.proxy is not None
    proxy = campaign.proxy
    proxy.set_chaos(
        Chaos(drop_answer=0.12, truncate=0.12, delay=0.12, cut_request=0.12, budget=FAULTS_PER_RUN)
    )
    campaign.wait_until(lambda: proxy.chosen >= FAULTS_PER_RUN, "every fault thrown")
    campaign.wait_pushing()  # and the tablets still get through
    campaign.finish()
    figures = campaign.verify()
    assert sorted(name for name in FAULTS if figures.proxy_faults.get(name)) == sorted(FAULTS)
    assert figures.replays_acknowledged > 0  # dropped answers were answered again as replays
