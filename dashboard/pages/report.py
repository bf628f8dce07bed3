"""The change report of one run (/runs/<id>/report/), for change-advisory boards: who, when, why, the route, the
pre-checks, stage durations, operator actions with reasons, parameters before and after, and the verification."""

from __future__ import annotations

from typing import Any

from upgrades.models import AuditEntry, Dag, SubTask
from upgrades.models.dag import State
from upgrades.operations.verification import REPORTED_PARAMETERS
from upgrades.services.verification import run_verification

# The audit actions that act on a run, in the order they happen.
RUN_ACTIONS = (
    AuditEntry.Action.UPGRADE_START,
    AuditEntry.Action.UPGRADE_CHECK_START,
    AuditEntry.Action.AGENT_UPGRADE_START,
    AuditEntry.Action.AGENT_UPGRADE_CHECK_START,
    AuditEntry.Action.DAG_OPERATE,
    AuditEntry.Action.NODE_PASS,
    AuditEntry.Action.DAG_CONTINUE_ROLLBACK,
)
_FINISHED_STATES = (State.SUCCEED, State.FAILED)


def _duration(start, end) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def stage_rows(dag: Dag) -> list[dict[str, Any]]:
    rows = []
    for node in dag.nodes.all():
        finished = node.state in _FINISHED_STATES
        rows.append(
            {
                "seq": node.seq,
                "name": node.name,
                "state": node.state,
                "operator": node.operator,
                "start": node.start_time if node.state != State.PENDING else None,
                "end": node.end_time if finished else None,
                "seconds": _duration(node.start_time, node.end_time) if finished else None,
            }
        )
    return rows


def parameters_before(dag: Dag) -> dict[str, dict[str, str]]:
    """What the run's first Backup parameters stage kept (simulated runs keep obshell's rows in its sub-task, and the
    values the verification reads as that stage found them), by name."""
    backup = (
        SubTask.objects.filter(dag=dag, node__name="Backup parameters", state=State.SUCCEED)
        .order_by("node__seq", "id")
        .first()
    )
    context = (backup.context or {}) if backup is not None else {}
    values: dict[str, dict[str, str]] = {
        name: dict(found) for name, found in context.get("verified_before", {}).items()
    }
    for row in context.get("parameters", []):
        values.setdefault(row["Name"], {})[f"{row['SvrIp']}:{row['SvrPort']}"] = str(row["Value"])
    return values


def parameter_rows(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One row per parameter where every server (or tenant) agrees before and after; else one row per subject."""
    rows = []
    for name in REPORTED_PARAMETERS:
        old, new = before.get(name, {}), after.get(name, {})
        if not old and not new:
            continue
        subjects = sorted(set(old) | set(new))
        old_values, new_values = set(old.values()), set(new.values())
        if len(old_values) <= 1 and len(new_values) <= 1 and (not old or not new or set(old) == set(new)):
            rows.append(
                {
                    "name": name,
                    "subject": "",
                    "count": len(subjects),
                    "before": next(iter(old_values), None),
                    "after": next(iter(new_values), None),
                }
            )
            continue
        for subject in subjects:
            rows.append(
                {"name": name, "subject": subject, "count": 1, "before": old.get(subject), "after": new.get(subject)}
            )
    return rows


def run_report(dag: Dag) -> dict[str, Any]:
    verification = run_verification(dag)
    before = parameters_before(dag)
    after = (verification or {}).get("parameters", {})
    checks = (dag.plan or {}).get("checks", [])
    actions = list(
        AuditEntry.objects.filter(dag=dag, action__in=RUN_ACTIONS).select_related("actor_user").order_by("at", "id")
    )
    started = dag.created_at
    ended = dag.end_time if dag.is_finished or dag.state in _FINISHED_STATES else None
    return {
        "dag": dag,
        "cluster": dag.cluster,
        "route": list(dag.route or []),
        "checks": checks,
        "checks_failed": sum(1 for check in checks if check.get("ok") is False),
        "stages": stage_rows(dag),
        "actions": actions,
        "parameters": parameter_rows(before, after),
        "parameters_before_known": bool(before),
        "verification": verification,
        "started": started,
        "ended": ended,
        "seconds": _duration(started, ended) if ended else None,
    }
