"""Benchmark (make bench): a campaign over 500 simulated clusters at zero duration.

* The scheduler's own cost per cluster: the time spent in its ticks (advance_campaigns: following the runs,
  the failure policy, the waves, the windows, each start through upgrade_start, the ETA), not the upgrades'
  own execution (the engine runs them between ticks, untimed), against a baseline measured in the same run:
  starting one ordinary run per cluster with upgrade_start and no campaign.
* The campaign page's server time p95 (500 cells, its audit and ETA) against a trivial page's (the top-bar
  counters fragment), both through Django's test client.

Set BENCH_CAMPAIGN_CLUSTERS for another fleet size. Figures are printed as ratios; nothing asserts on timing.
"""

import os
import statistics
import time

import pytest
from django.test import Client

from tests.campaigns.helpers import scheduler_ticks_only_when_called
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_pending_work
from upgrades.models import Campaign, CampaignCluster, Dag
from upgrades.services.campaign_scheduler import advance_campaigns
from upgrades.services.campaigns import campaign_create, campaign_start

pytestmark = pytest.mark.django_db(transaction=True)

CLUSTERS = int(os.environ.get("BENCH_CAMPAIGN_CLUSTERS", "500"))
PAGE_SAMPLES = 40


def p95(samples):
    return statistics.quantiles(samples, n=20)[-1]


def test_bench_campaign_scheduler_and_page():
    stock_packages(TARGET)
    clusters = [make_cluster(f"b{i:04d}", zones=1) for i in range(CLUSTERS)]
    actor = Actor.for_user(make_user("operator"))

    # Baseline: one ordinary run per cluster, no campaign; then the runs go (never executed) to free the locks.
    started = time.perf_counter()
    for cluster in clusters:
        start_upgrade(cluster, TARGET, mode="STOPSERVICE", actor=actor)
    baseline = (time.perf_counter() - started) / CLUSTERS
    Dag.objects.all().delete()

    campaign = campaign_create(
        name="bench",
        targets={"community": {"version": TARGET.version, "release": TARGET.release}},
        cluster_filter={"name_pattern": "b*"},
        allow_downtime=True,
        wave_size=50,
        max_parallel=25,
        actor=actor,
    )
    campaign_start(campaign=campaign, actor=actor)
    ticking = 0.0
    ticks = 0
    with scheduler_ticks_only_when_called():  # every tick is timed here, none runs inside the engine's loop
        while True:
            started = time.perf_counter()
            advance_campaigns()
            ticking += time.perf_counter() - started
            ticks += 1
            campaign.refresh_from_db()
            if campaign.state != Campaign.State.RUNNING:
                break
            run_pending_work(timeout=1800)
    assert campaign.state == Campaign.State.SUCCEEDED
    assert CampaignCluster.objects.filter(campaign=campaign, state="succeeded").count() == CLUSTERS
    per_cluster = ticking / CLUSTERS
    print(
        f"\ncampaign over {CLUSTERS} clusters, {ticks} ticks: scheduler {per_cluster * 1000:.2f} ms per cluster, "
        f"baseline upgrade_start without a campaign {baseline * 1000:.2f} ms per cluster: "
        f"ratio {per_cluster / baseline:.2f}"
    )

    client = Client()
    client.force_login(make_user("viewer"))
    url = f"/campaigns/{campaign.pk}/"
    assert client.get(url).status_code == 200 and client.get("/counters/").status_code == 200
    page, trivial = [], []
    for _ in range(PAGE_SAMPLES):
        started = time.perf_counter()
        client.get(url)
        page.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.get("/counters/")
        trivial.append(time.perf_counter() - started)

    print(
        f"campaign page ({CLUSTERS} cells) p95 {p95(page) * 1000:.1f} ms, trivial page p95 "
        f"{p95(trivial) * 1000:.1f} ms: ratio {p95(page) / p95(trivial):.1f}"
    )
