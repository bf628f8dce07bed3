"""Upgrades of real clusters: the agent executes; we push the route's packages, start the DAG with obshell's own
protocol, mirror it (upgrades/engine/mirror.py) and forward operators. What a person sees, operates and audits is
what they see for a simulated cluster."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from upgrades.audit import Actor, audit, audit_refusals, reason_checked
from upgrades.backends.obshell import client_for
from upgrades.backends.obshell.client import AgentClient, AgentError, AgentRefused, version_tuple
from upgrades.bulk import insert_rows
from upgrades.engine import periodic
from upgrades.engine.mirror import apply_remote, parse_go_time
from upgrades.errors import ObshellError, bad_request, server_error
from upgrades.events import emit
from upgrades.models import AuditEntry, Cluster, Dag, DagEvent, Node, Package, PackageSync, Server, SubTask
from upgrades.models.dag import MaintenanceType, State
from upgrades.planning.stages import ACTIONS, Flags
from upgrades.services.dag_start import START_ACTIONS, maintenance_refusal
from upgrades.snapshots import dag_payload

if TYPE_CHECKING:
    from upgrades.planning.plan import Plan

logger = logging.getLogger(__name__)

# The names of the agent's DAGs that are upgrades (spec §5): mirrored; any other maintenance DAG is only shown.
UPGRADE_DAG_PREFIXES = ("OB rolling upgrade", "OB stop service upgrade", "Upgrade obshell")
_ACTION_BY_NAME = {name: (action, flags) for action, (name, flags) in ACTIONS.items() if "{" not in name}


def _action_of(name: str) -> tuple[str, Flags | None, str]:
    """A remote node's local action and capability flags, from its name (spec §5.8)."""
    if name in _ACTION_BY_NAME:
        return _ACTION_BY_NAME[name][0], _ACTION_BY_NAME[name][1], ""
    for prefix, action in (("Stop ", "stop_zone"), ("Start ", "start_zone")):
        if name.startswith(prefix):
            return action, ACTIONS[action][1], name[len(prefix) :]
    return "remote", None, ""


def _kind_of(name: str) -> str:
    """A remote DAG's kind, from its name (spec §5, §5.7)."""
    if name.startswith("Upgrade check obshell"):
        return Dag.Kind.AGENT_UPGRADE_CHECK
    if name.startswith("Upgrade obshell"):
        return Dag.Kind.AGENT_UPGRADE
    if name.startswith("Upgrade check"):
        return Dag.Kind.UPGRADE_CHECK
    return Dag.Kind.UPGRADE


def agent_refusal(error: AgentError) -> ObshellError:
    """The agent's refusal as ours: its errCode, status and message (spec §1.2)."""
    if isinstance(error, AgentRefused):
        return ObshellError(error.err_code, error.message, status=error.status)
    return server_error("Agent.Unavailable", f"the cluster's agent did not answer: {error}")


def _usable_client(cluster: Cluster) -> AgentClient:
    if cluster.contact_problem:
        raise bad_request("Agent.Unavailable", f"cluster {cluster.name!r}: {cluster.contact_problem}; see its page")
    return client_for(cluster)


# ---- packages on the agent -------------------------------------------------------------------------------------


def packages_on_agent(client: AgentClient) -> set[tuple[str, str, str, str, str]]:
    """(name, version, release_distribution, arch, md5) of what the agent stores (`/upgrade/package/info`, 4.3.0+)."""
    listing = client.get("/api/v1/upgrade/package/info") or {}
    return {
        (p.get("name"), p.get("version"), p.get("release_distribution"), p.get("architecture"), p.get("md5"))
        for p in listing.get("contents") or []
    }


def packages_missing_on_agent(client: AgentClient, packages: list[Package]) -> list[Package]:
    present = packages_on_agent(client)
    return [p for p in packages if (p.name, p.version, p.release_distribution, p.arch, p.md5) not in present]


def route_packages(plan_packages: list[dict]) -> list[Package]:
    wanted = [(p["name"], p["version"], p["release_distribution"], p["arch"]) for p in plan_packages]
    rows = Package.objects.filter(name__in={key[0] for key in wanted}, version__in={key[1] for key in wanted})
    stored = {(p.name, p.version, p.release_distribution, p.arch): p for p in rows}
    return [stored[key] for key in wanted if key in stored]


def packages_push(*, cluster: Cluster, packages: list[Package], progress: Callable[[str], None] | None = None) -> int:
    """Upload to the agent every package it lacks, streamed from our store; returns how many were sent."""
    client = _usable_client(cluster)
    try:
        missing = packages_missing_on_agent(client, packages)
        for index, package in enumerate(missing, start=1):
            if progress:
                progress(f"pushing {package.rpm_name} ({package.size // (1024 * 1024)} MiB) [{index}/{len(missing)}]")
            client.upload(package.file.path)
    except AgentError as error:
        raise agent_refusal(error) from None
    return len(missing)


def route_packages_push(
    *,
    cluster: Cluster,
    version: str,
    release: str,
    mode: str,
    upgrade_dir: str = "",
    freeze_server: bool = False,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Push every package the route to version-release needs and the agent lacks (what `manage.py upgrade` does
    before starting); a plan that fails is refused as the start would refuse it."""
    plan = _plan(cluster, version, release, mode, upgrade_dir, freeze_server, check=False)
    return packages_push(cluster=cluster, packages=route_packages(plan.packages), progress=progress)


def _plan(
    cluster: Cluster, version: str, release: str, mode: str, upgrade_dir: str, freeze_server: bool, *, check: bool
) -> Plan:
    """The plan computed here for a real cluster (route, stages, packages); its failure is the refusal."""
    from upgrades.planning.plan import plan_upgrade, plan_upgrade_check

    if check:
        plan = plan_upgrade_check(cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir)
    else:
        plan = plan_upgrade(
            cluster=cluster,
            version=version,
            release=release,
            mode=mode,
            upgrade_dir=upgrade_dir,
            freeze_server=freeze_server,
        )
    if plan.error is not None:
        raise plan.error
    return plan


ACTIVE_SYNC = (PackageSync.State.QUEUED, PackageSync.State.SENDING)
PUSH_HINT = "preview the upgrade on the cluster page to push them, or use `manage.py upgrade`, which pushes first"


def package_sync_request(*, cluster: Cluster, packages: list[Package]) -> list[PackageSync]:
    """Queue a background push of every package the agent lacks (the workers send them, PackageSync rows show the
    progress); packages already queued or being sent are not queued twice. Returns the active syncs."""
    client = _usable_client(cluster)
    try:
        missing = packages_missing_on_agent(client, packages)
    except AgentError as error:
        raise agent_refusal(error) from None
    with transaction.atomic():
        Cluster.objects.select_for_update().filter(pk=cluster.pk).first()  # one requester at a time per cluster
        active = {s.package_id for s in PackageSync.objects.filter(cluster=cluster, state__in=ACTIVE_SYNC)}
        for package in missing:
            if package.pk not in active:
                PackageSync.objects.create(cluster=cluster, package=package, total_bytes=package.size)
    return list(PackageSync.objects.filter(cluster=cluster, state__in=ACTIVE_SYNC).select_related("package"))


def package_sync_run_one(*, owner: str) -> PackageSync | None:
    """Claim the oldest queued push (or one whose sender died: its lease ran out) and send it; None when idle."""
    now = timezone.now()
    lease = timedelta(seconds=max(settings.WORKER_LEASE_SECONDS, 60))
    candidate = (
        PackageSync.objects.filter(
            Q(state=PackageSync.State.QUEUED) | Q(state=PackageSync.State.SENDING, lease_until__lt=now)
        )
        .order_by("id")
        .first()
    )
    if candidate is None:
        return None
    won = PackageSync.objects.filter(pk=candidate.pk, state=candidate.state, lease_until=candidate.lease_until).update(
        state=PackageSync.State.SENDING, owner=owner, lease_until=now + lease, started_at=now, bytes_sent=0
    )
    if not won:
        return None
    sync = PackageSync.objects.select_related("package", "cluster").get(pk=candidate.pk)

    def progress(sent: int) -> None:
        PackageSync.objects.filter(pk=sync.pk, owner=owner).update(bytes_sent=sent, lease_until=timezone.now() + lease)

    try:
        _usable_client(sync.cluster).upload(sync.package.file.path, progress=progress)
    except (AgentError, ObshellError, OSError) as error:
        message = agent_refusal(error).message if isinstance(error, AgentError) else str(error)
        PackageSync.objects.filter(pk=sync.pk).update(
            state=PackageSync.State.FAILED, error=message[:500], finished_at=timezone.now()
        )
        logger.warning("push of %s to %s failed: %s", sync.package, sync.cluster, message)
    else:
        PackageSync.objects.filter(pk=sync.pk).update(
            state=PackageSync.State.DONE, bytes_sent=sync.total_bytes, finished_at=timezone.now()
        )
    sync.refresh_from_db()
    return sync


def run_package_syncs() -> int:
    """The periodic job: send queued pushes until none is left (one sender per job lease)."""
    sent = 0
    while package_sync_run_one(owner=f"package-push@{os.getpid()}") is not None:
        sent += 1
    return sent


periodic.register("package-push", 2, run_package_syncs, lease_seconds=3600)


# ---- starting ----------------------------------------------------------------------------------------------------


def _version_gates(cluster: Cluster, agent_version: str, *, freeze_server: bool, mode: str) -> None:
    """Options the agent's version cannot honour, refused here with the reason (issue 12)."""
    version = version_tuple(agent_version)
    if freeze_server and version < (4, 4, 0, 0):
        raise bad_request(
            "Common.IllegalArgument", f"freeze_server needs obshell 4.4.0 or later (the agent is {agent_version})"
        )
    if cluster.edition == "business" and version < (4, 4, 0, 0):
        raise bad_request(
            "OB.Package.Name.NotSupport", f"business-edition upgrades need obshell 4.4.0 (the agent is {agent_version})"
        )
    if cluster.shared_storage and mode == "ROLLING" and cluster.zones.count() == 2 and version < (4, 4, 2, 0):
        raise bad_request(
            "OB.Upgrade.UnableToRollingUpgrade",
            f"a 2-zone shared-storage rolling upgrade needs obshell 4.4.2 (the agent is {agent_version})",
        )


def remote_upgrade_start(
    *,
    cluster: Cluster,
    version: str,
    release: str,
    mode: str,
    upgrade_dir: str = "",
    freeze_server: bool = False,
    actor: Actor,
    reason: str = "",
    check: bool = False,
) -> Dag:
    """Start the upgrade (or the check) on the agent and mirror it. Refused, audited and with nothing left here,
    when the plan fails, a route package is not on the agent yet, or the agent refuses."""
    reason = reason_checked(reason)
    action = AuditEntry.Action.UPGRADE_CHECK_START if check else AuditEntry.Action.UPGRADE_START
    detail = {"version": version, "release": release, "mode": mode}
    with audit_refusals(actor=actor, action=action, cluster=cluster, reason=reason, detail=detail):
        plan = _plan(cluster, version, release, mode, upgrade_dir, freeze_server, check=check)
        client = _usable_client(cluster)
        try:
            info = client.connect()
            _version_gates(cluster, info.version, freeze_server=freeze_server, mode=plan.mode or "")
            missing = packages_missing_on_agent(client, route_packages(plan.packages))
            if missing:
                names = ", ".join(p.rpm_name for p in missing)
                pushing = PackageSync.objects.filter(
                    cluster=cluster, package__in=missing, state__in=ACTIVE_SYNC
                ).exists()
                hint = (
                    "their push is in progress (see the cluster page)"
                    if pushing
                    else (
                        "preview the upgrade on the cluster page to push them, or use `manage.py upgrade`, which pushes first"
                    )
                )
                raise bad_request(
                    "OB.Package.NotExist", f"These packages are not on the cluster's agent yet: {names}; {hint}"
                )
            body: dict[str, object] = {"version": version, "release": release, "upgradeDir": upgrade_dir or None}
            if not check:
                body["mode"] = plan.mode or mode
                if freeze_server:
                    body["freeze_server"] = True
            created = client.post("/api/v1/ob/upgrade/check" if check else "/api/v1/ob/upgrade", body)
            # The create answer has `nodes: null` (spec §6.2): the nodes come from the follow-up read.
            detailed = client.get(f"/api/v1/task/dag/{created['id']}?show_details=true")
        except AgentError as error:
            raise agent_refusal(error) from None
    return dag_create_mirror(cluster=cluster, remote=detailed, actor=actor, reason=reason, plan=plan.as_dict())


def remote_agent_upgrade_start(
    *,
    cluster: Cluster,
    version: str,
    release: str,
    upgrade_dir: str = "",
    actor: Actor,
    reason: str = "",
    check: bool = False,
) -> Dag:
    """The agent's own self-upgrade (or its check) started on the agent and mirrored: `POST /api/v1/agent/upgrade`
    [`/check`], refused as the agent refuses, audited here."""
    from upgrades.planning.agent_plan import plan_agent_upgrade

    reason = reason_checked(reason)
    action = AuditEntry.Action.AGENT_UPGRADE_CHECK_START if check else AuditEntry.Action.AGENT_UPGRADE_START
    detail = {"version": version, "release": release}
    with audit_refusals(actor=actor, action=action, cluster=cluster, reason=reason, detail=detail):
        plan = plan_agent_upgrade(
            cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir, check_only=check
        )
        if plan.error is not None:
            raise plan.error
        client = _usable_client(cluster)
        try:
            missing = packages_missing_on_agent(client, route_packages(plan.packages))
            if missing:
                names = ", ".join(p.rpm_name for p in missing)
                raise bad_request(
                    "OB.Package.NotExist", f"These packages are not on the cluster's agent yet: {names}; {PUSH_HINT}"
                )
            body = {"version": version, "release": release, "upgradeDir": upgrade_dir or None}
            created = client.post("/api/v1/agent/upgrade/check" if check else "/api/v1/agent/upgrade", body)
            detailed = client.get(f"/api/v1/task/dag/{created['id']}?show_details=true")
        except AgentError as error:
            raise agent_refusal(error) from None
    return dag_create_mirror(cluster=cluster, remote=detailed, actor=actor, reason=reason, plan=plan.as_dict())


def dag_create_mirror(
    *, cluster: Cluster, remote: dict, actor: Actor, reason: str = "", plan: dict | None = None, outside: bool = False
) -> Dag:
    """A local DAG mirroring the agent's `remote` (a detailed DagDetailDTO), with its nodes and sub-tasks keeping
    the remote ids; takes our maintenance lock for a maintenance DAG."""
    maintenance = int(remote.get("maintenance_type") or 1) == MaintenanceType.GLOBAL
    name = str(remote.get("name") or "")
    kind = _kind_of(name)
    version_release = name.rsplit(" ", 1)[-1] if " " in name else ""
    version, _, release = version_release.partition("-")
    servers = {(s.ip, s.agent_port): s for s in Server.objects.filter(cluster=cluster)}
    try:
        with transaction.atomic():
            dag = Dag.objects.create(
                cluster=cluster,
                kind=kind,
                name=name,
                stage=int(remote.get("stage") or 1),
                max_stage=int(remote.get("max_stage") or len(remote.get("nodes") or []) or 1),
                maintenance_type=MaintenanceType.GLOBAL if maintenance else MaintenanceType.NONE,
                holds_lock=maintenance and remote.get("state") != State.SUCCEED,
                version=version,
                release=release,
                mode="ROLLING" if "rolling" in name else ("STOPSERVICE" if "stop service" in name else ""),
                from_version=(plan or {}).get("from_version", ""),
                to_version=(plan or {}).get("to_version", version),
                route=(plan or {}).get("route", []),
                plan=plan or {},
                remote_dag_id=str(remote["id"]),
                started_outside=outside,
                started_by=actor.user,
                started_by_token=actor.token,
                actor_label=actor.label,
                reason=reason,
            )
            for seq, remote_node in enumerate(remote.get("nodes") or [], start=1):
                node_action, flags, zone = _action_of(str(remote_node.get("name") or ""))
                node = Node.objects.create(
                    dag=dag,
                    seq=seq,
                    name=str(remote_node.get("name") or ""),
                    action=node_action,
                    parallel=len(remote_node.get("sub_tasks") or []) > 1,
                    zone_name=zone,
                    remote_id=str(remote_node.get("id")),
                    **(
                        {
                            "can_retry": flags.can_retry,
                            "can_rollback": flags.can_rollback,
                            "can_pass": flags.can_pass,
                            "can_cancel": flags.can_cancel,
                            "can_continue": flags.can_continue,
                        }
                        if flags
                        else {}
                    ),
                )
                rows = []
                for remote_task in remote_node.get("sub_tasks") or []:
                    agent = remote_task.get("execute_agent") or {}
                    ip, port = str(agent.get("ip") or ""), int(agent.get("port") or 0)
                    server = servers.get((ip, port))
                    rows.append(
                        {
                            "node_id": node.pk,
                            "dag_id": dag.pk,
                            "name": node.name,
                            "server_id": server.pk if server else None,
                            "agent_ip": ip,
                            "agent_port": port,
                            "remote_id": str(remote_task.get("id")),
                        }
                    )
                insert_rows(SubTask, rows)
            emit(dag.pk, DagEvent.Kind.DAG_CREATED, {"dag": dag_payload(dag)})
            audit(
                actor=actor,
                action=START_ACTIONS[kind],
                cluster=cluster,
                dag=dag,
                reason=reason,
                detail={
                    "dag": dag.generic_id,
                    "remote_dag": dag.remote_dag_id,
                    "name": name,
                    "started_outside": outside,
                },
            )
    except IntegrityError:
        raise maintenance_refusal(cluster=cluster, dag_name=name) from None
    # The create-time states and times, then whatever the agent has already done.
    apply_remote(dag.pk, remote, list(remote.get("nodes") or []))
    created = parse_go_time(remote.get("start_time"))
    if created is not None:
        Dag.objects.filter(pk=dag.pk).update(created_at=created)
    dag.refresh_from_db()
    return dag


def adopt_remote_upgrades(*, cluster: Cluster) -> list[Dag]:
    """Find an upgrade running on the agent that we do not mirror (started before registration, or by someone
    else) and mirror it, marked started outside (`task/dag/maintain/ob`, client §5)."""
    client = _usable_client(cluster)
    try:
        newest = client.get("/api/v1/task/dag/maintain/ob?show_details=false")
    except AgentRefused as refused:
        if refused.err_code == "Task.NotFound" and refused.status == 404:
            return []
        raise agent_refusal(refused) from None
    except AgentError as error:
        raise agent_refusal(error) from None
    held = newest.get("maintenance_type") == MaintenanceType.GLOBAL and newest.get("state") != State.SUCCEED
    is_upgrade = str(newest.get("name") or "").startswith(
        ("OB rolling upgrade", "OB stop service upgrade", "Upgrade obshell")
    )
    if not held or not is_upgrade or Dag.objects.filter(cluster=cluster, remote_dag_id=str(newest["id"])).exists():
        return []
    try:
        detailed = client.get(f"/api/v1/task/dag/{newest['id']}?show_details=true")
    except AgentError as error:
        raise agent_refusal(error) from None
    return [dag_create_mirror(cluster=cluster, remote=detailed, actor=Actor.system("agent"), outside=True)]


# ---- operators ---------------------------------------------------------------------------------------------------


def remote_dag_operate(*, dag: Dag, operator: str, actor: Actor, reason: str = "") -> Dag:
    """Forward RETRY/ROLLBACK/CANCEL/PASS to the agent; audited here; the agent's refusal is ours."""
    reason = reason_checked(reason)
    op = (operator or "").strip().upper()
    with audit_refusals(
        actor=actor,
        action=AuditEntry.Action.DAG_OPERATE,
        cluster=dag.cluster,
        dag=dag,
        reason=reason,
        detail={"operator": op},
    ):
        try:
            _usable_client(dag.cluster).post(f"/api/v1/task/dag/{dag.remote_dag_id}", {"operator": op})
        except AgentError as error:
            raise agent_refusal(error) from None
        with transaction.atomic():
            emit(dag.pk, DagEvent.Kind.OPERATOR_APPLIED, {"operator": op, "actor": actor.label, "reason": reason})
            audit(
                actor=actor,
                action=AuditEntry.Action.DAG_OPERATE,
                cluster=dag.cluster,
                dag=dag,
                reason=reason,
                detail={"operator": op, "forwarded": True},
            )
    dag.refresh_from_db()
    return dag


def remote_node_pass(*, node: Node, actor: Actor, reason: str = "") -> Node:
    reason = reason_checked(reason)
    dag = node.dag
    with audit_refusals(
        actor=actor,
        action=AuditEntry.Action.NODE_PASS,
        cluster=dag.cluster,
        dag=dag,
        reason=reason,
        detail={"node": node.generic_id},
    ):
        try:
            _usable_client(dag.cluster).post(f"/api/v1/task/node/{node.remote_id}", {"operator": "PASS"})
        except AgentError as error:
            raise agent_refusal(error) from None
        with transaction.atomic():
            emit(
                dag.pk,
                DagEvent.Kind.OPERATOR_APPLIED,
                {"operator": "PASS", "actor": actor.label, "reason": reason, "node_id": node.pk},
            )
            audit(
                actor=actor,
                action=AuditEntry.Action.NODE_PASS,
                cluster=dag.cluster,
                dag=dag,
                reason=reason,
                detail={"node": node.generic_id, "forwarded": True},
            )
    node.refresh_from_db()
    return node
