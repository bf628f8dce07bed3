"""Campaign test support: a fleet of simulated clusters on the start build, the target stocked, and a driver
that alternates scheduler ticks (at a clock the test sets) with the engine running the runs to their end."""

from contextlib import contextmanager
from datetime import UTC, datetime

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine import periodic
from upgrades.engine.runner import run_pending_work
from upgrades.models import Campaign, CampaignCluster
from upgrades.services.campaign_scheduler import JOB_NAME, advance_campaigns
from upgrades.services.campaigns import campaign_create

# A Tuesday, 02:00 UTC.
FROZEN = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TARGETS = {"community": {"version": TARGET.version, "release": TARGET.release}}


@contextmanager
def scheduler_ticks_only_when_called():
    """The in-process engine (run_pending_work) also runs due periodic jobs: without this, the campaign job
    would tick there too, at the real clock instead of the test's."""
    job = next(job for job in periodic.registered() if job.name == JOB_NAME)
    periodic.unregister(JOB_NAME)
    try:
        yield
    finally:
        periodic.register(job.name, job.interval_seconds, job.function, lease_seconds=job.lease_seconds)


def make_fleet(count, *, prefix="c", stock=True, **kw):
    if stock:
        stock_packages(TARGET)
    return [make_cluster(f"{prefix}{i:02d}", **kw) for i in range(1, count + 1)]


def create(clusters, *, actor=None, **kw):
    options = {"wave_size": 4, "max_parallel": 2, "canary_size": 1}
    options.update(kw)
    return campaign_create(
        name=options.pop("name", "fleet to 4.3.0.1"),
        targets=options.pop("targets", TARGETS),
        cluster_filter={"clusters": [cluster.name for cluster in clusters]},
        actor=actor or Actor.for_user(make_user("operator")),
        **options,
    )


def drive(campaign, *, now=FROZEN, ticks=200):
    """Tick and run until the campaign stops advancing (finished, paused) or `ticks` ticks passed."""
    for _ in range(ticks):
        advance_campaigns(now=now)
        campaign.refresh_from_db()
        if campaign.state not in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
            return campaign
        if not CampaignCluster.objects.filter(campaign=campaign, state=CampaignCluster.State.RUNNING).exists():
            return campaign  # nothing runs and nothing could start (windows): waiting
        run_pending_work(timeout=60)
    return campaign


def states(campaign):
    return {
        member.cluster.name: member.state
        for member in CampaignCluster.objects.filter(campaign=campaign).select_related("cluster")
    }
