"""Setting and removing a cluster's labels: admins only (or the system: `manage.py label_cluster`), atomic,
audited with the previous value. Clusters have no event stream of their own (events are per DAG), so a label
change emits none; pages read labels fresh on every render."""

from __future__ import annotations

from django.db import transaction

from upgrades.audit import Actor, audit, audit_refusals
from upgrades.errors import bad_request
from upgrades.models import AuditEntry, Cluster, ClusterLabel
from upgrades.models.labels import label_key_problem, label_value_problem
from upgrades.services.guards import role_refusal


def label_set(*, cluster: Cluster, key: str, value: str, actor: Actor) -> ClusterLabel:
    """Give `cluster` the label key=value, replacing the key's previous value; audited (LABEL_SET)."""
    key, value = (key or "").strip(), (value or "").strip()
    detail = {"key": key, "value": value}
    with audit_refusals(actor=actor, action=AuditEntry.Action.LABEL_SET, cluster=cluster, detail=detail):
        refusal = role_refusal(actor, "admin", "labelling a cluster")
        if refusal is not None:
            raise refusal
        problem = label_key_problem(key) or label_value_problem(value)
        if problem:
            raise bad_request("Common.IllegalArgument", problem)
    with transaction.atomic():
        # The cluster row lock orders concurrent changes of its labels (a first set of a key included).
        Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
        label = ClusterLabel.objects.filter(cluster=cluster, key=key).first()
        previous = label.value if label is not None else None
        if label is None:
            label = ClusterLabel.objects.create(cluster=cluster, key=key, value=value)
        elif label.value != value:
            label.value = value
            label.save(update_fields=["value", "updated_at"])
        audit(
            actor=actor,
            action=AuditEntry.Action.LABEL_SET,
            cluster=cluster,
            detail={**detail, "previous": previous},
        )
    return label


def label_remove(*, cluster: Cluster, key: str, actor: Actor) -> str:
    """Remove `cluster`'s label `key`; returns the value it had. Audited (LABEL_REMOVE); a key the cluster does
    not have is refused (400), so a script's typo does not pass silently."""
    key = (key or "").strip()
    with audit_refusals(actor=actor, action=AuditEntry.Action.LABEL_REMOVE, cluster=cluster, detail={"key": key}):
        refusal = role_refusal(actor, "admin", "removing a cluster's label")
        if refusal is not None:
            raise refusal
        with transaction.atomic():
            Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
            label = ClusterLabel.objects.filter(cluster=cluster, key=key).first()
            if label is None:
                raise bad_request("Common.IllegalArgument", f"cluster {cluster.name} has no label {key!r}")
            value = label.value
            label.delete()
            audit(
                actor=actor,
                action=AuditEntry.Action.LABEL_REMOVE,
                cluster=cluster,
                detail={"key": key, "value": value},
            )
    return value
