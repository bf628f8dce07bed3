"""Verification after an upgrade (upgrades/operations/verification.py has the checks): of a cluster now, and of a
run. A finished run keeps the result it was first given (the engine stores a simulated run's as it succeeds; a
mirrored or passed run's is stored the first time it is asked for), so its report stays what it was."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from upgrades.backends.obshell import client_for
from upgrades.backends.obshell.verification import agent_facts
from upgrades.backends.simulated.verification import simulated_facts
from upgrades.dag_locks import lock_dag
from upgrades.models import Cluster, Dag, Server
from upgrades.models.cluster import Backend
from upgrades.models.dag import State
from upgrades.operations.verification import CHECKS, Facts, target_build_of, verify
from upgrades.planning.versions import build_version_key

__all__ = ["cluster_verification", "run_verification"]


def cluster_facts(cluster: Cluster) -> Facts:
    """What the cluster's backend can tell now: the simulated rows, or its agent (unknown while contact is stopped)."""
    if cluster.backend == Backend.SIMULATED:
        return simulated_facts(cluster.pk)
    # No call while contact is stopped or the agent is known to be unreachable: the page would wait on timeouts.
    why = ""
    if cluster.contact_problem:
        why = f"contact with the agent is stopped: {cluster.contact_problem}"
    elif cluster.unreachable_since:
        why = f"the agent has been unreachable since {cluster.unreachable_since.isoformat(timespec='seconds')}"
    if why:
        facts = Facts(source="obshell agent")
        facts.unknown = dict.fromkeys(CHECKS, why)
        return facts
    return agent_facts(client_for(cluster))


def _last_upgrade(cluster: Cluster) -> Dag | None:
    return (
        Dag.objects.filter(cluster=cluster, kind=Dag.Kind.UPGRADE, state=State.SUCCEED, is_finished=True)
        .exclude(operator="ROLLBACK")
        .order_by("-end_time", "-id")
        .first()
    )


def cluster_verification(cluster: Cluster) -> dict:
    """The checks now, against the build of the cluster's last successful upgrade (or, before any, the newest build
    its servers run: a cluster that was never upgraded should still agree with itself). `run` is that upgrade."""
    run = _last_upgrade(cluster)
    if run is not None:
        target = target_build_of(run)
    else:
        builds = list(Server.objects.filter(cluster=cluster).values_list("build_version", flat=True))
        target = max(builds, key=lambda build: build_version_key(build.replace("_", "-", 1))) if builds else ""
    result = verify(cluster_facts(cluster), target_build=target, at=timezone.now())
    return {"result": result, "run": run}


def run_verification(dag: Dag) -> dict | None:
    """The verification of an upgrade run that is no longer moving (SUCCEED, or FAILED waiting for an operator):
    the kept one, or computed now and kept if the run has finished. None for a running run or another kind."""
    if dag.kind != Dag.Kind.UPGRADE or dag.state not in (State.SUCCEED, State.FAILED):
        return None
    if dag.verification.get("checks"):
        return dag.verification
    result = verify(cluster_facts(dag.cluster), target_build=target_build_of(dag), at=timezone.now())
    if dag.is_finished:
        with transaction.atomic():
            locked = lock_dag(dag.pk)
            if locked is not None and locked.is_finished and not locked.verification.get("checks"):
                locked.verification = result
                locked.save(update_fields=["verification"])
            if locked is not None:
                result = locked.verification or result
        dag.verification = result
    return result
