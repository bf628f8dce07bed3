"""Mirroring a real cluster's upgrade DAG: the agent runs it; we poll it and turn every difference into local node
and sub-task states, log lines and DagEvents, so the timeline, history, audit and our own obshell API see a real
run as they see a simulated one.

- One mirror loop per unfinished mirrored DAG, owned by one worker process under a lease (`Dag.mirror_owner`,
  `mirror_lease_until`) like a sub-task: any worker takes over when the owner dies.
- A poll reads the DAG without details (one row on the agent, client §5) and the current node with its
  sub-tasks and logs; after the stage or state moved, the whole DAG once (nodes may have finished in between).
  At most MIRROR_POLL_SECONDS apart: obshell's scheduler ticks every second (client §4.1), faster yields nothing.
- Trouble is expected: every "Restart obshell" closes every agent for seconds, the dialled agent's observer is
  reinstalled. Refused connections, timeouts, 5xx and 404 `Task.NotFound` are retried with backoff on every
  address; the run shows "agent unreachable" (`agent.unreachable`, `agent.back`) and after
  MIRROR_UNREACHABLE_SECONDS "lost contact" (`agent.lost`), never failed. A rejected password stops polling at
  once (each attempt is a root@sys login on the agent, client §3). A changed key is accepted without a person only
  for the 512-to-1024-bit re-key of a "Restart obshell" crossing 4.4.2 (client §2).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Count, Q
from django.utils import timezone

from upgrades.backends.obshell import client_for
from upgrades.backends.obshell.client import (
    AgentClient,
    AgentError,
    AgentKeyChanged,
    AgentRefused,
    AgentUnreachable,
    CredentialsRejected,
    version_tuple,
)
from upgrades.dag_locks import lock_dag
from upgrades.events import batched_events, emit_dag, emit_events, emit_node, emit_sub_task
from upgrades.models import Cluster, Dag, DagEvent, Node, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.security.crypto import load_agent_public_key
from upgrades.snapshots import iso_time
from upgrades.task_logs import write_logs

logger = logging.getLogger(__name__)

MAX_LINE = 4000  # a log line longer than this is cut (an agent's script output can be anything)
FAILED_POLL_SECONDS = 5.0  # a failed maintenance DAG may be retried from elsewhere: keep watching, slowly
BACKOFF_MAX_SECONDS = 30.0
CREDENTIALS_REJECTED = "credentials rejected"
KEY_CHANGED = "public key changed"


GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_go_time(text: str | None) -> datetime | None:
    """obshell's RFC 3339 nano times (spec §1.1): up to 9 fraction digits, `Z` or an offset; Go's zero time is None."""
    match = GO_TIME.match(text or "")
    if match is None or match[1].startswith("0001-"):
        return None
    fraction = (match[2] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}")


def _level(line: str) -> str:
    if line.startswith("ERROR"):
        return TaskLog.Level.ERROR
    if line.startswith("WARN"):
        return TaskLog.Level.WARN
    return TaskLog.Level.INFO


def _copy(row: Any, remote: dict, *, times: bool = True) -> list[str]:
    """Copy the remote state, operator (and times) onto a local row; the names of the fields that changed."""
    changed = []
    for field in ("state", "operator"):
        value = remote.get(field)
        if value and getattr(row, field) != value:
            setattr(row, field, value)
            changed.append(field)
    if "execute_times" in remote and hasattr(row, "execute_times"):
        value = int(remote.get("execute_times") or 0)
        if row.execute_times != value:
            row.execute_times = value
            changed.append("execute_times")
    if times:
        for field in ("start_time", "end_time"):
            value = parse_go_time(remote.get(field))
            if value is not None and getattr(row, field) != value:
                setattr(row, field, value)
                changed.append(field)
    return changed


def apply_remote(dag_id: int, remote_dag: dict, remote_nodes: list[dict]) -> bool:
    """Turn the agent's view of a DAG (the DAG without details, and the nodes read with their sub-tasks and logs)
    into local rows and events, in one transaction. Returns True if anything changed."""
    with transaction.atomic():
        dag = lock_dag(dag_id)
        if dag is None:
            return False
        with batched_events(dag_id):
            changed = _apply_nodes(dag, remote_nodes)
            changed = _apply_dag(dag, remote_dag) or changed
    return changed


def _apply_nodes(dag: Dag, remote_nodes: list[dict]) -> bool:
    if not remote_nodes:
        return False
    wanted = {str(node.get("id")) for node in remote_nodes}
    nodes = {node.remote_id: node for node in Node.objects.filter(dag=dag, remote_id__in=wanted)}
    tasks = {task.remote_id: task for task in SubTask.objects.filter(dag=dag, node__remote_id__in=wanted)}
    counts = dict(
        TaskLog.objects.filter(sub_task__in=[task.pk for task in tasks.values()])
        .values("sub_task")
        .annotate(lines=Count("id"))
        .values_list("sub_task", "lines")
    )
    changed = False
    for remote_node in remote_nodes:
        node = nodes.get(str(remote_node.get("id")))
        if node is None:
            continue
        fields = _copy(node, remote_node)
        if fields:
            node.save(update_fields=fields)
            emit_node(node)
            changed = True
        for remote_task in remote_node.get("sub_tasks") or []:
            task = tasks.get(str(remote_task.get("id")))
            if task is None:
                continue
            fields = _copy(task, remote_task)
            if fields:
                task.save(update_fields=fields)
                emit_sub_task(task)
                changed = True
            lines = remote_task.get("task_logs") or []
            have = counts.get(task.pk, 0)
            if len(lines) > have:
                # task_logs is every line of every attempt, append-only (spec §6.2): what we lack is its tail.
                new = [(_level(str(line)), str(line)[:MAX_LINE]) for line in lines[have:]]
                emit_events(dag.pk, write_logs(task, new))
                changed = True
    return changed


def _apply_dag(dag: Dag, remote: dict) -> bool:
    fields = _copy(dag, remote)
    stage = int(remote.get("stage") or dag.stage)
    if stage != dag.stage and 1 <= stage <= dag.max_stage:
        dag.stage = stage
        fields.append("stage")
    finished = dag.state == State.SUCCEED or (dag.state == State.FAILED and not dag.holds_lock)
    if dag.state == State.SUCCEED and dag.holds_lock:
        dag.holds_lock = False  # SUCCEED always releases obshell's lock (spec §6.3); FAILED keeps it
        fields.append("holds_lock")
    if finished != dag.is_finished:
        dag.is_finished = finished
        fields.append("is_finished")
    if not fields:
        return False
    dag.save(update_fields=fields)
    emit_dag(dag)
    return True


# ---- contact with the agent ----------------------------------------------------------------------------------


def _contact_event(dag: Dag, kind: str, payload: dict) -> None:
    with transaction.atomic():
        locked = lock_dag(dag.pk)
        if locked is None:
            return
        locked.mirror_contact = {**locked.mirror_contact, **payload}
        locked.save(update_fields=["mirror_contact"])
        emit_events(locked.pk, [(kind, {"contact": locked.mirror_contact})])
        dag.mirror_contact = locked.mirror_contact


def note_unreachable(dag: Dag, error: str) -> None:
    """The first failure emits `agent.unreachable`; MIRROR_UNREACHABLE_SECONDS later, `agent.lost` (once)."""
    contact = dag.mirror_contact or {}
    now = timezone.now()
    if not contact.get("unreachable_since"):
        _contact_event(dag, DagEvent.Kind.AGENT_UNREACHABLE, {"unreachable_since": iso_time(now), "last_error": error})
        return
    since = datetime.fromisoformat(contact["unreachable_since"])
    if not contact.get("lost") and now - since >= timedelta(seconds=settings.MIRROR_UNREACHABLE_SECONDS):
        _contact_event(dag, DagEvent.Kind.AGENT_LOST, {"lost": True, "last_error": error})


def note_reachable(dag: Dag) -> None:
    if (dag.mirror_contact or {}).get("unreachable_since"):
        _contact_event(dag, DagEvent.Kind.AGENT_BACK, {"unreachable_since": "", "lost": False, "last_error": ""})


def _restart_rekey_allowed(dag: Dag, changed: AgentKeyChanged, client: AgentClient) -> bool:
    """Client §2: a key changes without a wiped agent only at the first start of a >= 4.4.2 binary over a
    512-bit key, i.e. at this upgrade's "Restart obshell". Only that change is accepted without a person: the
    pinned key was 512 bits, the new one 1024, the agent now says it runs 4.4.2 or later, and this run has a
    "Restart obshell" stage it has not (as far as we saw) gone past."""
    try:
        old = load_agent_public_key(changed.pinned).key_size
        new = load_agent_public_key(changed.published).key_size
    except ValueError:
        return False
    if (old, new) != (512, 1024):
        return False
    restart = Node.objects.filter(dag=dag, name="Restart obshell").first()
    if restart is None or restart.state == State.FAILED or dag.stage > restart.seq + 1:
        return False
    try:
        return version_tuple(client.info(changed.address).version) >= (4, 4, 2)
    except AgentError:
        return False


def _stop_contact(cluster: Cluster, problem: str, key_change: dict | None = None) -> None:
    Cluster.objects.filter(pk=cluster.pk, contact_problem="").update(
        contact_problem=problem, agent_key_change=key_change or {}
    )


# ---- one poll ------------------------------------------------------------------------------------------------


def read_remote(client: AgentClient, dag: Dag) -> tuple[dict, list[dict]]:
    """The DAG without details, plus what changed: the current node, or every node after a stage/state move."""
    remote = client.get(f"/api/v1/task/dag/{dag.remote_dag_id}?show_details=false")
    moved = (remote.get("stage"), remote.get("state"), remote.get("operator")) != (dag.stage, dag.state, dag.operator)
    if moved:
        detailed = client.get(f"/api/v1/task/dag/{dag.remote_dag_id}?show_details=true")
        return remote, list(detailed.get("nodes") or [])
    current = Node.objects.filter(dag=dag, seq=remote.get("stage") or dag.stage).values_list("remote_id", flat=True)
    nodes = [client.get(f"/api/v1/task/node/{remote_id}") for remote_id in current if remote_id]
    return remote, nodes


def mirror_poll(dag_id: int, client: AgentClient | None = None) -> float:
    """Poll one mirrored DAG once; returns the seconds until the next poll (longer while the agent is away)."""
    dag = Dag.objects.select_related("cluster").get(pk=dag_id)
    cluster = dag.cluster
    if cluster.contact_problem:
        return FAILED_POLL_SECONDS
    client = client or client_for(cluster)
    try:
        remote, nodes = read_remote(client, dag)
    except CredentialsRejected:
        _stop_contact(cluster, CREDENTIALS_REJECTED)
        _contact_event(dag, DagEvent.Kind.AGENT_UNREACHABLE, {"last_error": CREDENTIALS_REJECTED})
        return FAILED_POLL_SECONDS
    except AgentKeyChanged as changed:
        if _restart_rekey_allowed(dag, changed, client):
            Cluster.objects.filter(pk=cluster.pk).update(
                agent_public_key={**cluster.agent_public_key, changed.address: changed.published}
            )
            client.pin(changed.address, changed.published)
            logger.info(
                "cluster %s: accepted the 1024-bit key of %s after Restart obshell", cluster.name, changed.address
            )
            return 0.0
        _stop_contact(cluster, KEY_CHANGED, {"address": changed.address, "published": changed.published})
        _contact_event(dag, DagEvent.Kind.AGENT_UNREACHABLE, {"last_error": KEY_CHANGED})
        return FAILED_POLL_SECONDS
    except (AgentUnreachable, AgentRefused) as error:
        transient = isinstance(error, AgentUnreachable) or error.status >= 500 or error.err_code == "Task.NotFound"
        if not transient:
            raise
        note_unreachable(dag, str(error))
        failures = int((dag.mirror_contact or {}).get("failures", 0)) + 1
        Dag.objects.filter(pk=dag.pk).update(mirror_contact={**dag.mirror_contact, "failures": failures})
        return min(settings.MIRROR_POLL_SECONDS * 2 ** min(failures, 5), BACKOFF_MAX_SECONDS)
    note_reachable(dag)
    if (dag.mirror_contact or {}).get("failures"):
        Dag.objects.filter(pk=dag.pk).update(mirror_contact={**dag.mirror_contact, "failures": 0})
    apply_remote(dag.pk, remote, nodes)
    dag.refresh_from_db(fields=["state"])
    return FAILED_POLL_SECONDS if dag.state == State.FAILED else settings.MIRROR_POLL_SECONDS


# ---- the loop ------------------------------------------------------------------------------------------------


def mirror_claim(*, owner: str, limit: int) -> list[int]:
    """Take (or renew) the leases of unfinished mirrored DAGs this process may poll: those nobody holds, whose
    holder's lease ran out, or ours. A conditional UPDATE per DAG: exactly one claimer wins."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.WORKER_LEASE_SECONDS)
    candidates = (
        Dag.objects.filter(is_finished=False)
        .exclude(remote_dag_id="")
        .filter(Q(mirror_owner=owner) | Q(mirror_lease_until__isnull=True) | Q(mirror_lease_until__lt=now))
        .order_by("id")
        .values_list("id", "mirror_owner", "mirror_lease_until")[: limit * 2]
    )
    held: list[int] = []
    for dag_id, holder, lease in candidates:
        if len(held) >= limit:
            break
        won = Dag.objects.filter(pk=dag_id, mirror_owner=holder, mirror_lease_until=lease).update(
            mirror_owner=owner, mirror_lease_until=until
        )
        if won:
            held.append(dag_id)
    return held


class MirrorRunner:
    """The mirror loops of one worker process: claims mirrored DAGs under leases and polls each when it is due,
    on a few threads (a poll is mostly waiting for the agent)."""

    def __init__(self, *, owner: str, stop_event: threading.Event, capacity: int = 100, threads: int = 4) -> None:
        self.owner = owner
        self.stop_event = stop_event
        self.held: list[int] = []
        self._last_claim = 0.0
        self.capacity = capacity
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mirror")
        self.due: dict[int, float] = {}
        self.busy: set[int] = set()
        self.lock = threading.Lock()
        self.clients: dict[int, AgentClient] = {}

    def run_forever(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    self.step()
                except Exception:
                    logger.exception("mirror runner %s: error; backing off", self.owner)
                    self.stop_event.wait(1.0)
                self.stop_event.wait(0.1)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            Dag.objects.filter(mirror_owner=self.owner).update(mirror_lease_until=None)  # hand back at once

    def step(self) -> None:
        now = time.monotonic()
        # Claiming renews our leases too: a few times per lease, not on every pass.
        if now - self._last_claim >= min(1.0, settings.WORKER_LEASE_SECONDS / 5):
            close_old_connections()
            self.held = mirror_claim(owner=self.owner, limit=self.capacity)
            self._last_claim = now
        held = self.held
        with self.lock:
            for dag_id in list(self.due):
                if dag_id not in held and dag_id not in self.busy:
                    self.due.pop(dag_id, None)
                    self.clients.pop(dag_id, None)
            for dag_id in held:
                if dag_id in self.busy or self.due.get(dag_id, 0.0) > now:
                    continue
                self.busy.add(dag_id)
                self.pool.submit(self._poll, dag_id)

    def _poll(self, dag_id: int) -> None:
        delay = 1.0
        try:
            client = self.clients.get(dag_id)
            if client is None:
                client = self.clients[dag_id] = client_for(Dag.objects.select_related("cluster").get(pk=dag_id).cluster)
            delay = mirror_poll(dag_id, client)
        except Dag.DoesNotExist:
            delay = 60.0
        except Exception:
            logger.exception("mirror %s: poll failed", dag_id)
            delay = FAILED_POLL_SECONDS
        finally:
            close_old_connections()
            with self.lock:
                self.busy.discard(dag_id)
                self.due[dag_id] = time.monotonic() + delay


def start_mirror_runner(*, owner: str, stop_event: threading.Event) -> threading.Thread:
    """The process's mirror loops on a thread of their own (a worker process starts one beside its workers)."""
    runner = MirrorRunner(owner=owner, stop_event=stop_event)
    thread = threading.Thread(target=runner.run_forever, name=f"{owner}-mirror", daemon=True)
    thread.start()
    return thread
