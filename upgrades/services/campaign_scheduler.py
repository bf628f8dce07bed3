"""The campaign scheduler: the periodic job `campaign-advance` moves every running campaign one step.

One tick of a campaign, in one transaction holding its row (select_for_update(skip_locked): with several
workers a campaign is advanced by one of them at a time, the others pass it by):
1. a scheduled campaign whose start time has come starts running;
2. the clusters' cells follow their runs (running, succeeded, failed; a run rolled back is a failure, a failed
   run the DBA retried is running again);
3. the failure policy: `failure_threshold` failures since the start (or the last resume) pause the campaign;
4. the current wave: it starts when the previous one is done and its soak time has passed; its clusters start,
   in order, while fewer than `max_parallel` runs go, each only inside its maintenance window and only if its
   usual duration fits before the window ends (else the cell waits for its window);
5. when every wave is done the campaign finishes (succeeded, or failed if a cluster failed and was not skipped).
Each start is an ordinary run through upgrade_start (same run page, same audit), its reason naming the campaign
and wave. Ticks are idempotent: a tick that dies mid-way rolls back whole and the next one does it again. The
clock is a parameter (`now`), so tests freeze it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from upgrades.audit import Actor, audit
from upgrades.engine import periodic
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Campaign, CampaignCluster, CampaignWave, Server
from upgrades.models.campaigns import ACTIVE_MEMBER_STATES
from upgrades.models.dag import Operator
from upgrades.models.dag import State as DagState
from upgrades.services.campaign_eta import campaign_eta
from upgrades.services.campaign_plan import on_target
from upgrades.services.campaign_policy import cluster_windows, expected_upgrade_seconds, start_window
from upgrades.services.campaigns import campaign_changed, campaign_notify
from upgrades.services.dag_start import upgrade_start

logger = logging.getLogger(__name__)

JOB_NAME = "campaign-advance"
TICK_SECONDS = settings.CAMPAIGN_TICK_SECONDS
# The ETA is re-estimated at most this often while nothing changes (it reads every waiting cluster's window).
ETA_EVERY = timedelta(seconds=30)

State = Campaign.State
Member = CampaignCluster.State
ADVANCING = (State.RUNNING, State.SCHEDULED)


def advance_campaigns(*, now: datetime | None = None) -> int:
    """One tick of every running or scheduled campaign; returns how many this call advanced."""
    now = now or timezone.now()
    advanced = 0
    for campaign_id in Campaign.objects.filter(state__in=ADVANCING).order_by("id").values_list("pk", flat=True):
        try:
            advanced += advance_campaign(campaign_id, now=now)
        except Exception:
            # One campaign's trouble (its tick rolled back) must not hold up the others.
            logger.exception("advancing campaign %s failed", campaign_id)
    return advanced


def advance_campaign(campaign_id: int, *, now: datetime) -> bool:
    """One tick of one campaign; False when another worker holds it or it is not running."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(skip_locked=True).filter(pk=campaign_id, state__in=ADVANCING).first()
        )
        if campaign is None:
            return False
        _Tick(campaign, now).run()
    return True


class _Tick:
    def __init__(self, campaign: Campaign, now: datetime):
        self.campaign = campaign
        self.now = now
        self.changed = False

    def run(self) -> None:
        campaign = self.campaign
        if campaign.state == State.SCHEDULED:
            if campaign.not_before is not None and campaign.not_before > self.now:
                return
            campaign.state = State.RUNNING
            campaign.started_at = self.now
            campaign.save(update_fields=["state", "started_at"])
            campaign_notify(campaign, "campaign.started")
            self.changed = True
        self._follow_runs()
        if not self._pause_on_failures():
            self._advance_waves()
        if campaign.state == State.RUNNING and (
            self.changed or campaign.eta_at is None or self.now - campaign.eta_at >= ETA_EVERY
        ):
            campaign.eta = campaign_eta(campaign, now=self.now)
            campaign.eta_at = self.now
            campaign.save(update_fields=["eta", "eta_at"])
        if self.changed:
            campaign_changed(campaign)

    # 2. cells follow their runs
    def _follow_runs(self) -> None:
        rows = CampaignCluster.objects.filter(
            campaign=self.campaign, state__in=[Member.RUNNING, Member.FAILED], dag__isnull=False
        ).values_list("pk", "state", "dag__state", "dag__operator", "dag__stage", "dag__end_time")
        for pk, state, dag_state, operator, stage, end_time in rows:
            if dag_state == DagState.SUCCEED and operator != Operator.ROLLBACK:
                new, reason, finished = Member.SUCCEEDED, "", end_time
            elif dag_state == DagState.SUCCEED:
                new, reason, finished = Member.FAILED, _("the run was rolled back"), end_time
            elif dag_state == DagState.FAILED:
                new, reason, finished = (
                    Member.FAILED,
                    _("the run failed at stage %(stage)s") % {"stage": stage},
                    end_time,
                )
            else:
                new, reason, finished = Member.RUNNING, "", None
            if new != state:
                CampaignCluster.objects.filter(pk=pk).update(state=new, reason=reason, finished_at=finished)
                self.changed = True

    # 3. the failure policy
    def _pause_on_failures(self) -> bool:
        campaign = self.campaign
        failed = CampaignCluster.objects.filter(campaign=campaign, state=Member.FAILED).count()
        if failed - campaign.failures_acknowledged < campaign.failure_threshold:
            return False
        names = list(
            CampaignCluster.objects.filter(campaign=campaign, state=Member.FAILED)
            .order_by("position")
            .values_list("cluster__name", flat=True)[:10]
        )
        campaign.state = State.PAUSED
        campaign.state_reason = _("paused after %(count)s failed cluster(s): %(names)s") % {
            "count": failed - campaign.failures_acknowledged,
            "names": ", ".join(names),
        }
        campaign.save(update_fields=["state", "state_reason"])
        audit(
            actor=Actor.system("campaign scheduler"),
            action=AuditEntry.Action.CAMPAIGN_PAUSE,
            reason=campaign.state_reason,
            detail={"campaign": campaign.pk, "name": campaign.name, "failed": names},
        )
        campaign_notify(campaign, "campaign.paused", detail=campaign.state_reason)
        self.changed = True
        return True

    # 4. and 5. waves
    def _advance_waves(self) -> None:
        campaign = self.campaign
        open_counts = dict(
            CampaignWave.objects.filter(campaign=campaign)
            .annotate(
                open=Count(
                    "members",
                    filter=Q(members__state__in=[*ACTIVE_MEMBER_STATES, Member.RUNNING]),
                )
            )
            .values_list("pk", "open")
        )
        previous_end: datetime | None = None
        for wave in CampaignWave.objects.filter(campaign=campaign).order_by("number"):
            if wave.finished_at is not None:
                previous_end = wave.finished_at
                continue
            if wave.started_at is None:
                soak_end = previous_end + timedelta(minutes=campaign.soak_minutes) if previous_end else None
                if soak_end is not None and soak_end > self.now:
                    return  # soaking
                wave.started_at = self.now
                wave.save(update_fields=["started_at"])
                self.changed = True
            if open_counts.get(wave.pk, 0):
                self._start_clusters(wave)
                if CampaignCluster.objects.filter(
                    wave=wave, state__in=[*ACTIVE_MEMBER_STATES, Member.RUNNING]
                ).exists():
                    return
            wave.finished_at = self.now
            wave.save(update_fields=["finished_at"])
            self.changed = True
            campaign_notify(campaign, "campaign.wave_done", detail=_wave_name(wave), wave=wave.number)
            if self._pause_on_failures():
                return
            previous_end = wave.finished_at
        self._finish()

    def _start_clusters(self, wave: CampaignWave) -> None:
        campaign = self.campaign
        running = CampaignCluster.objects.filter(campaign=campaign, state=Member.RUNNING).count()
        slots = campaign.max_parallel - running
        if slots <= 0:
            return
        waiting = list(
            CampaignCluster.objects.filter(wave=wave, state__in=ACTIVE_MEMBER_STATES)
            .select_related("cluster")
            .order_by("position")
        )
        if not waiting:
            return
        builds = _builds([member.cluster_id for member in waiting])
        expected = expected_upgrade_seconds(waiting)
        windows = cluster_windows(member.cluster_id for member in waiting)
        for member in waiting:
            if slots <= 0:
                break
            if on_target(builds.get(member.cluster_id, set()), member.version, member.release):
                self._set(member, Member.ALREADY_ON_TARGET, _("already on the target"), finished=True)
                continue
            decision = start_window(
                member.cluster,
                now=self.now,
                expected_seconds=expected.get(member.cluster_id),
                windows=windows[member.cluster_id],
            )
            if not decision.allowed:
                self._set(member, Member.WAITING_WINDOW, decision.reason)
                continue
            if self._start(member, wave):
                slots -= 1
            elif self._pause_on_failures():
                return

    def _start(self, member: CampaignCluster, wave: CampaignWave) -> bool:
        campaign = self.campaign
        actor = Actor(
            label=f"campaign {campaign.pk} ({campaign.started_by_label or 'system'})"[:200], user=campaign.started_by
        )
        reason = f"campaign “{campaign.name}” (#{campaign.pk}), {_wave_name(wave)}"
        if campaign.reason:
            reason += f": {campaign.reason}"
        try:
            # No savepoint of ours: a refused start's audit entry (written by upgrade_start) must stay; the DAG's
            # own creation is atomic inside upgrade_start.
            dag = upgrade_start(
                cluster=member.cluster,
                version=member.version,
                release=member.release,
                mode=member.mode,
                actor=actor,
                reason=reason[:2000],
            )
        except ObshellError as error:
            self._set(member, Member.FAILED, _("not started: %(message)s") % {"message": error.message}, finished=True)
            return False
        member.state = Member.RUNNING
        member.dag = dag
        member.reason = ""
        member.started_at = self.now
        member.save(update_fields=["state", "dag", "reason", "started_at"])
        self.changed = True
        return True

    def _set(self, member: CampaignCluster, state: str, reason: str, *, finished: bool = False) -> None:
        if member.state == state and member.reason == reason:
            return
        member.state = state
        member.reason = reason
        member.finished_at = self.now if finished else None
        member.save(update_fields=["state", "reason", "finished_at"])
        self.changed = True

    def _finish(self) -> None:
        campaign = self.campaign
        failed = CampaignCluster.objects.filter(campaign=campaign, state=Member.FAILED).count()
        campaign.state = State.FAILED if failed else State.SUCCEEDED
        campaign.state_reason = _("%(count)s cluster(s) failed") % {"count": failed} if failed else ""
        campaign.finished_at = self.now
        campaign.eta = None
        campaign.save(update_fields=["state", "state_reason", "finished_at", "eta"])
        audit(
            actor=Actor.system("campaign scheduler"),
            action=AuditEntry.Action.CAMPAIGN_FINISH,
            outcome=AuditEntry.Outcome.FAILED if failed else AuditEntry.Outcome.OK,
            reason=campaign.state_reason,
            detail={"campaign": campaign.pk, "name": campaign.name, "state": campaign.state},
        )
        campaign_notify(campaign, "campaign.finished", detail=campaign.state_reason)
        self.changed = True


def _wave_name(wave: CampaignWave) -> str:
    return _("canary wave") if wave.number == 0 else _("wave %(number)s") % {"number": wave.number}


def _builds(cluster_ids: Iterable[int]) -> dict[int, set[str]]:
    builds: dict[int, set[str]] = {}
    for cluster_id, build in Server.objects.filter(cluster_id__in=list(cluster_ids)).values_list(
        "cluster_id", "build_version"
    ):
        builds.setdefault(cluster_id, set()).add(build)
    return builds


def campaign_advance_job() -> int:
    return advance_campaigns()


periodic.register(JOB_NAME, TICK_SECONDS, campaign_advance_job)
