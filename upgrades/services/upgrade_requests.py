"""Upgrade requests: an upgrade of a production cluster asked for from the pages waits for a second person.

    upgrade_request_create(...)   pending (one per cluster), audited
    upgrade_request_approve(...)  records the Approval, then starts the run through the ordinary start service
    upgrade_request_start(...)    starts an approved request whose start was refused earlier (a retry)
    upgrade_request_refuse(...)   records the refusal (the requester may withdraw)

A pending request expires settings.UPGRADE_REQUEST_HOURS after it was made: acting on it then marks it expired.
The run a request starts is an ordinary run: same DAG, run page and audit (its actor is the approver, its reason
the requester's, naming both)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from upgrades.audit import REASON_MAX_LENGTH, Actor, audit, audit_refusals, reason_checked
from upgrades.errors import ObshellError, bad_request
from upgrades.models import Approval, AuditEntry, Cluster, Dag, UpgradeRequest
from upgrades.services.approvals import ApprovalRefused, approval_record
from upgrades.services.dag_start import agent_upgrade_start, upgrade_start
from upgrades.services.guards import role_refusal

SUBJECT = "upgrade_request"
State = UpgradeRequest.State


def upgrade_request_create(
    *,
    cluster: Cluster,
    kind: str = UpgradeRequest.Kind.UPGRADE,
    version: str,
    release: str,
    mode: str = "",
    upgrade_dir: str = "",
    freeze_server: bool = False,
    actor: Actor,
    reason: str,
) -> UpgradeRequest:
    """Ask for an upgrade that waits for approval. One pending request per cluster (the database enforces it)."""
    reason = reason_checked(reason).strip()
    detail = {"kind": kind, "version": version, "release": release, "mode": mode}
    with audit_refusals(
        actor=actor, action=AuditEntry.Action.UPGRADE_REQUEST_CREATE, cluster=cluster, reason=reason, detail=detail
    ):
        refusal = role_refusal(actor, "operator", "asking for an upgrade")
        if refusal is not None or actor.user is None:
            raise refusal or ApprovalRefused("An upgrade request is made by a signed-in operator or admin.")
        if kind not in UpgradeRequest.Kind.values:
            raise bad_request("Common.IllegalArgument", f"unknown kind {kind!r}")
        if not reason:
            raise bad_request("Common.IllegalArgument", "an upgrade request needs a reason")
        _expire_stale(cluster)
        try:
            with transaction.atomic():
                request = UpgradeRequest.objects.create(
                    cluster=cluster,
                    kind=kind,
                    version=version,
                    release=release,
                    mode=mode,
                    upgrade_dir=upgrade_dir,
                    freeze_server=freeze_server,
                    requested_by=actor.user,
                    requested_by_label=actor.label,
                    reason=reason,
                    expires_at=timezone.now() + timedelta(hours=settings.UPGRADE_REQUEST_HOURS),
                )
                audit(
                    actor=actor,
                    action=AuditEntry.Action.UPGRADE_REQUEST_CREATE,
                    cluster=cluster,
                    reason=reason,
                    detail={**detail, "request": request.pk},
                )
        except IntegrityError:
            pending = UpgradeRequest.objects.filter(cluster=cluster, state=State.PENDING).first()
            who = f" by {pending.requested_by_label}" if pending else ""
            raise ObshellError(
                "Common.PermissionDenied",
                f"An upgrade of {cluster.name} already waits for approval (asked{who}): approve or refuse it first.",
                status=409,
            ) from None
    return request


def _expire_stale(cluster: Cluster) -> None:
    """Mark the cluster's pending requests past their expiry as expired."""
    UpgradeRequest.objects.filter(cluster=cluster, state=State.PENDING, expires_at__lte=timezone.now()).update(
        state=State.EXPIRED, decided_at=timezone.now(), decided_by_label="system"
    )


def _decide(*, request: UpgradeRequest, decision: str, actor: Actor, reason: str) -> UpgradeRequest:
    """Record the decision on a pending request. Refusals are audited and committed (the request row stays as it
    was, or becomes expired) before they are raised."""
    action = (
        AuditEntry.Action.UPGRADE_REQUEST_APPROVE
        if decision == Approval.Decision.APPROVED
        else AuditEntry.Action.UPGRADE_REQUEST_REFUSE
    )
    detail = {"request": request.pk, "kind": request.kind, "target": request.target, "mode": request.mode}
    error: ObshellError | None = None
    with transaction.atomic():
        locked = UpgradeRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state == State.PENDING and locked.expires_at <= timezone.now():
            locked.state = State.EXPIRED
            locked.decided_at = timezone.now()
            locked.decided_by_label = "system"
            locked.save(update_fields=["state", "decided_at", "decided_by_label"])
        if locked.state != State.PENDING:
            error = ApprovalRefused(
                f"This upgrade request is {locked.state}{_by(locked)}: only a pending one can be decided.", status=409
            )
            audit(
                actor=actor,
                action=action,
                cluster=locked.cluster,
                outcome=AuditEntry.Outcome.REFUSED,
                reason=reason,
                detail={**detail, "errCode": error.err_code, "message": error.message},
            )
        else:
            try:
                approval_record(
                    subject_type=SUBJECT,
                    subject_id=locked.pk,
                    decision=decision,
                    actor=actor,
                    requester=locked.requested_by,
                    reason=reason,
                    cluster=locked.cluster,
                    action=action,
                    detail=detail,
                )
            except ObshellError as refused:  # approval_record audited it; keep that entry
                error = refused
            else:
                locked.state = State.APPROVED if decision == Approval.Decision.APPROVED else State.REFUSED
                locked.decided_at = timezone.now()
                locked.decided_by_label = actor.label
                locked.decision_reason = reason
                locked.save(update_fields=["state", "decided_at", "decided_by_label", "decision_reason"])
    if error is not None:
        raise error
    return locked


def _by(request: UpgradeRequest) -> str:
    return f" (by {request.decided_by_label})" if request.decided_by_label else ""


def upgrade_request_approve(*, request: UpgradeRequest, actor: Actor, reason: str = "") -> UpgradeRequest:
    """Approve a pending request (check_approver: not its requester, an operator or admin), audited, then start
    its run. A refused start leaves it approved with `start_error` (upgrade_request_start retries it)."""
    reason = reason_checked(reason)
    approved = _decide(request=request, decision=Approval.Decision.APPROVED, actor=actor, reason=reason)
    return upgrade_request_start(request=approved, actor=actor)


def upgrade_request_refuse(*, request: UpgradeRequest, actor: Actor, reason: str = "") -> UpgradeRequest:
    """Refuse a pending request (an operator or admin; its requester may withdraw it), audited."""
    reason = reason_checked(reason)
    return _decide(request=request, decision=Approval.Decision.REFUSED, actor=actor, reason=reason)


def upgrade_request_start(*, request: UpgradeRequest, actor: Actor) -> UpgradeRequest:
    """Start the run of an approved request through the ordinary start service. The request is claimed first
    (approved -> started, one conditional UPDATE), so two clicks start one run; a refused start gives it back
    (approved, with the refusal in `start_error`)."""
    refusal = role_refusal(actor, "operator", "starting an upgrade")
    if refusal is not None:
        raise refusal
    claimed = UpgradeRequest.objects.filter(pk=request.pk, state=State.APPROVED, dag__isnull=True).update(
        state=State.STARTED, start_error=""
    )
    request.refresh_from_db()
    if not claimed:
        raise ApprovalRefused(f"This upgrade request is {request.state}: only an approved one can start.", status=409)
    try:
        dag = _start_run(request, actor)
    except ObshellError as error:
        UpgradeRequest.objects.filter(pk=request.pk, state=State.STARTED, dag__isnull=True).update(
            state=State.APPROVED, start_error=error.message
        )
        request.refresh_from_db()
        return request
    UpgradeRequest.objects.filter(pk=request.pk).update(dag=dag)
    request.refresh_from_db()
    return request


def _start_run(request: UpgradeRequest, actor: Actor) -> Dag:
    requester = request.requested_by_label.removeprefix("user ")
    approver = request.decided_by_label.removeprefix("user ")
    suffix = f" (asked by {requester}, approved by {approver}: request {request.pk})"
    reason = request.reason[: REASON_MAX_LENGTH - len(suffix)] + suffix
    if request.kind == UpgradeRequest.Kind.AGENT_UPGRADE:
        return agent_upgrade_start(
            cluster=request.cluster,
            version=request.version,
            release=request.release,
            upgrade_dir=request.upgrade_dir,
            actor=actor,
            reason=reason,
        )
    return upgrade_start(
        cluster=request.cluster,
        version=request.version,
        release=request.release,
        mode=request.mode,
        upgrade_dir=request.upgrade_dir,
        freeze_server=request.freeze_server,
        actor=actor,
        reason=reason,
    )


def pending_request(cluster: Cluster) -> UpgradeRequest | None:
    """The cluster's request waiting for approval (not past its expiry), if any."""
    return (
        UpgradeRequest.objects.filter(cluster=cluster, state=State.PENDING, expires_at__gt=timezone.now())
        .select_related("requested_by")
        .first()
    )
