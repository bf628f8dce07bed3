"""A fake obshell cluster: one HTTP server per agent, sharing one cluster's state, written from the two reference
documents (`obshell-upgrade-api.md`, "API §n"; `obshell-agent-client.md`, "client §n") and nothing else: it imports
nothing from `upgrades`, so where our client and the spec disagree, the tests see it.

What it models, per agent version (`FakeAgent(version=...)`):
- auth: v1 `X-OCS-Auth` on 4.2.2.0 only, v2 `X-OCS-Header` (+ `X-OCS-Agent-Header` from 4.2.6.0) with the
  AES-encrypted body (API §2); 512- or 1024-bit keys (the 512-bit key is a fixture: `cryptography` will not make
  one); a stale key answers as client §2's table says;
- errors: `{code, message}` before 4.3.1.0, `{code?, errCode, message}` after (API §1.2, client §1.1);
- the routes a registering and mirroring client reads (client §5) and the upgrade/task routes (API §3);
- what a verifying client reads after an upgrade, by version (client §1.2, §5): `GET /obcluster/parameters` (4.3.0.0+,
  random order, `tenant_value` for TENANT scope) with `min_observer_version`, `enable_upgrade_mode` and each tenant's
  `compatible`; `GET /tenants/overview`, `GET /tenant/:name/parameter/:name` and `GET /tenant/:name/parameters`
  (4.2.4.0+); zone `status` in `/obcluster/info`. The upgrade sets them as OceanBase's scripts do: the pre script
  turns upgrade mode on (`BEGIN UPGRADE`), the post script raises min_observer_version and every tenant's compatible
  to the target version and turns upgrade mode off (`END UPGRADE`); a failed post script leaves them;
- a scheduler on the cluster that runs the upgrade DAG node by node (API §5, §6.3), operators (API §6.4), and
  what a client sees meanwhile: every agent refuses connections for `restart_seconds` at "Restart obshell" and
  may come back newer and re-keyed (client §2, §4.2); an agent whose zone is reinstalled answers 500
  `OB.Server.Process.NotExist` on task routes except `GET /task/dag/:id`, which falls back to peers (client §4.3).

Simplifications, on purpose: the route is always one hop (the target); every DAG id is a cluster id ("1" + row).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.support.spec_nodes import PREFIX_A, SUFFIX

# A 512-bit RSA key, as agents before 4.4.2 generated (client §2). Test-only: it protects nothing.
FIXTURE_512_BIT_KEY = b"""-----BEGIN PRIVATE KEY-----
MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA2MSxL1JaVq3UFio+
FVmiASqmwlxbY9tjgN0yRtAtwM3r+PzwPJZwCLEyG4SbClM2mwEh5piTBW7TMTsC
AE9vFwIDAQABAkBOqfp+6Mzd3dE0hfnnt5JiB/9iUy/bKhePATaomg2whJ7pgjJP
nR2cdcgoye3sOuKbH0GyEBtspgS9EX4/4t05AiEA94FUVIbtQAPCCsXypb+blF6T
P+x50CyCbg2uxge69TsCIQDgNUwlwoTuma10T+sIhoCp7qZtjN4mgMW3RGWhlDnf
1QIgdjbZVn4Td03UMl0VZkE8SANcBV4nWFzJ91KltYQfsd0CIQCAohNuFovt2H2L
nc5atdBbrnANqiRKMtc8riEg8snBgQIgOw5qS0GMnYcQp919Xfhdyl8NjcTxI1nT
tRTmIlaX2Ek=
-----END PRIVATE KEY-----
"""

STATES = ("PENDING", "READY", "RUNNING", "FAILED", "SUCCEED")
NO_ROLLBACK = {"Restart obshell", "Upgrade post table maintain", "Backup parameters"}
NO_PASS_NO_CANCEL = ("Execute upgrade", "Stop ", "Start ", "Reinstall and restart observer", "Restore parameters")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO_TIME = "0001-01-01T00:00:00Z"
PREFIX = PREFIX_A
REMOVE = SUFFIX[0]


def version_key(text):
    """`4.2.1.1-101000062023110109` → ((4, 2, 1, 1), 101000062023110109): API §4 step 8's numeric comparison."""
    version, _, build = text.partition("-")
    return tuple(int(part) for part in version.split(".")), int(build.split(".")[0] or 0) if build else 0


def go_time(moment):
    """API §1.1's Go RFC 3339 nano layout, in UTC."""
    if moment is None:
        return ZERO_TIME
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def now():
    return datetime.now(UTC)


# ---- errors ------------------------------------------------------------------------------------------------------


class AgentError(Exception):
    """An obshell error: HTTP status (its kind), errCode, message, and the legacy int code where obshell sets one."""

    def __init__(self, status, err_code, message, legacy=None):
        super().__init__(message)
        self.status, self.err_code, self.message, self.legacy = status, err_code, message, legacy


LEGACY_BY_STATUS = {400: 1000, 401: 10008, 404: 2300, 500: 1002}


def bad(code, message):
    return AgentError(400, code, message)


# ---- the cluster's DAGs ------------------------------------------------------------------------------------------


@dataclass
class SubTask:
    row: int
    name: str
    agent: tuple[str, int]
    state: str = "PENDING"
    operator: str = "RUN"
    execute_times: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    logs: list[tuple[int, int, str]] = field(default_factory=list)  # (log row, execute_times, text)

    def dto(self):
        return {
            "id": f"1{self.row}",
            "task_id": self.row,
            "name": self.name,
            "state": self.state,
            "operator": self.operator,
            "start_time": go_time(self.start_time),
            "end_time": go_time(self.end_time),
            "additional_data": None,
            "execute_times": self.execute_times,
            "execute_agent": {"ip": self.agent[0], "port": self.agent[1]},
            # API §6.2: null while PENDING/READY, else every line of every attempt.
            "task_logs": None if self.state in ("PENDING", "READY") else [text for _, _, text in self.logs],
        }


@dataclass
class Node:
    row: int
    name: str
    sub_tasks: list[SubTask]
    zone: str | None = None
    state: str = "PENDING"
    operator: str = "RUN"
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def can_rollback(self):
        return self.name in PREFIX[:7] or self.name.startswith(("Minor freeze", "Check", "Create", "Download"))

    @property
    def can_pass(self):
        return self.name not in NO_ROLLBACK and not self.name.startswith(NO_PASS_NO_CANCEL)

    @property
    def can_cancel(self):
        return not self.name.startswith(NO_PASS_NO_CANCEL)

    def dto(self, *, own_data=False):
        return {
            "id": f"1{self.row}",
            "node_id": self.row,
            "name": self.name,
            "state": self.state,
            "operator": self.operator,
            "start_time": go_time(self.start_time),
            "end_time": go_time(self.end_time),
            "additional_data": ({} if len(self.sub_tasks) > 1 else None) if own_data else None,
            "sub_tasks": [task.dto() for task in self.sub_tasks],
        }


@dataclass
class Dag:
    row: int
    name: str
    nodes: list[Node]
    maintenance: bool
    target: dict
    stage: int = 1
    state: str = "READY"
    operator: str = "RUN"
    start_time: datetime | None = field(default_factory=now)
    end_time: datetime | None = field(default_factory=now)
    holds_lock: bool = False

    @property
    def finished(self):
        if self.state == "SUCCEED":
            return True
        return self.state == "FAILED" and not self.maintenance

    def dto(self, *, details=True):
        return {
            "id": f"1{self.row}",
            "dag_id": self.row,
            "name": self.name,
            "stage": self.stage,
            "max_stage": len(self.nodes),
            "maintenance_type": 2 if self.maintenance else 1,
            "maintenance_key": "",
            "state": self.state,
            "operator": self.operator,
            "start_time": go_time(self.start_time),
            "end_time": go_time(self.end_time),
            "additional_data": ({} if len(self.nodes) > 1 else None) if details else None,
            "nodes": [node.dto() for node in self.nodes] if details else None,
        }


# ---- the cluster -------------------------------------------------------------------------------------------------


class FakeCluster:
    """One OceanBase cluster and its agents. `zones` maps zone name to the number of servers (one agent each)."""

    def __init__(
        self,
        *,
        name="fake",
        edition="community",
        zones=None,
        build="4.2.1.0-100000102023092807",
        agent_version="4.3.1.0-100000012025062514",
        key_bits=1024,
        password="root-pass",
        agent_password="",
        tick_seconds=0.05,
        restart_seconds=0.6,
        observer_down_ticks=4,
        new_agent_version=None,
        identity="CLUSTER AGENT",
        serving=None,
    ):
        self.name, self.edition, self.build = name, edition, build
        self.password, self.agent_password = password, agent_password
        self.tick_seconds, self.restart_seconds, self.observer_down_ticks = (
            tick_seconds,
            restart_seconds,
            observer_down_ticks,
        )
        self.identity = identity  # what every agent says it is: "SINGLE" before the cluster exists
        self.serving = serving  # how many agents get an HTTP server (None: all); the rest are topology only
        self.new_agent_version = new_agent_version  # what "Restart obshell" brings up; None: the target's
        self.lock = threading.RLock()
        self.dags: dict[int, Dag] = {}
        self.packages: list[dict] = []
        self.rows = iter(range(1, 10**9))
        self.log_rows = iter(range(1, 10**9))
        self.failures: dict[str, int] = {}  # node name → failures still to inject
        self.hang: set[str] = set()
        self.tenant_params: dict[str, str] = {"enable_rebalance": "True", "server_permanent_offline_time": "3600s"}
        version = build.split("-")[0]
        # DBA_OB_TENANTS without META tenants (name -> id), each tenant's data version, the cluster-scope values the
        # upgrade scripts change, and the zones stopped now.
        self.tenants: dict[str, int] = {"sys": 1, "app": 1002}
        self.compatible: dict[str, str] = dict.fromkeys(self.tenants, version)
        self.cluster_params: dict[str, str] = {"min_observer_version": version, "enable_upgrade_mode": "False"}
        self.stopped_zones: set[str] = set()
        self.agents: list[FakeAgent] = []
        for zone, count in (zones or {"zone1": 1, "zone2": 1, "zone3": 1}).items():
            for _ in range(count):
                self.agents.append(FakeAgent(self, zone=zone, version=agent_version, key_bits=key_bits))
        self._stop = threading.Event()
        self._ticker = None

    # lifecycle
    def start(self):
        for agent in self.agents[: self.serving]:
            agent.start()
        self._ticker = threading.Thread(target=self._run, name=f"fake-cluster-{self.name}", daemon=True)
        self._ticker.start()
        return self

    def stop(self):
        self._stop.set()
        for agent in self.agents:
            agent.stop()
        if self._ticker:
            self._ticker.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def addresses(self):
        return [f"{agent.ip}:{agent.port}" for agent in self.agents]

    def fail_node(self, name, times=1):
        """The next `times` runs of node `name` fail with an error line (the way a failed script does)."""
        with self.lock:
            self.failures[name] = times

    # reads the handlers share
    def agent_status(self, agent):
        return {
            "agent": {"ip": agent.ip, "port": agent.port, "identity": "CLUSTER AGENT"},
            "state": 2,
            "version": agent.version,
            "pid": agent.pid,
            "startAt": agent.start_at,
            "port": agent.port,
            "obState": 3 if agent.observer_up else 0,
            "sqlPort": 2881,
            "underMaintenance": False,  # client §5: the agent-local lock, never the cluster's
        }

    def topology(self):
        zones: dict[str, list] = {}
        for agent in self.agents:
            zones.setdefault(agent.zone, []).append(
                {
                    "svr_ip": agent.ip,
                    "svr_port": agent.svr_port,
                    "sql_port": 2881,
                    "agent_port": agent.port,
                    "with_rootserver": "YES" if agent is self.agents[0] else "NO",
                    "status": "ACTIVE" if agent.observer_up else "INACTIVE",
                    "build_version": agent.build.replace("-", "_", 1),  # BUILD_VERSION cut at its first "-"
                }
            )
        return zones

    def lock_holder(self):
        return next((dag for dag in self.dags.values() if dag.holds_lock), None)

    # creating DAGs (API §4, §5)
    def create_dag(self, name, node_names, *, maintenance, target, agent_for_serial):
        with self.lock:
            if maintenance:
                holder = self.lock_holder()
                if holder is not None:
                    newest = max((d for d in self.dags.values() if d.maintenance), key=lambda d: d.row)
                    raise AgentError(
                        500,
                        "OB.Cluster.UnderMaintenanceWithDag",
                        f"Create task '{name}' failed: OceanBase cluster is under maintenance by DAG: "
                        f"{newest.name}, please try again later",
                    )
            nodes = []
            for node_name in node_names:
                zone = None
                if node_name == "Reinstall and restart observer" and "zones" in target:
                    zone = target["zones"].pop(0) if target["zones"] else None
                if node_name.startswith(("Stop ", "Start ")):
                    zone = node_name.split(" ", 1)[1]
                parallel = node_name in PREFIX or node_name in (REMOVE, "Reinstall and restart observer")
                if node_name == "Reinstall and restart observer":
                    members = [a for a in self.agents if zone is None or a.zone == zone]
                elif parallel:
                    members = list(self.agents)
                else:
                    members = [agent_for_serial]
                tasks = [SubTask(next(self.rows), node_name, (a.ip, a.port)) for a in members]
                nodes.append(Node(next(self.rows), node_name, tasks, zone=zone))
            dag = Dag(next(self.rows), name, nodes, maintenance, target, holds_lock=maintenance)
            self.dags[dag.row] = dag
            return dag

    def upgrade_nodes(self, mode, version):
        zones = list(dict.fromkeys(agent.zone for agent in self.agents))
        prefix = PREFIX[:5] if self.edition == "business" else PREFIX
        hop = ["Backup parameters", "Execute upgrade checker script", "Execute upgrade pre script"]
        if mode == "ROLLING":
            for zone in zones:
                hop += ["Execute upgrade health checker script", f"Stop {zone}", "Reinstall and restart observer"]
                hop += ["Execute upgrade zone health checker script", f"Start {zone}"]
        else:
            hop += ["Execute upgrade health checker script", "Reinstall and restart observer"]
            hop += ["Execute upgrade health checker script"]
        hop += ["Execute upgrade post script", "Restore parameters"]
        return prefix + hop + [REMOVE], (zones if mode == "ROLLING" else [None])

    # the scheduler (API §6.3): one step of every unfinished DAG per tick
    def _run(self):
        while not self._stop.wait(self.tick_seconds):
            with self.lock:
                for dag in list(self.dags.values()):
                    if dag.state in ("READY", "RUNNING"):
                        self._step(dag)

    def _log(self, task, text):
        task.logs.append((next(self.log_rows), task.execute_times, text))

    def _step(self, dag):
        if dag.state == "READY":
            dag.state, dag.start_time = "RUNNING", now()
        node = dag.nodes[dag.stage - 1]
        rolling_back = dag.operator == "ROLLBACK"
        if node.state in ("PENDING",) or (node.state == "SUCCEED" and rolling_back and node.operator != "ROLLBACK"):
            node.state, node.start_time = "RUNNING", now()
            if rolling_back:
                node.operator = "ROLLBACK"
            for task in node.sub_tasks:
                if task.state != "SUCCEED" or rolling_back:
                    task.state, task.execute_times = "RUNNING", task.execute_times + 1
                    task.start_time, task.operator = now(), node.operator
                    self._log(task, f"{'rollback ' if rolling_back else ''}{node.name} started")
            self._on_node_start(dag, node)
            return
        if node.state != "RUNNING":
            return
        if not self._node_may_finish(dag, node):
            return
        failing = not rolling_back and self.failures.get(node.name, 0) > 0
        if failing:
            self.failures[node.name] -= 1
        for task in node.sub_tasks:
            if task.state == "RUNNING":
                task.end_time = now()
                if failing and task is node.sub_tasks[0]:
                    task.state = "FAILED"
                    self._log(task, f"ERROR: [OB.Upgrade.ScriptFailed]: {node.name} failed (injected)")
                else:
                    task.state = "SUCCEED"
                    self._log(task, f"{node.name} succeeded")
        node.end_time = now()
        if any(task.state == "FAILED" for task in node.sub_tasks):
            node.state = "FAILED"
            dag.state, dag.end_time = "FAILED", now()
            return
        node.state = "SUCCEED"
        self._on_node_end(dag, node)
        if rolling_back:
            if dag.stage == 1:
                dag.state, dag.end_time, dag.holds_lock = "SUCCEED", now(), False
            else:
                dag.stage -= 1
            return
        if dag.stage == len(dag.nodes):
            dag.state, dag.end_time, dag.holds_lock = "SUCCEED", now(), False
        else:
            dag.stage += 1

    def _agents_of(self, node):
        return [agent for agent in self.agents if any(t.agent == (agent.ip, agent.port) for t in node.sub_tasks)]

    def _on_node_start(self, dag, node):
        if dag.operator == "ROLLBACK":
            return
        if node.name.startswith("Stop ") and node.zone:
            self.stopped_zones.add(node.zone)  # ALTER SYSTEM STOP ZONE
        if node.name == "Restart obshell":
            version = self.new_agent_version or dag.target.get("agent_version")
            for agent in self.agents[: self.serving]:
                agent.restart(version=version)
        elif node.name == "Reinstall and restart observer":
            node.down_ticks = self.observer_down_ticks  # type: ignore[attr-defined]
            for agent in self._agents_of(node):
                agent.observer_up = False

    def _node_may_finish(self, dag, node):
        if node.name in self.hang:
            return False
        if node.name == "Restart obshell" and dag.operator != "ROLLBACK":
            if not all(agent.serving for agent in self.agents[: self.serving]):
                return False
            for task in node.sub_tasks:
                if task.state == "RUNNING" and not any("continue" in text for _, _, text in task.logs):
                    self._log(task, "restart agent task continue")
                    self._log(task, f"current obshell version is {self._agent_at(task).version}")
            return True
        if node.name == "Reinstall and restart observer" and dag.operator != "ROLLBACK":
            node.down_ticks -= 1  # type: ignore[attr-defined]
            if node.down_ticks > 0:  # type: ignore[attr-defined]
                return False
            for agent in self._agents_of(node):
                agent.build, agent.observer_up = dag.target["build"], True
        return True

    def _agent_at(self, task):
        return next(agent for agent in self.agents if (agent.ip, agent.port) == task.agent)

    def _on_node_end(self, dag, node):
        if dag.operator == "ROLLBACK":
            return
        if node.name == "Backup parameters":
            dag.target["saved_params"] = dict(self.tenant_params)
        elif node.name == "Execute upgrade pre script":
            self.cluster_params["enable_upgrade_mode"] = "True"  # ALTER SYSTEM BEGIN UPGRADE
        elif node.name.startswith("Start ") and node.zone:
            self.stopped_zones.discard(node.zone)
        elif node.name == "Execute upgrade post script":
            version = dag.target["build"].split("-")[0]
            self.cluster_params["min_observer_version"] = version
            self.compatible = dict.fromkeys(self.tenants, version)  # RUN UPGRADE JOB "UPGRADE_ALL"
            self.cluster_params["enable_upgrade_mode"] = "False"  # ALTER SYSTEM END UPGRADE

    # operators (API §6.4)
    def operate(self, dag, operator):
        operator = operator.upper()
        failed_node = dag.nodes[dag.stage - 1]
        if operator == "RETRY":
            if dag.state != "FAILED":
                raise bad("Task.Dag.Operator.RetryNotFailedDag", "Failed to set DAG retry: DAG state is not failed")
            dag.state, dag.operator = "READY", "RUN"
            dag.start_time = dag.end_time = EPOCH
            failed_node.state, failed_node.operator = "PENDING", "RETRY"
            dag.holds_lock = dag.maintenance
        elif operator == "ROLLBACK":
            if dag.state != "FAILED":
                raise bad(
                    "Task.Dag.Operator.RollbackNotFailedDag", "Failed to set DAG rollback: DAG state is not failed"
                )
            for node in dag.nodes[: dag.stage]:
                if not node.can_rollback:
                    raise bad(
                        "Task.Dag.Operator.RollbackNotAllowed",
                        f"Failed to set DAG rollback: node {node.name} cannot rollback",
                    )
            dag.state, dag.operator = "READY", "ROLLBACK"
            dag.start_time = dag.end_time = EPOCH
            failed_node.state = "SUCCEED"  # re-entered below as a rollback
        elif operator == "CANCEL":
            if dag.state in ("FAILED", "SUCCEED"):
                raise bad("Task.Dag.Operator.CancelFinishedDag", "Failed to cancel DAG: DAG is finished")
            for node in dag.nodes[: dag.stage]:
                if not node.can_cancel:
                    raise bad(
                        "Task.Dag.Operator.CancelNotAllowed", f"Failed to cancel DAG: node {node.name} cannot cancel"
                    )
            for task in failed_node.sub_tasks:
                if task.state in ("READY", "RUNNING"):
                    task.state, task.end_time = "FAILED", now()
                    self._log(task, "sub task cancelled")
            failed_node.state, failed_node.operator = "FAILED", "CANCEL"
            dag.state, dag.operator, dag.end_time = "FAILED", "CANCEL", now()
        elif operator == "PASS":
            if dag.state != "FAILED":
                raise bad("Task.Dag.Operator.PassNotFailedDag", "Failed to pass DAG: DAG is not failed")
            for node in dag.nodes[dag.stage - 1 :]:
                if not node.can_pass:
                    raise bad("Task.Dag.Operator.PassNotAllowed", f"Failed to pass DAG: node {node.name} cannot pass")
            for node in dag.nodes[dag.stage - 1 :]:
                node.state, node.operator = "SUCCEED", "PASS"
            dag.state, dag.operator, dag.end_time, dag.holds_lock = "SUCCEED", "PASS", now(), False
            dag.stage = len(dag.nodes)
        else:
            raise bad("Task.Dag.Operator.NotSupport", f"Operator {operator} is not supported")

    def find(self, kind, generic_id):
        if not re.fullmatch(r"1\d+", generic_id or ""):
            raise bad("Task.GenericID.Invalid", f"Invalid generic id: {generic_id}")
        row = int(generic_id[1:])
        if f"1{row}" != generic_id:
            raise AgentError(404, "Task.NotFound", "Task not found: dag id not match")
        for dag in self.dags.values():
            if kind == "dag" and dag.row == row:
                return dag
            for node in dag.nodes:
                if kind == "node" and node.row == row:
                    return dag, node
                for task in node.sub_tasks:
                    if kind == "sub_task" and task.row == row:
                        return task
        raise AgentError(404, "Task.NotFound", "Task not found: record not found")


# ---- one agent ---------------------------------------------------------------------------------------------------


class FakeAgent:
    def __init__(self, cluster, *, zone, version, key_bits):
        self.cluster, self.zone, self.version = cluster, zone, version
        self.ip, self.port = "127.0.0.1", _free_port()
        # Observers sharing a host listen on ports of their own (every fake agent's host is 127.0.0.1).
        self.svr_port = 2882 + 3 * len(cluster.agents)
        self.build = cluster.build
        self.observer_up = True
        self.pid = 4000 + len(cluster.agents)
        self.start_at = time.time_ns()
        self.key = (
            serialization.load_pem_private_key(FIXTURE_512_BIT_KEY, None)
            if key_bits == 512
            else rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
        )
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for tests
        self._server = None
        self._thread = None

    # process lifecycle
    @property
    def serving(self):
        return self._server is not None

    def start(self):
        handler = type("Handler", (_Handler,), {"agent": self})
        self._server = ThreadingHTTPServer((self.ip, self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        """The process goes away: its port refuses connections until `start()`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def restart(self, *, version=None, after=None):
        """obshell's restart (client §4.2): refuse for `after` seconds, come back with a new pid and `startAt`, maybe
        a newer version; a 4.4.2+ binary over a 512-bit key re-keys to 1024 bits (client §2)."""
        self.stop()

        def come_back():
            time.sleep(self.cluster.restart_seconds if after is None else after)
            if version:
                self.version = version
            if self.key.key_size < 1024 and version_key(self.version) >= version_key("4.4.2.0"):
                self.key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            self.pid += 1000
            self.start_at = time.time_ns()
            self.start()

        threading.Thread(target=come_back, daemon=True).start()

    def rekey(self):
        """A key change nobody announced (a wiped sqlite, client §2)."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=1024)

    # version bands (client §1)
    def at_least(self, version):
        return version_key(self.version) >= version_key(version)

    @property
    def public_key_b64(self):
        der = self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return base64.b64encode(der).decode()

    def decrypt_blocks(self, text):
        raw = base64.b64decode(text)
        size = self.key.key_size // 8
        if not raw or len(raw) % size:
            raise ValueError("bad length")
        return b"".join(self.key.decrypt(raw[i : i + size], padding.PKCS1v15()) for i in range(0, len(raw), size))


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- HTTP --------------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    agent: FakeAgent
    # One request per connection, so a stopped agent leaves no kept-alive connection answering for it.
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method):
        started = time.monotonic()
        agent = self.agent
        agent.requests.append((method, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if not path.startswith(("/api/v1", "/rpc/v1")) and agent.at_least("4.3.0.0"):
            return self._raw(200, b"<html><body>obshell</body></html>", "text/html")  # client §8.9
        try:
            data = self._route(method, path, body)
            self._envelope(200, data, None, started)
        except AgentError as error:
            self._envelope(error.status, None, error, started)

    def _route(self, method, path, body):
        agent, cluster = self.agent, self.agent.cluster
        query = parse_qs(urlsplit(self.path).query)
        open_route = path in ("/api/v1/secret", "/api/v1/info", "/api/v1/status", "/api/v1/time")
        if open_route and not agent.version.startswith("4.2.2.0"):
            self._decrypt_header()  # client §2: a stale header fails even the open routes
        if method == "GET" and path == "/api/v1/secret":
            return {"ip": agent.ip, "port": agent.port, "public_key": agent.public_key_b64}
        if method == "GET" and path == "/api/v1/info":
            return self._info()
        if method == "GET" and path == "/api/v1/status":
            return cluster.agent_status(agent)
        if method == "GET" and path == "/api/v1/time":
            return go_time(now())
        body = self._authenticate(body)
        with cluster.lock:
            return self._protected(method, path, body, query)

    def _info(self):
        agent = self.agent
        info = {
            "pid": agent.pid,
            "state": 2,
            "startAt": agent.start_at,
            "homePath": "/home/admin/oceanbase",
            "obVersion": agent.build.split("-")[0],
            "architecture": "x86_64",
            "ip": agent.ip,
            "port": agent.port,
            "zone": agent.zone,
            "identity": agent.cluster.identity,
            "version": agent.version,
            "isObproxyAgent": False,
            "security": bool(agent.cluster.agent_password),
        }
        if agent.at_least("4.2.5.0"):
            info["supportedAuth"] = ["v2"]
        return info

    # auth (API §2, client §1.1-§3)
    def _decrypt_header(self):
        """API §2.2 step 1 (`HeaderDecrypt`, on every route): (header name, fields, AES keys), or None without one."""
        agent = self.agent
        header_name = "X-OCS-Agent-Header" if self.headers.get("X-OCS-Agent-Header") else "X-OCS-Header"
        header = self.headers.get(header_name)
        if not header:
            return None
        try:
            fields = json.loads(agent.decrypt_blocks(header))
            return header_name, fields, base64.b64decode(fields.get("keys") or "")
        except Exception as exc:
            if agent.at_least("4.4.2.0"):
                raise AgentError(
                    401, "Security.Authentication.Header.DecryptFailed", f"Decrypt http header failed: {exc}", 1
                ) from None
            if agent.at_least("4.3.1.0"):
                raise AgentError(
                    401, "Security.Authentication.Header.DecryptFailed", "Decrypt http header failed"
                ) from None
            raise AgentError(401, "Common.Unauthorized", "Verification failed: header decrypt failed", 10008) from None

    def _authenticate(self, body):
        agent, cluster = self.agent, self.agent.cluster
        if agent.version.startswith("4.2.2.0"):
            return self._authenticate_v1(body)
        decrypted = self._decrypt_header()
        if decrypted is None:
            if agent.at_least("4.3.1.0"):
                raise bad(
                    "Request.Header.NotFound", "X-OCS-Agent-Header or X-OCS-Header not found in http request header"
                )
            raise AgentError(401, "Common.Unauthorized", "Verification failed: header not found", 10008)
        header_name, fields, keys = decrypted
        if body:
            body = _aes_decrypt(keys, body)
        if fields.get("uri") != self.path:
            raise AgentError(401, "Security.Authentication.Header.UriMismatch", "Unauthorized: uri mismatch", 10008)
        password = fields.get("auth", "")
        if password:
            if not isinstance(fields.get("ts"), str) or not fields["ts"].isdigit():
                raise AgentError(
                    401, "Security.Authentication.Timestamp.Invalid", "Unauthorized: invalid timestamp", 10008
                )
            if int(fields["ts"]) < time.time():
                raise AgentError(401, "Security.Authentication.Expired", "Unauthorized: Authentication expired", 10008)
        if header_name == "X-OCS-Agent-Header" and cluster.agent_password:
            if password != cluster.agent_password:
                raise AgentError(
                    401,
                    "Security.Authentication.IncorrectAgentPassword",
                    "Unauthorized: Agent password is incorrect",
                    10008,
                )
        elif password != cluster.password:
            raise AgentError(
                401,
                "Security.Authentication.IncorrectOceanbasePassword",
                "Unauthorized: OceanBase password is incorrect",
                10008,
            )
        return body

    def _authenticate_v1(self, body):
        header = self.headers.get("X-OCS-Auth")
        try:
            fields = json.loads(self.agent.decrypt_blocks(header or ""))
        except Exception:
            raise AgentError(401, "Common.Unauthorized", "err.unauthorized", 10008) from None
        if fields.get("password") != self.agent.cluster.password or int(fields.get("ts", 0)) < time.time():
            raise AgentError(401, "Common.Unauthorized", "err.unauthorized", 10008)
        return body

    # protected routes (API §3)
    def _protected(self, method, path, body, query):
        agent, cluster = self.agent, self.agent.cluster
        parts = path.split("/")[3:]  # after /api/v1
        if method == "GET" and path == "/api/v1/ob/info":
            return self._ob_info()
        if method == "GET" and path == "/api/v1/obcluster/info" and agent.at_least("4.3.0.0"):
            return self._obcluster_info()
        if method == "GET" and path == "/api/v1/obcluster/parameters" and agent.at_least("4.3.0.0"):
            self._need_observer()
            return {"contents": self._cluster_parameters()}
        if method == "GET" and parts[:1] == ["tenants"] and parts[1:] == ["overview"] and agent.at_least("4.2.4.0"):
            self._need_observer()
            return {"contents": [self._tenant_row(name) for name in cluster.tenants]}
        if method == "GET" and parts[:1] == ["tenant"] and len(parts) >= 3 and agent.at_least("4.2.4.0"):
            return self._tenant_parameters(parts[1], parts[2:], query)
        if method == "GET" and path == "/api/v1/agents/status":
            return {f"{a.ip}:{a.port}": cluster.agent_status(a) for a in cluster.agents if a.serving}
        if path == "/api/v1/upgrade/package/info" and method == "GET" and agent.at_least("4.3.0.0"):
            newest = {}
            for package in cluster.packages:
                newest[
                    (package["name"], package["version"], package["release_distribution"], package["architecture"])
                ] = package
            return {"contents": sorted(newest.values(), key=lambda p: -p["pkg_id"])}
        if path == "/api/v1/upgrade/package" and method == "POST":
            self._need_observer()
            return self._upload(body)
        if method == "DELETE" and len(parts) == 3 and parts[:2] == ["upgrade", "package"] and agent.at_least("4.4.0.0"):
            cluster.packages = [p for p in cluster.packages if str(p["pkg_id"]) != parts[2]]
            return None
        if method == "POST" and path in ("/api/v1/ob/upgrade", "/api/v1/ob/upgrade/check"):
            self._need_observer()
            return self._start_upgrade(path.endswith("check"), _json(body))
        if method == "POST" and path in ("/api/v1/agent/upgrade", "/api/v1/agent/upgrade/check"):
            return self._start_agent_upgrade(path.endswith("check"), _json(body))
        if parts[:1] == ["task"]:
            return self._task(method, parts[1:], body, query)
        raise AgentError(404, "Common.NotFound", f"404 page not found: {path}")

    def _need_observer(self):
        if not self.agent.observer_up:
            raise AgentError(500, "OB.Server.Process.NotExist", "Observer process does not exist")

    def _ob_info(self):
        agent, cluster = self.agent, self.agent.cluster
        agents = [
            {"ip": a.ip, "port": a.port, "zone": a.zone, "identity": "CLUSTER AGENT", "version": a.version}
            for a in cluster.agents
        ]
        if not agent.observer_up:  # client §4.3: degrades silently
            return {"agent_info": agents, "obcluster_info": {"id": 1, "name": cluster.name}}
        return {
            "agent_info": agents,
            "obcluster_info": {
                "id": 1,
                "name": cluster.name,
                "version": agent.build.split("-")[0],
                "topology": cluster.topology(),
                "is_shared_storage": False,
            },
        }

    def _obcluster_info(self):
        cluster = self.agent.cluster
        return {
            "cluster_name": cluster.name,
            "cluster_id": 1,
            "status": "AVAILABLE" if self.agent.observer_up else "NOT RUNNING",
            "is_community_edition": cluster.edition == "community",
            "is_standalone": cluster.edition == "standalone",
            "ob_version": self.agent.build.split("-")[0],
            "zones": [
                {"name": zone, "status": "INACTIVE" if zone in cluster.stopped_zones else "ACTIVE", "servers": servers}
                for zone, servers in cluster.topology().items()
            ],
            "tenants": [{"tenant_id": tenant_id, "tenant_name": name} for name, tenant_id in cluster.tenants.items()],
        }

    # parameters (client §5; obshell executor/ob/parameter.go GetAllParameters, executor/tenant/parameter.go)
    def _cluster_parameters(self):
        """Every parameter once, with a value per server (and per tenant for TENANT scope), in random order: obshell
        builds the list from a map."""
        cluster = self.agent.cluster
        servers = [(a.ip, a.svr_port, a.zone) for a in cluster.agents]

        def item(name, scope, values, tenant_values=None):
            ob_parameters = []
            for tenant, value in (tenant_values or {None: values}).items():
                for ip, port, zone in servers:
                    row = {"svr_ip": ip, "svr_port": port, "zone": zone, "value": value if tenant else values}
                    if tenant:
                        row.update(tenant_id=cluster.tenants[tenant], tenant_name=tenant)
                    ob_parameters.append(row)
            distinct = sorted({row["value"] for row in ob_parameters})
            document = {
                "name": name,
                "scope": scope,
                "edit_level": "DYNAMIC_EFFECTIVE",
                "default_value": "",
                "section": "OBSERVER" if scope == "CLUSTER" else "TENANT",
                "data_type": "STRING",
                "info": "",
                "ob_parameters": ob_parameters,
                "values": distinct,
                "is_single_value": len(distinct) == 1,
            }
            if tenant_values:
                document["tenant_value"] = [
                    {"tenant_id": cluster.tenants[t], "tenant_name": t, "value": v} for t, v in tenant_values.items()
                ]
            return document

        items = [item(name, "CLUSTER", value) for name, value in cluster.cluster_params.items()]
        items += [item(name, "CLUSTER", value) for name, value in cluster.tenant_params.items()]
        items.append(item("compatible", "TENANT", None, dict(cluster.compatible)))
        random.shuffle(items)
        return items

    def _tenant_row(self, name):
        return {
            "tenant_id": self.agent.cluster.tenants[name],
            "tenant_name": name,
            "mode": "MYSQL",
            "status": "NORMAL",
            "locked": "NO",
            "primary_zone": "RANDOM",
            "locality": "",
            "in_recyclebin": "NO",
            "created_time": go_time(EPOCH),
        }

    def _tenant_parameters(self, name, rest, query):
        """`GET /tenant/:name/parameter/:para` (one GvObParameter) and `GET /tenant/:name/parameters?filter=`."""
        cluster = self.agent.cluster
        self._need_observer()
        if name not in cluster.tenants:
            raise AgentError(400, "Common.BadRequest", f"Tenant '{name}' is not exist.", 1000)
        values = {"compatible": cluster.compatible[name]}

        def row(parameter, value):
            return {"name": parameter, "value": value, "data_type": "STRING", "info": "", "edit_level": "DYNAMIC"}

        if rest[0] == "parameter" and len(rest) == 2:
            if rest[1] not in values:
                return None  # no such row: obshell's Scan leaves the pointer nil
            return row(rest[1], values[rest[1]])
        if rest == ["parameters"]:
            pattern = re.escape((query.get("filter") or ["%"])[0]).replace("%", ".*").replace("_", ".")
            return {"contents": [row(k, v) for k, v in values.items() if re.fullmatch(pattern, k)]}
        raise AgentError(404, "Common.NotFound", "404 page not found")

    def _upload(self, body):
        boundary = re.search(r"boundary=([^;]+)", self.headers.get("Content-Type", ""))
        if not boundary:
            raise bad("Common.BindJsonFailed", "request Content-Type isn't multipart/form-data")
        rpm = _multipart_file(body, boundary.group(1).strip('"').encode())
        if rpm is None:
            raise bad("Common.BindJsonFailed", "http: no such file")
        info = _rpm_identity(rpm)
        allowed = {"obshell", "oceanbase-diagnostic-tool"} | {
            "community": {"oceanbase-ce", "oceanbase-ce-libs"},
            "business": {"oceanbase"},
            "standalone": {"oceanbase-standalone"},
        }[self.agent.cluster.edition]
        if info["name"] not in allowed:
            raise bad("OB.Package.Name.NotSupport", f"package name {info['name']} is not supported")
        if "." not in info["release"]:
            raise bad("Package.ReleaseFormat.Invalid", f"release {info['release']} is invalid")
        record = {
            "pkg_id": next(self.agent.cluster.rows),
            "name": info["name"],
            "version": info["version"],
            "release_distribution": info["release"],
            "distribution": info["release"].split(".")[1],
            "release": info["release"].split(".")[0],
            "architecture": info["arch"],
            "size": len(rpm),
            "payload_size": info["payload_size"],
            "chunk_count": len(rpm) // (8 * 1024 * 1024 - 1) + 1,
            "md5": info["md5"],
            "upgrade_dep_yaml": "",
            "gmt_modify": go_time(now()),
        }
        self.agent.cluster.packages.append(record)
        # API §3.1: this route answers with Go field names.
        answer = {"".join(part.capitalize() for part in key.split("_")): value for key, value in record.items()}
        return {**answer, "GmtModify": ZERO_TIME}

    def _start_upgrade(self, check, params):
        agent, cluster = self.agent, self.agent.cluster
        version, release, mode = params.get("version"), params.get("release"), (params.get("mode") or "")
        if not version or not release or (not check and not mode):
            raise bad("Common.BindJsonFailed", "Bind JSON failed: required field missing")
        mode = mode.upper()
        if not check and mode not in ("ROLLING", "STOPSERVICE"):
            raise bad("OB.Upgrade.Mode.NotSupported", f"upgrade mode '{mode}' is not supported")
        zones = list(dict.fromkeys(a.zone for a in cluster.agents))
        if mode == "ROLLING" and len(zones) < 3:
            raise bad(
                "OB.Upgrade.UnableToRollingUpgrade", "the number of zones is less than 3, unable to rolling upgrade"
            )
        if "." not in release:
            raise bad("Package.ReleaseFormat.Invalid", f"release {release} is invalid")
        target = f"{version}-{release.split('.')[0]}"
        if version_key(target) <= version_key(agent.build):
            raise bad("OB.Upgrade.ToLowerVersion", f"the target version {target} is not greater than {agent.build}")
        names = {
            "community": ["oceanbase-ce", "oceanbase-ce-libs"],
            "business": ["oceanbase"],
            "standalone": ["oceanbase-standalone"],
        }
        missing = [
            f"{name}-{version}-{release}.x86_64.rpm"
            for name in names[cluster.edition]
            if not any(
                p["name"] == name and p["version"] == version and p["release_distribution"] == release
                for p in cluster.packages
            )
        ]
        if missing:
            raise bad("OB.Package.NotExist", f"These packages are missing: '{missing}'")
        serial_agent = cluster.agents[0]
        if check:
            names_ = PREFIX[:5] + [REMOVE]
            dag = cluster.create_dag(
                f"Upgrade check OB {version}-{release}",
                names_,
                maintenance=False,
                target={},
                agent_for_serial=serial_agent,
            )
        else:
            node_names, reinstall_zones = cluster.upgrade_nodes(mode, version)
            prefix = "OB rolling upgrade" if mode == "ROLLING" else "OB stop service upgrade"
            target_info = {
                "build": target,
                "agent_version": f"{version}-{release.split('.')[0]}",
                "zones": reinstall_zones,
            }
            dag = cluster.create_dag(
                f"{prefix} {version}-{release}",
                node_names,
                maintenance=True,
                target=target_info,
                agent_for_serial=serial_agent,
            )
        created = dag.dto(details=False)
        created["start_time"] = created["end_time"] = ZERO_TIME  # API §6.2: the create answer is not re-read
        return created

    def _start_agent_upgrade(self, check, params):
        agent, cluster = self.agent, self.agent.cluster
        version, release = params.get("version"), params.get("release")
        if not version or not release:
            raise bad("Common.BindJsonFailed", "Bind JSON failed: required field missing")
        target = f"{version}-{release.split('.')[0]}"
        if version_key(target) <= version_key(agent.version):
            raise bad(
                "Agent.Upgrade.ToLowerVersion", f"the target version {target} is not greater than {agent.version}"
            )
        if check:
            names = PREFIX[1:5] + [REMOVE]
            dag = cluster.create_dag(
                f"Upgrade check obshell {version}-{release}",
                names,
                maintenance=False,
                target={},
                agent_for_serial=agent,
            )
        else:
            names = PREFIX[1:] + [REMOVE]
            dag = cluster.create_dag(
                f"Upgrade obshell {version}-{release}",
                names,
                maintenance=True,
                target={"agent_version": target, "build": agent.build},
                agent_for_serial=agent,
            )
        created = dag.dto(details=False)
        created["start_time"] = created["end_time"] = ZERO_TIME
        return created

    def _task(self, method, parts, body, query):
        agent, cluster = self.agent, self.agent.cluster
        details = (query.get("show_details") or ["true"])[0].lower() in ("1", "t", "true")
        if parts[:2] == ["dag", "maintain"] and parts[2:] == ["ob"]:
            self._need_observer()
            maintenance = [dag for dag in cluster.dags.values() if dag.maintenance]
            if not maintenance:
                raise AgentError(404, "Task.NotFound", "Task not found: Cluster is not under maintenance")
            return max(maintenance, key=lambda d: d.row).dto(details=details)
        if parts in (["dag", "unfinish"], ["dag", "ob", "unfinish"]):
            if not agent.observer_up:
                return {"contents": None}  # client §4.3: the cluster part silently missing
            return {"contents": [dag.dto(details=details) for dag in cluster.dags.values() if not dag.finished]}
        if len(parts) == 2 and parts[0] == "dag":
            if not agent.observer_up:
                return self._dag_from_peer(parts[1], details)
            dag = cluster.find("dag", parts[1])
            if method == "POST":
                cluster.operate(dag, (_json(body).get("operator") or ""))
                return None
            return dag.dto(details=details)
        if len(parts) == 2 and parts[0] == "node":
            self._need_observer()
            dag, node = cluster.find("node", parts[1])
            if method == "POST":
                if (_json(body).get("operator") or "").upper() != "PASS":
                    raise bad("Task.Node.Operator.NotSupport", "Operator is not supported")
                if dag.state != "FAILED":
                    raise bad("Task.Node.Operator.PassNotFailedDag", "Failed to pass node: DAG is not failed")
                if node.state != "FAILED":
                    raise bad("Task.Node.Operator.PassNotFailedNode", "Failed to pass node: node is not failed")
                if not node.can_pass:
                    raise bad("Task.Node.Operator.PassNotAllowed", f"Failed to pass node: node {node.name} cannot pass")
                node.state, node.operator = "SUCCEED", "PASS"
                dag.state, dag.operator = "READY", "RUN"
                if dag.stage < len(dag.nodes):
                    dag.stage += 1
                return None
            return node.dto(own_data=True)
        if len(parts) >= 2 and parts[0] == "sub_task":
            self._need_observer()
            task = cluster.find("sub_task", parts[1])
            if parts[2:] == ["logs"]:
                return {
                    "contents": [
                        {
                            "id": row,
                            "sub_task_id": task.row,
                            "execute_times": times,
                            "log_content": text,
                            "is_sync": False,
                            "create_time": go_time(now()),
                            "update_time": go_time(now()),
                        }
                        for row, times, text in task.logs
                    ]
                }
            return task.dto()
        raise AgentError(404, "Common.NotFound", "404 page not found")

    def _dag_from_peer(self, generic_id, details):
        """Client §4.3: `GET /task/dag/:id` asks the peers when the local observer is down (since 4.2.6.0)."""
        cluster = self.agent.cluster
        if self.agent.at_least("4.2.6.0") and any(
            a.observer_up and a.serving for a in cluster.agents if a is not self.agent
        ):
            return cluster.find("dag", generic_id).dto(details=details)
        if self.agent.at_least("4.3.1.0"):
            raise AgentError(500, "OB.Server.Process.NotExist", "Task not found: Observer process does not exist")
        raise AgentError(404, "Task.NotFound", "Task not found: observer process not exist", 2300)

    # responses (API §1.1)
    def _envelope(self, status, data, error, started):
        agent = self.agent
        document = {
            "successful": error is None,
            "timestamp": go_time(now()),
            "duration": int((time.monotonic() - started) * 1000),
            "status": status,
            "traceId": self.headers.get("X-OBSHELL-Trace-ID")
            or hashlib.md5(str(time.time_ns()).encode()).hexdigest()[:16],
        }
        if data is not None:
            document["data"] = data
        if error is not None:
            if agent.at_least("4.3.1.0"):
                document["error"] = {"errCode": error.err_code, "message": error.message}
                if error.legacy is not None:
                    document["error"] = {"code": error.legacy, **document["error"]}
            else:
                document["error"] = {
                    "code": error.legacy or LEGACY_BY_STATUS.get(error.status, 1002),
                    "message": error.message,
                }
        self._raw(status, json.dumps(document).encode(), "application/json")

    def _raw(self, status, payload, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _json(body):
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise bad("Common.BindJsonFailed", "Bind JSON failed: invalid character") from None
    return value if isinstance(value, dict) else {}


def _aes_decrypt(keys, body):
    if len(keys) != 32:
        raise AgentError(500, "Request.Body.Decrypt.AES.KeyAndIv.Invalid", "AES key and iv are invalid")
    decryptor = Cipher(algorithms.AES(keys[:16]), modes.CBC(keys[16:])).decryptor()
    plain = decryptor.update(base64.b64decode(body)) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    return unpadder.update(plain) + unpadder.finalize()


def aes_encrypt(keys, plain):
    """The client side of the body cipher, for tests that speak to the fake without the SDK."""
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(keys[:16]), modes.CBC(keys[16:])).encryptor()
    return base64.b64encode(encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize())


def _multipart_file(body, boundary):
    for part in body.split(b"--" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return content[:-2] if content.endswith(b"\r\n") else content
    return None


def _rpm_identity(rpm):
    """Name, version, release and arch from the main header; md5 (tag 1004) and payload size (tag 1000) from the
    signature header (API §3.1 step 4). RPM file layout: a 96-byte lead, the signature header padded to 8 bytes,
    then the main header."""
    if len(rpm) < 112 or rpm[:4] != b"\xed\xab\xee\xdb":
        raise bad("OB.Package.Invalid", "not an rpm file")
    signature, offset = _rpm_header(rpm, 96)
    offset += (8 - offset % 8) % 8
    main, _ = _rpm_header(rpm, offset)
    return {
        "name": main.get(1000, ""),
        "version": main.get(1001, ""),
        "release": main.get(1002, ""),
        "arch": main.get(1022, ""),
        "md5": signature.get(1004, b"").hex() if isinstance(signature.get(1004), bytes) else "",
        "payload_size": signature.get(1000, 0),
    }


def _rpm_header(data, offset):
    if data[offset : offset + 3] != b"\x8e\xad\xe8":
        raise bad("OB.Package.Invalid", "bad rpm header")
    count, size = struct.unpack(">II", data[offset + 8 : offset + 16])
    store = offset + 16 + count * 16
    values = {}
    for index in range(count):
        tag, kind, at, number = struct.unpack(">IIII", data[offset + 16 + index * 16 : offset + 32 + index * 16])
        start = store + at
        if kind in (6, 8, 9):  # string, string array, i18n string: the first one
            values[tag] = data[start : data.index(b"\0", start)].decode(errors="replace")
        elif kind == 4:
            values[tag] = struct.unpack(">I", data[start : start + 4])[0]
        elif kind == 7:
            values[tag] = data[start : start + number]
    return values, store + size
