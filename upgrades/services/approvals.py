"""The approval rule, its one home: clusters labelled production (settings.APPROVAL_LABELS, default env=prod or
env=production) need a second person, an operator or an admin who is not the one who asked, to approve an
upgrade started from the pages (an UpgradeRequest, upgrades/services/upgrade_requests.py) and a campaign.

    requires_approval(clusters)                     -> True when any of them is production
    check_approver(approver=..., requester=...)     -> raises ApprovalRefused (403) when `approver` may not approve
    approval_record(subject_type=..., subject_id=..., decision=..., actor=..., requester=...) -> Approval, audited

Refusing needs the operator role only: the one who asked may withdraw it. The API (`POST /api/v1/ob/upgrade`,
obshell's contract) and `manage.py upgrade` are not gated: obshell clients and scripts work unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q

from upgrades.audit import Actor, audit, audit_refusals, reason_checked
from upgrades.errors import ObshellError
from upgrades.models import Approval, AuditEntry, Cluster, ClusterLabel
from upgrades.roles import has_role, user_role
from upgrades.selectors.labels import LabelFilterError, parse_label_filter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class ApprovalRefused(ObshellError):
    """Someone who may not approve tried to (the one who asked, a viewer, an API token), or a decision was
    already made."""

    def __init__(self, message: str, *, status: int = 403):
        super().__init__("Common.PermissionDenied", message, status=status)


def approval_labels() -> list[tuple[str, str]]:
    """settings.APPROVAL_LABELS as (key, value) pairs; a malformed entry stops with a clear message."""
    pairs = []
    for text in settings.APPROVAL_LABELS:
        try:
            pairs.append(parse_label_filter(text))
        except LabelFilterError as error:
            raise ImproperlyConfigured(f"APPROVAL_LABELS: {error}") from None
    return pairs


def production_label_q() -> Q:
    """A Q over ClusterLabel matching the production labels (matches nothing when there are none)."""
    condition = Q(pk__in=[])
    for key, value in approval_labels():
        condition |= Q(key=key, value=value)
    return condition


def production_cluster_ids(cluster_ids: Iterable[int]) -> set[int]:
    """The ids among `cluster_ids` of production clusters; one query."""
    ids = list(cluster_ids)
    if not ids or not approval_labels():
        return set()
    rows = ClusterLabel.objects.filter(production_label_q(), cluster_id__in=ids).values_list("cluster_id", flat=True)
    return set(rows)


def production_labels(cluster: Cluster) -> list[str]:
    """The labels ("env=prod") that make `cluster` production, [] when it is not."""
    if not approval_labels():
        return []
    rows = ClusterLabel.objects.filter(production_label_q(), cluster=cluster).order_by("key", "value")
    return [f"{key}={value}" for key, value in rows.values_list("key", "value")]


def requires_approval(clusters: Iterable[Cluster]) -> bool:
    """Whether acting on `clusters` (a list or a queryset) needs a second person's approval: any is production."""
    return bool(production_cluster_ids(cluster.pk for cluster in clusters))


def check_approver(*, approver: User | AnonymousUser | None, requester: User | AnonymousUser | None) -> None:
    """Raise ApprovalRefused unless `approver` may approve what `requester` asked for: a signed-in operator or
    admin who is not the requester. A request made by the system or an API token (requester None) may be
    approved by any operator or admin."""
    if approver is None or not approver.is_authenticated:
        raise ApprovalRefused("Approving needs a signed-in operator or admin.")
    if not has_role(approver, "operator"):
        role = user_role(approver) or "no role"
        raise ApprovalRefused(f"Approving needs the operator or admin role; {approver.get_username()} has {role}.")
    if requester is not None and requester.pk == approver.pk:
        raise ApprovalRefused(
            "You asked for this yourself: a second person (another operator or an admin) must approve it."
        )


def approval_for(*, subject_type: str, subject_id: int) -> Approval | None:
    """The decision on a subject, None while it has none."""
    return Approval.objects.filter(subject_type=subject_type, subject_id=subject_id).first()


def approval_record(
    *,
    subject_type: str,
    subject_id: int,
    decision: str,
    actor: Actor,
    requester: User | None,
    reason: str = "",
    cluster: Cluster | None = None,
    action: str = AuditEntry.Action.APPROVAL_RECORD,
    detail: dict | None = None,
) -> Approval:
    """Record the decision (Approval.Decision) on a subject, audited as `action` (refusals too). An approval
    needs check_approver(); a refusal needs the operator role (the requester may withdraw). A subject is decided
    once: a second decision is refused (409). Runs in the caller's transaction when there is one."""
    reason = reason_checked(reason)
    detail = {"subject": subject_type, "subject_id": subject_id, "decision": decision, **(detail or {})}
    with audit_refusals(actor=actor, action=action, cluster=cluster, reason=reason, detail=detail):
        if decision not in Approval.Decision.values:
            raise ApprovalRefused(f"unknown decision {decision!r}", status=400)
        if decision == Approval.Decision.APPROVED:
            check_approver(approver=actor.user, requester=requester)
        elif actor.user is None or not has_role(actor.user, "operator"):
            raise ApprovalRefused("Refusing needs the operator or admin role.")
        try:
            with transaction.atomic():
                approval = Approval.objects.create(
                    subject_type=subject_type,
                    subject_id=subject_id,
                    cluster=cluster,
                    decision=decision,
                    requested_by=requester,
                    decided_by=actor.user,
                    decided_by_label=actor.label,
                    reason=reason,
                )
                audit(actor=actor, action=action, cluster=cluster, reason=reason, detail=detail)
        except IntegrityError:
            earlier = approval_for(subject_type=subject_type, subject_id=subject_id)
            said = f"{earlier.decision} by {earlier.decided_by_label}" if earlier else "decided"
            raise ApprovalRefused(f"This was already {said}.", status=409) from None
    return approval
