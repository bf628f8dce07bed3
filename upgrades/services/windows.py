"""Adding and removing maintenance windows: admins only (or the system: `manage.py maintenance_window`),
atomic, audited with the window's human form. A window belongs to one cluster or to a label (key=value)."""

from __future__ import annotations

from django.db import transaction

from upgrades.audit import Actor, audit, audit_refusals
from upgrades.errors import bad_request
from upgrades.models import AuditEntry, Cluster, MaintenanceWindow
from upgrades.operations.windows import WindowSpec, WindowSyntaxError, format_window, parse_window
from upgrades.selectors.labels import LabelFilterError, parse_label_filter
from upgrades.services.guards import role_refusal

NAME_MAX_LENGTH = 100


def window_add(
    *,
    cluster: Cluster | None = None,
    label: str = "",
    window: str | WindowSpec,
    name: str = "",
    actor: Actor,
) -> MaintenanceWindow:
    """Add a window to `cluster`, or to every cluster labelled `label` ("key=value"); `window` is the human form
    ("Tue and Thu 01:00-05:00 Asia/Shanghai") or a WindowSpec. Audited (WINDOW_ADD), refusals too."""
    name = (name or "").strip()
    label = (label or "").strip()
    text = window if isinstance(window, str) else format_window(window)
    detail = {"window": text, "name": name, **({"label": label} if label else {})}
    with audit_refusals(actor=actor, action=AuditEntry.Action.WINDOW_ADD, cluster=cluster, detail=detail):
        refusal = role_refusal(actor, "admin", "adding a maintenance window")
        if refusal is not None:
            raise refusal
        if (cluster is None) == (not label):
            raise bad_request("Common.IllegalArgument", "a maintenance window belongs to a cluster or to a label")
        try:
            spec = parse_window(window) if isinstance(window, str) else window
            key, value = parse_label_filter(label) if label else ("", "")
        except (WindowSyntaxError, LabelFilterError) as error:
            raise bad_request("Common.IllegalArgument", str(error)) from None
        if len(name) > NAME_MAX_LENGTH:
            raise bad_request("Common.IllegalArgument", f"a window's name is at most {NAME_MAX_LENGTH} characters")
    with transaction.atomic():
        row = MaintenanceWindow.objects.create(
            cluster=cluster,
            label_key=key,
            label_value=value,
            name=name,
            days=spec.days,
            start=spec.start,
            end=spec.end,
            time_zone=spec.time_zone,
            created_by=actor.user,
        )
        audit(
            actor=actor,
            action=AuditEntry.Action.WINDOW_ADD,
            cluster=cluster,
            detail={**detail, "window": format_window(row), "id": row.pk},
        )
    return row


def window_remove(*, window: MaintenanceWindow, actor: Actor) -> None:
    """Remove a maintenance window. Audited (WINDOW_REMOVE) with what it was."""
    detail = {"id": window.pk, "window": format_window(window), "name": window.name}
    if window.label_key:
        detail["label"] = window.label
    cluster = window.cluster
    with audit_refusals(actor=actor, action=AuditEntry.Action.WINDOW_REMOVE, cluster=cluster, detail=detail):
        refusal = role_refusal(actor, "admin", "removing a maintenance window")
        if refusal is not None:
            raise refusal
        with transaction.atomic():
            deleted, _ = MaintenanceWindow.objects.filter(pk=window.pk).delete()
            if not deleted:
                raise bad_request("Common.IllegalArgument", f"maintenance window {window.pk} was already removed")
            audit(actor=actor, action=AuditEntry.Action.WINDOW_REMOVE, cluster=cluster, detail=detail)
