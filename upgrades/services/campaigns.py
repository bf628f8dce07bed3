"""Campaign services: create, approve, start, pause, resume, skip a cluster, abort. Each is one transaction that
locks the campaign row, checks the actor's role and the campaign's state, audits what it did (a refusal too,
with the reason) and, on commit, tells the feed so open campaign pages re-read. The scheduler
(upgrades/services/campaign_scheduler.py) does the rest: it starts each cluster's run and moves the waves."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from upgrades.audit import Actor, audit, reason_checked
from upgrades.events import publish_feed_on_commit
from upgrades.models import Approval, AuditEntry, Campaign, CampaignCluster, CampaignWave, Cluster
from upgrades.models.campaigns import ACTIVE_MEMBER_STATES
from upgrades.notifications.campaigns import enqueue_campaign_notification
from upgrades.roles import has_role
from upgrades.services.approvals import ApprovalRefused, approval_for, approval_record
from upgrades.services.campaign_plan import CampaignPlan, CampaignRefused, normalized_filter, plan_campaign
from upgrades.services.campaign_policy import needs_approval

State = Campaign.State
Member = CampaignCluster.State
Action = AuditEntry.Action
NAME_MAX = 100
# The Approval subject_type of campaigns.
APPROVAL_SUBJECT = "campaign"

__all__ = [
    "CampaignRefused",
    "campaign_abort",
    "campaign_approval",
    "campaign_approve",
    "campaign_create",
    "campaign_pause",
    "campaign_resume",
    "campaign_skip_cluster",
    "campaign_start",
    "campaign_changed",
    "campaign_notify",
]


def campaign_changed(campaign: Campaign) -> None:
    """After commit: tell the feed (pages showing the campaign re-read it)."""
    publish_feed_on_commit(
        {
            "kind": "campaign.updated",
            "campaign_id": campaign.pk,
            "state": campaign.state,
            "at": timezone.now().isoformat(),
        }
    )


def campaign_notify(campaign: Campaign, event: str, *, detail: str = "", **extra: object) -> None:
    """Queue the campaign's notification `event` in the current transaction."""
    cluster_ids = CampaignCluster.objects.filter(campaign=campaign).values_list("cluster_id", flat=True)
    enqueue_campaign_notification(event=event, campaign=campaign, cluster_ids=cluster_ids, detail=detail, **extra)


def _detail(campaign: Campaign | None, **extra: object) -> dict:
    base = {"campaign": campaign.pk, "name": campaign.name} if campaign is not None else {}
    return {**base, **extra}


@contextmanager
def _refusals_audited(
    *, actor: Actor, action: str, campaign: Campaign | None, reason: str, **extra: object
) -> Iterator[None]:
    """Audit a CampaignRefused escaping the block as a REFUSED `action` (outside the rolled-back transaction)."""
    try:
        yield
    except CampaignRefused as refusal:
        audit(
            actor=actor,
            action=action,
            outcome=AuditEntry.Outcome.REFUSED,
            reason=reason,
            detail=_detail(campaign, message=str(refusal), **extra),
        )
        raise


def _require_role(actor: Actor, role: str) -> None:
    """People need the role; commands (the system actor) act as the machine's operator; tokens never run campaigns."""
    if actor.token is not None:
        raise CampaignRefused(_("Campaigns are run from the pages or manage.py campaign, not with an API token."))
    if actor.user is not None and not has_role(actor.user, role):
        raise CampaignRefused(_("This needs the %(role)s role.") % {"role": role})


@contextmanager
def _locked(campaign: Campaign, *, allowed: Sequence[str], doing: str) -> Iterator[Campaign]:
    """The campaign's row, locked until the transaction ends, if its state allows `doing`."""
    row = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if row.state not in allowed:
        raise CampaignRefused(
            _("Campaign “%(name)s” is %(state)s: it cannot be %(doing)s.")
            % {"name": row.name, "state": row.get_state_display(), "doing": doing}
        )
    yield row


def _checked_targets(targets: dict) -> dict:
    cleaned = {}
    for edition, target in (targets or {}).items():
        version = str((target or {}).get("version", "")).strip()
        release = str((target or {}).get("release", "")).strip()
        if not version or not release:
            raise CampaignRefused(
                _("A target needs a version and a release (edition %(edition)s).") % {"edition": edition}
            )
        cleaned[str(edition)] = {"version": version, "release": release}
    if not cleaned:
        raise CampaignRefused(_("Name a target build."))
    return cleaned


def campaign_create(
    *,
    name: str,
    targets: dict,
    cluster_filter: dict,
    actor: Actor,
    allow_downtime: bool = False,
    canary: Sequence[str] = (),
    canary_size: int = 1,
    wave_size: int = 4,
    max_parallel: int = 2,
    soak_minutes: int = 0,
    failure_threshold: int = 1,
    reason: str = "",
) -> Campaign:
    """Resolve the clusters now and store them in waves (the clusters left out listed with why). The campaign is a
    draft, or awaiting approval when it touches production clusters."""
    reason = reason_checked(reason)
    flt = normalized_filter(cluster_filter)
    with _refusals_audited(actor=actor, action=Action.CAMPAIGN_CREATE, campaign=None, reason=reason, name=name):
        _require_role(actor, "operator")
        name = (name or "").strip()
        if not name or len(name) > NAME_MAX:
            raise CampaignRefused(_("A campaign needs a name of 1 to %(max)s characters.") % {"max": NAME_MAX})
        if min(wave_size, max_parallel, failure_threshold) < 1 or canary_size < 1:
            raise CampaignRefused(_("Wave size, clusters at once and failures before pausing must be at least 1."))
        if not flt:
            raise CampaignRefused(_("Pick clusters, or filter them by edition, build, name or label."))
        targets = _checked_targets(targets)
        plan = plan_campaign(
            cluster_filter=flt,
            targets=targets,
            allow_downtime=allow_downtime,
            canary=canary,
            canary_size=canary_size,
            wave_size=wave_size,
        )
        if not plan.members:
            raise CampaignRefused(_("No cluster matches the filter."))
        if not plan.waves:
            raise CampaignRefused(_("Every matching cluster is left out: nothing to upgrade."))
        with transaction.atomic():
            campaign = Campaign.objects.create(
                name=name,
                targets=targets,
                allow_downtime=allow_downtime,
                cluster_filter=flt,
                canary_size=len(plan.waves[0]),
                wave_size=wave_size,
                max_parallel=max_parallel,
                soak_minutes=soak_minutes,
                failure_threshold=failure_threshold,
                needs_approval=needs_approval([member.cluster for member in plan.taking_part]),
                reason=reason,
                created_by=actor.user,
                created_by_label=actor.label,
            )
            if campaign.needs_approval:
                campaign.state = State.AWAITING_APPROVAL
                campaign.save(update_fields=["state"])
            _create_members(campaign, plan)
            audit(
                actor=actor,
                action=Action.CAMPAIGN_CREATE,
                reason=reason,
                detail=_detail(
                    campaign,
                    targets=targets,
                    filter=flt,
                    clusters=len(plan.taking_part),
                    left_out=len(plan.left_out),
                    waves=len(plan.waves),
                ),
            )
            campaign_changed(campaign)
    return campaign


def _create_members(campaign: Campaign, plan: CampaignPlan) -> None:
    waves = CampaignWave.objects.bulk_create(
        [CampaignWave(campaign=campaign, number=number) for number in range(len(plan.waves))]
    )
    rows = []
    position = 0
    for wave, members in zip(waves, plan.waves, strict=True):
        for member in members:
            position += 1
            rows.append(
                CampaignCluster(
                    campaign=campaign,
                    wave=wave,
                    cluster=member.cluster,
                    position=position,
                    version=member.version,
                    release=member.release,
                    mode=member.mode,
                )
            )
    for member in plan.left_out:
        position += 1
        rows.append(
            CampaignCluster(
                campaign=campaign,
                cluster=member.cluster,
                position=position,
                state=Member.ALREADY_ON_TARGET if member.on_target else Member.SKIPPED,
                version=member.version,
                release=member.release,
                reason=member.left_out,
            )
        )
    CampaignCluster.objects.bulk_create(rows)


def campaign_approve(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    """A second person (operator or admin, not the creator) approves a campaign that touches production: the
    approvals rule (upgrades/services/approvals.py) decides who may, and keeps the decision (subject "campaign")."""
    reason = reason_checked(reason)
    with (
        _refusals_audited(actor=actor, action=Action.CAMPAIGN_APPROVE, campaign=campaign, reason=reason),
        transaction.atomic(),
        _locked(campaign, allowed=[State.AWAITING_APPROVAL], doing=_("approved")) as row,
    ):
        try:
            approval_record(
                subject_type=APPROVAL_SUBJECT,
                subject_id=row.pk,
                decision=Approval.Decision.APPROVED,
                actor=actor,
                requester=row.created_by,
                reason=reason,
                action=Action.CAMPAIGN_APPROVE,
                detail=_detail(row),
            )
        except ApprovalRefused as refusal:
            raise CampaignRefused(refusal.message) from None
        row.state = State.DRAFT
        row.save(update_fields=["state"])
        campaign_changed(row)
    return row


def campaign_approval(campaign: Campaign) -> Approval | None:
    """The approval of a campaign, None while it has none."""
    return approval_for(subject_type=APPROVAL_SUBJECT, subject_id=campaign.pk)


def campaign_start(
    *,
    campaign: Campaign,
    actor: Actor,
    reason: str = "",
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Start a draft (approved where it needed approval): running now, or scheduled until `not_before`."""
    reason = reason_checked(reason)
    now = now or timezone.now()
    with _refusals_audited(actor=actor, action=Action.CAMPAIGN_START, campaign=campaign, reason=reason):
        _require_role(actor, "operator")
        with transaction.atomic():
            row = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if row.state == State.AWAITING_APPROVAL:
                raise CampaignRefused(
                    _("Campaign “%(name)s” touches production clusters: a second person must approve it first.")
                    % {"name": row.name}
                )
            with _locked(row, allowed=[State.DRAFT], doing=_("started")) as row:
                scheduled = not_before is not None and not_before > now
                row.state = State.SCHEDULED if scheduled else State.RUNNING
                row.not_before = not_before
                row.started_by = actor.user
                row.started_by_label = actor.label
                if not scheduled:
                    row.started_at = now
                row.save(update_fields=["state", "not_before", "started_by", "started_by_label", "started_at"])
                audit(
                    actor=actor,
                    action=Action.CAMPAIGN_START,
                    reason=reason,
                    detail=_detail(row, not_before=not_before.isoformat() if not_before else None),
                )
                if not scheduled:
                    campaign_notify(row, "campaign.started")
                campaign_changed(row)
    return row


def campaign_pause(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    """No new cluster starts; runs already going carry on (each is operated on its own run page)."""
    reason = reason_checked(reason)
    with _refusals_audited(actor=actor, action=Action.CAMPAIGN_PAUSE, campaign=campaign, reason=reason):
        _require_role(actor, "operator")
        with (
            transaction.atomic(),
            _locked(campaign, allowed=[State.RUNNING, State.SCHEDULED], doing=_("paused")) as row,
        ):
            row.state = State.PAUSED
            row.state_reason = _("paused by %(actor)s: %(reason)s") % {"actor": actor.label, "reason": reason or "-"}
            row.save(update_fields=["state", "state_reason"])
            audit(actor=actor, action=Action.CAMPAIGN_PAUSE, reason=reason, detail=_detail(row))
            campaign_notify(row, "campaign.paused", detail=row.state_reason)
            campaign_changed(row)
    return row


def campaign_resume(*, campaign: Campaign, actor: Actor, reason: str = "", skip_failed: bool = False) -> Campaign:
    """Carry on. With skip_failed the failed clusters are skipped; without, their failures are counted as seen,
    so the failure policy counts only new ones."""
    reason = reason_checked(reason)
    with _refusals_audited(actor=actor, action=Action.CAMPAIGN_RESUME, campaign=campaign, reason=reason):
        _require_role(actor, "operator")
        with transaction.atomic(), _locked(campaign, allowed=[State.PAUSED], doing=_("resumed")) as row:
            failed = CampaignCluster.objects.filter(campaign=row, state=Member.FAILED)
            skipped = []
            if skip_failed:
                skipped = list(failed.values_list("cluster__name", flat=True))
                failed.update(state=Member.SKIPPED, reason=_("skipped on resume by %(actor)s") % {"actor": actor.label})
                row.failures_acknowledged = 0
            else:
                row.failures_acknowledged = failed.count()
            row.state = State.RUNNING if row.started_at is not None or row.not_before is None else State.SCHEDULED
            if row.started_at is None and row.state == State.RUNNING:
                row.started_at = timezone.now()
            row.state_reason = ""
            row.save(update_fields=["state", "state_reason", "failures_acknowledged", "started_at"])
            audit(
                actor=actor,
                action=Action.CAMPAIGN_RESUME,
                reason=reason,
                detail=_detail(row, skip_failed=skip_failed, skipped=skipped),
            )
            campaign_changed(row)
    return row


def campaign_skip_cluster(*, campaign: Campaign, cluster: Cluster, actor: Actor, reason: str = "") -> CampaignCluster:
    """Leave one cluster out (one not started yet, or one that failed); a running one is acted on on its run page."""
    reason = reason_checked(reason)
    with _refusals_audited(
        actor=actor, action=Action.CAMPAIGN_SKIP_CLUSTER, campaign=campaign, reason=reason, cluster=cluster.name
    ):
        _require_role(actor, "operator")
        with (
            transaction.atomic(),
            _locked(
                campaign,
                allowed=[State.DRAFT, State.AWAITING_APPROVAL, State.SCHEDULED, State.RUNNING, State.PAUSED],
                doing=_("changed"),
            ) as row,
        ):
            member = CampaignCluster.objects.select_for_update().filter(campaign=row, cluster=cluster).first()
            if member is None:
                raise CampaignRefused(_("%(cluster)s is not in this campaign.") % {"cluster": cluster.name})
            if member.state not in {*ACTIVE_MEMBER_STATES, Member.FAILED}:
                raise CampaignRefused(
                    _("%(cluster)s is %(state)s: only a waiting or failed cluster can be skipped.")
                    % {"cluster": cluster.name, "state": member.get_state_display()}
                )
            member.state = Member.SKIPPED
            member.reason = _("skipped by %(actor)s: %(reason)s") % {"actor": actor.label, "reason": reason or "-"}
            member.save(update_fields=["state", "reason"])
            audit(
                actor=actor,
                action=Action.CAMPAIGN_SKIP_CLUSTER,
                cluster=cluster,
                reason=reason,
                detail=_detail(row, cluster=cluster.name),
            )
            campaign_changed(row)
    return member


def campaign_abort(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    """Stop for good: nothing more starts, the clusters not started are skipped. Runs already going carry on."""
    reason = reason_checked(reason)
    with _refusals_audited(actor=actor, action=Action.CAMPAIGN_ABORT, campaign=campaign, reason=reason):
        _require_role(actor, "operator")
        with (
            transaction.atomic(),
            _locked(
                campaign,
                allowed=[State.DRAFT, State.AWAITING_APPROVAL, State.SCHEDULED, State.RUNNING, State.PAUSED],
                doing=_("aborted"),
            ) as row,
        ):
            CampaignCluster.objects.filter(campaign=row, state__in=ACTIVE_MEMBER_STATES).update(
                state=Member.SKIPPED, reason=_("campaign aborted")
            )
            row.state = State.ABORTED
            row.state_reason = _("aborted by %(actor)s: %(reason)s") % {"actor": actor.label, "reason": reason or "-"}
            row.finished_at = timezone.now()
            row.save(update_fields=["state", "state_reason", "finished_at"])
            audit(actor=actor, action=Action.CAMPAIGN_ABORT, reason=reason, detail=_detail(row))
            campaign_notify(row, "campaign.finished", detail=row.state_reason)
            campaign_changed(row)
    return row
