"""A fleet at scale for `manage.py seed_fleet` and the page benchmark: N simulated clusters (`fleet-0001`...) with
their zones and servers on a spread of builds and editions, the demo's stored packages (so some builds are
upgradable), a history of finished runs with their stages, sub-tasks, log lines, events and audit entries, a
few runs in progress (one stalled), failed runs holding their cluster, an unreachable real cluster or two, and the
step-duration statistics rebuilt from that history.

Fast by construction: rows are written in chunks of clusters, the big tables with one multi-row write each
(PostgreSQL COPY, SQLite executemany) and the sub-tasks and log lines derived from the stages inside the
database (INSERT ... SELECT), never row by row through the ORM.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import JSONField, Max
from django.utils import timezone

from upgrades.audit import Actor
from upgrades.demo.fleet import ARCH, BUILDS, DISTRIBUTION, ensure_demo_packages
from upgrades.models import AuditEntry, Cluster, ClusterLabel, Dag, DagEvent, Node, Server, SubTask, TaskLog, Zone
from upgrades.models.cluster import Backend, Edition
from upgrades.models.dag import Operator, State
from upgrades.operations.durations import refresh_step_durations
from upgrades.planning import stages
from upgrades.planning.stages import Topology

PREFIX = "fleet-"
CHAIN = ("4.2.0.0", "4.2.1.0", "4.2.1.2", "4.3.0.1")
# Usual seconds of each node action (jittered per run): what the ETA and stall figures are made of.
ACTION_SECONDS = {
    "reinstall_observer": 150,
    "stop_zone": 40,
    "start_zone": 60,
    "upgrade_pre_script": 45,
    "upgrade_post_script": 90,
    "download_packages": 30,
    "install_new_obshell": 20,
    "restart_obshell": 25,
}
DEFAULT_SECONDS = 12
CHUNK = 50  # clusters per write
# The latest runs of each cluster (and every unfinished one) get sub-tasks, log lines and events; older runs
# keep their stages (what duration statistics and the history read) unless `full_detail` asks for everything.
DETAIL_RUNS = 3


@dataclass
class FleetReport:
    clusters: int
    servers: int
    runs: int
    nodes: int
    sub_tasks: int
    logs: int
    events: int
    audit: int
    active: int
    seconds: float


class FleetExists(Exception):
    pass


def seeded_clusters():
    return Cluster.objects.filter(name__startswith=PREFIX)


def remove_seeded_fleet() -> int:
    """Delete the clusters an earlier seed_fleet made (their runs, stages, logs and events go with them)."""
    ids = list(seeded_clusters().values_list("id", flat=True))
    with transaction.atomic():
        AuditEntry.objects.filter(cluster_id__in=ids).delete()
        seeded_clusters().delete()
    return len(ids)


def _shape(edition: str, servers: int) -> tuple[int, int]:
    if edition == Edition.STANDALONE:
        return 1, 1
    zones = 3 if servers >= 3 else 1
    return zones, max(servers // zones, 1)


class _Writer:
    """Multi-row inserts with ids chosen here (so related rows can point at them before they exist)."""

    def __init__(self):
        self.next_ids = {}
        self.counts = {}

    def ids(self, model, n):
        if model not in self.next_ids:
            self.next_ids[model] = (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        start = self.next_ids[model]
        self.next_ids[model] = start + n
        return range(start, start + n)

    def insert(self, model, columns, rows):
        if not rows:
            return
        table = model._meta.db_table
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)
        self.counts[model] = self.counts.get(model, 0) + len(rows)

    def insert_with_defaults(self, model, columns, rows):
        """insert() that fills every column not given with its field's default (a field added later to the model
        needs no change here)."""
        given = set(columns)
        rest = [f for f in model._meta.concrete_fields if f.column not in given and not f.primary_key]
        defaults = tuple(_default(f) for f in rest)
        self.insert(model, [*columns, *(f.column for f in rest)], [row + defaults for row in rows])

    def create(self, model, objects):
        """bulk_create (every field's default applies) for the tables of a few thousand rows."""
        model.objects.bulk_create(objects, batch_size=2000)
        self.counts[model] = self.counts.get(model, 0) + len(objects)

    def execute(self, model, sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            self.counts[model] = self.counts.get(model, 0) + max(cursor.rowcount, 0)

    def reset_sequences(self):
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(self.next_ids)):
                cursor.execute(sql)


_AS_TEXT = [True]


def _t(value: datetime):
    """A datetime (aware, UTC: every one here comes from timezone.now()) as the raw inserts pass it: as is to
    PostgreSQL, Django's naive UTC text to SQLite."""
    return str(value)[:-6] if _AS_TEXT[0] else value


def _default(field):
    value = field.get_default()
    if isinstance(field, JSONField):
        return _j(value)
    if isinstance(value, datetime):
        return _t(value)
    return value


def _j(value) -> str:
    return json.dumps(value)


class _Templates:
    """Node lists from the real stage builder, one per shape, agents as positions in the cluster's servers."""

    def __init__(self):
        self.cache = {}

    def nodes(self, *, edition, kind, mode, hops, zones, per_zone):
        key = (edition, kind, mode, hops, zones, per_zone)
        if key not in self.cache:
            zone_rows = [Zone(pk=z + 1, name=f"zone{z + 1}", position=z + 1) for z in range(zones)]
            servers = [
                Server(pk=i, zone_id=i // per_zone + 1, ip="0.0.0.0", agent_port=2886) for i in range(zones * per_zone)
            ]
            topology = Topology(zone_rows, servers)
            if kind == Dag.Kind.UPGRADE_CHECK:
                specs = stages.check_nodes(topology=topology)
            else:
                specs = stages.upgrade_nodes(edition=edition, mode=mode, hops=hops, topology=topology)
            self.cache[key] = specs
        return self.cache[key]


def seed_fleet(
    *, clusters: int, servers: int, runs: int, full_detail: bool = False, seed: int = 7, now: datetime | None = None
) -> FleetReport:
    """Fill the database; raises FleetExists when a seeded fleet is there already (remove_seeded_fleet first)."""
    if seeded_clusters().exists():
        raise FleetExists(
            f"a seeded fleet is already here ({seeded_clusters().count()} {PREFIX}* clusters): "
            "use --reset to replace it"
        )
    started = timezone.now()
    now = (now or started).astimezone(UTC)
    _AS_TEXT[0] = connection.vendor != "postgresql"
    rng = random.Random(seed)
    ensure_demo_packages(Actor.system("seed_fleet"))
    writer = _Writer()
    templates = _Templates()
    per_cluster = [runs // clusters + (1 if i < runs % clusters else 0) for i in range(clusters)]
    active = 0
    for first in range(0, clusters, CHUNK):
        indexes = range(first, min(first + CHUNK, clusters))
        with transaction.atomic():
            active += _seed_chunk(writer, templates, rng, indexes, servers, per_cluster, now, full_detail)
    writer.reset_sequences()
    refresh_step_durations()
    counts = writer.counts
    return FleetReport(
        clusters=counts.get(Cluster, 0),
        servers=counts.get(Server, 0),
        runs=counts.get(Dag, 0),
        nodes=counts.get(Node, 0),
        sub_tasks=counts.get(SubTask, 0),
        logs=counts.get(TaskLog, 0),
        events=counts.get(DagEvent, 0),
        audit=counts.get(AuditEntry, 0),
        active=active,
        seconds=(timezone.now() - started).total_seconds(),
    )


REGIONS = ("hangzhou", "shanghai", "beijing", "shenzhen")


def _labels(cluster: Cluster) -> list[ClusterLabel]:
    """env (a tenth in prod, the rest staging or test) and region, as a DBA would label a fleet."""
    n = cluster.pk
    env = "prod" if n % 10 == 4 else "staging" if n % 3 == 0 else "test"
    return [
        ClusterLabel(cluster_id=n, key="env", value=env),
        ClusterLabel(cluster_id=n, key="region", value=REGIONS[n % len(REGIONS)]),
    ]


def _edition_of(i: int) -> str:
    return Edition.STANDALONE if i % 10 == 0 else Edition.BUSINESS if i % 10 in (1, 2) else Edition.COMMUNITY


def _current_version(i: int) -> str:
    # Most of the fleet is current, a long tail is not: 4.3.0.1 x4, 4.2.1.2 x2, 4.2.1.0 x2, 4.2.0.0 x1 in 9.
    return ("4.3.0.1", "4.3.0.1", "4.2.1.2", "4.3.0.1", "4.2.1.0", "4.3.0.1", "4.2.1.2", "4.2.0.0", "4.2.1.0")[i % 9]


def _label(version: str) -> str:
    return f"{version}-{BUILDS[version]}"


def _seed_chunk(writer, templates, rng, indexes, servers_per_cluster, per_cluster, now, full_detail) -> int:
    cluster_rows, zone_rows, server_rows, audit_rows = [], [], [], []
    shapes = {}
    cluster_ids = writer.ids(Cluster, len(indexes))
    for i, cluster_id in zip(indexes, cluster_ids, strict=True):
        edition = _edition_of(i)
        zones, per_zone = _shape(edition, servers_per_cluster)
        version = _current_version(i)
        real = i % 250 == 5
        created = now - timedelta(days=900 - i % 30)
        cluster_rows.append(
            Cluster(
                id=cluster_id,
                name=f"{PREFIX}{i + 1:04d}",
                edition=edition,
                backend=Backend.OBSHELL if real else Backend.SIMULATED,
                shared_storage=i % 17 == 3,
                # A real cluster whose agent stopped answering; its address refuses at once on this machine.
                agent_host="127.0.0.1" if real else "",
                agent_addresses=["127.0.0.1:2886"] if real else [],
                unreachable_since=now - timedelta(minutes=37 + i % 50) if real else None,
                topology_refreshed_at=now - timedelta(hours=2) if real else None,
            )
        )
        audit_rows.append(
            (
                _t(created),
                "command seed_fleet",
                AuditEntry.Action.CLUSTER_CREATE,
                cluster_id,
                None,
                "",
                "",
                AuditEntry.Outcome.OK,
                "",
                _j({"edition": edition, "zones": zones, "servers_per_zone": per_zone}),
            )
        )
        zone_ids = writer.ids(Zone, zones)
        server_ids = writer.ids(Server, zones * per_zone)
        subnet = 10 + cluster_id % 240
        for z, zone_id in enumerate(zone_ids):
            zone_rows.append(Zone(id=zone_id, cluster_id=cluster_id, name=f"zone{z + 1}", position=z + 1))
            for s in range(per_zone):
                n = z * per_zone + s
                server_id = server_ids[n]
                server_rows.append(
                    Server(
                        id=server_id,
                        cluster_id=cluster_id,
                        zone_id=zone_id,
                        ip=f"10.{186 + n // 244}.{subnet}.{11 + n % 244}",
                        arch=ARCH,
                        distribution=DISTRIBUTION,
                        build_version=f"{version}_{BUILDS[version]}",
                        agent_version=_label(version),
                        agent_started_at=created,
                        with_rootserver=n == 0,
                    )
                )
        shapes[cluster_id] = (i, edition, zones, per_zone, version)
    writer.create(Cluster, cluster_rows)
    writer.create(ClusterLabel, [label for cluster in cluster_rows for label in _labels(cluster)])
    writer.create(Zone, zone_rows)
    writer.create(Server, server_rows)
    runs = _Runs(writer, templates, rng, now, full_detail)
    for cluster_id, (i, edition, zones, per_zone, version) in shapes.items():
        shape = _Shape(cluster_id, edition, zones, per_zone)
        runs.history(shape, i, version, per_cluster[i])
    runs.flush(audit_rows)
    return runs.active


@dataclass(frozen=True)
class _Shape:
    cluster_id: int
    edition: str
    zones: int
    per_zone: int

    @property
    def servers(self):
        return self.zones * self.per_zone

    @property
    def mode(self):
        return Dag.Mode.ROLLING if self.zones >= 3 else Dag.Mode.STOPSERVICE


@dataclass(frozen=True)
class _RunSpec:
    kind: str
    from_version: str
    to_version: str
    state: str
    operator: str
    ended: datetime | None  # None: unfinished (running, or failed and holding the lock)
    detail: bool
    stalled: bool = False


class _Runs:
    """One chunk's runs: DAG, stage, event and audit rows built here; sub-tasks and logs derived in SQL."""

    def __init__(self, writer, templates, rng, now, full_detail):
        self.writer, self.templates, self.rng, self.now = writer, templates, rng, now
        self.full_detail = full_detail
        self.dags, self.nodes, self.events, self.audit = [], [], [], []
        self.detailed = []
        self.active = 0

    def history(self, shape, i, version, count):
        """`count` finished runs about 36 days apart up to the one that put the cluster on `version`; a few
        clusters also have a run in progress (one of them stalled) or a failed one holding the lock."""
        current = CHAIN.index(version)
        from_version = CHAIN[max(current - 1, 0)]
        for r in range(count):
            ended = self.now - timedelta(days=36 * (count - r) - 30, minutes=i % 600)
            kind = Dag.Kind.UPGRADE_CHECK if r % 4 == 1 else Dag.Kind.UPGRADE
            state, operator = State.SUCCEED, Operator.RUN
            draw = self.rng.random()
            if r < count - 1 and draw < 0.06:
                state, operator = State.FAILED, Operator.ROLLBACK
            elif r < count - 1 and draw < 0.09:
                state, operator = State.FAILED, Operator.CANCEL
            detail = self.full_detail or r >= count - DETAIL_RUNS
            if r == count - 1 and i % 50 == 11 and version != CHAIN[-1]:
                # The last try to reach the newest build failed and was rolled back: the cluster stayed put.
                spec = _RunSpec(Dag.Kind.UPGRADE, version, CHAIN[-1], State.FAILED, Operator.ROLLBACK, ended, detail)
                self.run(shape, spec)
                continue
            self.run(shape, _RunSpec(kind, from_version, version, state, operator, ended, detail))
        if version == CHAIN[-1] or i % 100 not in (7, 8):
            return
        state = State.RUNNING if i % 100 == 7 else State.FAILED
        stalled = i % 200 == 7
        self.run(shape, _RunSpec(Dag.Kind.UPGRADE, version, CHAIN[-1], state, Operator.RUN, None, True, stalled))
        self.active += 1

    def _stage_seconds(self, specs):
        return [
            ACTION_SECONDS.get(spec.action, DEFAULT_SECONDS)
            * self.rng.uniform(0.8, 1.3)
            * (1 + 0.05 * len(spec.agents))
            for spec in specs
        ]

    def run(self, shape, spec):
        hops = 2 if spec.from_version == "4.2.0.0" and spec.to_version == "4.3.0.1" else 1
        specs = self.templates.nodes(
            edition=shape.edition,
            kind=spec.kind,
            mode=shape.mode,
            hops=hops,
            zones=shape.zones,
            per_zone=shape.per_zone,
        )
        (dag_id,) = self.writer.ids(Dag, 1)
        node_ids = self.writer.ids(Node, len(specs))
        seconds = self._stage_seconds(specs)
        finished = spec.ended is not None
        # The stage a run stopped at: the last for a success, a random one for a failure, about two thirds of the
        # way for a run in progress or holding the lock.
        stop_at = len(specs)
        if not finished:
            stop_at = max(2, (2 * len(specs)) // 3)
        elif spec.state == State.FAILED:
            stop_at = self.rng.randint(2, len(specs))
        if finished:
            start = spec.ended - timedelta(seconds=sum(seconds[:stop_at]) + 5)
        else:
            running_for = seconds[stop_at - 1] * (4.5 if spec.stalled else 0.5)
            start = self.now - timedelta(seconds=sum(seconds[: stop_at - 1]) + running_for)
        events = [(DagEvent.Kind.DAG_CREATED, {"dag": {"id": dag_id, "state": State.READY}}, start)]
        at = start
        for n, (node, node_id) in enumerate(zip(specs, node_ids, strict=True), start=1):
            if n < stop_at or (finished and spec.state == State.SUCCEED):
                state, end = State.SUCCEED, at + timedelta(seconds=seconds[n - 1])
            elif n == stop_at and spec.state == State.FAILED:
                state, end = State.FAILED, at + timedelta(seconds=seconds[n - 1])
            elif n == stop_at:
                state, end = State.RUNNING, at
            else:
                state, end = State.PENDING, at
            stalled_at = self.now - timedelta(seconds=30) if spec.stalled and state == State.RUNNING else None
            self.nodes.append(
                (
                    node_id,
                    dag_id,
                    n,
                    node.name,
                    node.action,
                    node.parallel,
                    node.hop,
                    node.zone_name,
                    "",
                    state,
                    Operator.RUN,
                    _t(at),
                    _t(end),
                    node.can_retry,
                    node.can_rollback,
                    node.can_pass,
                    node.can_cancel,
                    node.can_continue,
                    _t(stalled_at) if stalled_at else None,
                )  # fmt: skip
            )
            if state != State.PENDING:
                payload = {"id": node_id, "dag_id": dag_id, "seq": n, "name": node.name, "state": state,
                           "start_time": at.isoformat(), "end_time": end.isoformat()}  # fmt: skip
                events.append((DagEvent.Kind.NODE_UPDATED, {"node": payload}, end))
            if stalled_at:
                stall = {"node_id": node_id, "node_name": node.name, "node_seq": n, "action": node.action,
                         "started_at": at.isoformat(), "servers": shape.servers}  # fmt: skip
                events.append((DagEvent.Kind.NODE_STALLED, stall, stalled_at))
            if state == State.SUCCEED:
                at = end
        if finished or spec.state == State.FAILED:
            events.append((DagEvent.Kind.DAG_UPDATED, {"dag": {"id": dag_id, "state": spec.state}}, at))
        if spec.detail:
            self.detailed.append(dag_id)
            for seq, (kind, payload, when) in enumerate(events, start=1):
                self.events.append((dag_id, seq, kind, _j(payload), _t(when)))
        self.dags.append(self._dag(dag_id, shape, spec, specs, stop_at, start, at, len(events) if spec.detail else 0))
        self._audit(dag_id, shape, spec, start, at)

    def _dag(self, dag_id, shape, spec, specs, stop_at, start, end, last_seq):
        release = f"{BUILDS[spec.to_version]}.{DISTRIBUTION}"
        check = spec.kind == Dag.Kind.UPGRADE_CHECK
        holds = spec.ended is None and not check
        name = (
            stages.check_dag_name(version=spec.to_version, release=release)
            if check
            else stages.dag_name(mode=shape.mode, version=spec.to_version, release=release)
        )
        route = [
            {"version": spec.to_version, "release": BUILDS[spec.to_version], "build_version": _label(spec.to_version)}
        ]
        ended = end if spec.ended is not None or spec.state == State.FAILED else start
        return (
            dag_id, shape.cluster_id, spec.kind, name, stop_at, len(specs), spec.state, spec.operator,
            f"cluster-{shape.cluster_id}" if holds else "", holds, spec.ended is not None, _t(start), _t(start),
            _t(ended), spec.to_version, release, "" if check else shape.mode, _label(spec.from_version),
            _label(spec.to_version), _j(route), "operator", _reason(dag_id), last_seq, shape.servers,
        )  # fmt: skip

    def _audit(self, dag_id, shape, spec, start, end):
        check = spec.kind == Dag.Kind.UPGRADE_CHECK
        action = AuditEntry.Action.UPGRADE_CHECK_START if check else AuditEntry.Action.UPGRADE_START
        detail = _j({"to_version": _label(spec.to_version)})
        self.audit.append(
            (_t(start), "operator", action, shape.cluster_id, dag_id, "10.0.0.8", "", "ok", _reason(dag_id), detail)
        )
        if spec.ended is not None and spec.state == State.FAILED:
            reason = (
                "rolled back after a failed stage"
                if spec.operator == Operator.ROLLBACK
                else "cancelled: change window over"
            )
            detail = _j({"operator": spec.operator})
            self.audit.append(
                (
                    _t(end),
                    "operator",
                    AuditEntry.Action.DAG_OPERATE,
                    shape.cluster_id,
                    dag_id,
                    "10.0.0.8",
                    "",
                    "ok",
                    reason,
                    detail,
                )
            )

    def flush(self, audit_rows):
        w = self.writer
        w.insert_with_defaults(
            Dag,
            [
                "id",
                "cluster_id",
                "kind",
                "name",
                "stage",
                "max_stage",
                "state",
                "operator",
                "maintenance_key",
                "holds_lock",
                "is_finished",
                "created_at",
                "start_time",
                "end_time",
                "version",
                "release",
                "mode",
                "from_version",
                "to_version",
                "route",
                "actor_label",
                "reason",
                "last_seq",
                "server_count",
            ],  # fmt: skip
            self.dags,
        )
        w.insert_with_defaults(
            Node,
            [
                "id",
                "dag_id",
                "seq",
                "name",
                "action",
                "parallel",
                "hop",
                "zone_name",
                "remote_id",
                "state",
                "operator",
                "start_time",
                "end_time",
                "can_retry",
                "can_rollback",
                "can_pass",
                "can_cancel",
                "can_continue",
                "stalled_at",
            ],  # fmt: skip
            self.nodes,
        )
        w.insert_with_defaults(DagEvent, ["dag_id", "seq", "kind", "payload", "at"], self.events)
        w.insert_with_defaults(
            AuditEntry,
            [
                "at",
                "actor_label",
                "action",
                "cluster_id",
                "dag_id",
                "source_address",
                "trace_id",
                "outcome",
                "reason",
                "detail",
            ],  # fmt: skip
            audit_rows + self.audit,
        )
        _derive_sub_tasks_and_logs(w, self.detailed)


def _reason(dag_id):
    return ("CHG-%d: quarterly patch", "CHG-%d: bug fix rollout", "CHG-%d: security fix")[dag_id % 3] % (
        1000 + dag_id % 9000
    )


def _derive_sub_tasks_and_logs(writer, dag_ids):
    """Sub-tasks of the stages of these runs (a parallel stage: one per server of its zone, or of the cluster; a
    serial one: the cluster agent's), then a log line for each that ran (an error for one that failed)."""
    if not dag_ids:
        return
    q = connection.ops.quote_name
    sub, node, dag, server, zone, log = (
        q(SubTask._meta.db_table),
        q(Node._meta.db_table),
        q(Dag._meta.db_table),
        q(Server._meta.db_table),
        q(Zone._meta.db_table),
        q(TaskLog._meta.db_table),
    )
    ip = "host(s.ip)" if connection.vendor == "postgresql" else "s.ip"
    marks = ", ".join(["%s"] * len(dag_ids))
    writer.execute(
        SubTask,
        f"""INSERT INTO {sub} (node_id, dag_id, name, server_id, agent_ip, agent_port, remote_id, state, operator,
                execute_times, start_time, end_time, rollback_pending, context, lease_owner)
            SELECT n.id, n.dag_id, n.name, s.id, {ip}, s.agent_port, '', n.state, 'RUN',
                CASE WHEN n.state = 'PENDING' THEN 0 ELSE 1 END, n.start_time, n.end_time, %s, %s, ''
            FROM {node} n JOIN {dag} d ON d.id = n.dag_id JOIN {server} s ON s.cluster_id = d.cluster_id
                JOIN {zone} z ON z.id = s.zone_id
            WHERE n.dag_id IN ({marks})
                AND ((n.parallel = %s AND (n.zone_name = '' OR z.name = n.zone_name))
                     OR (n.parallel = %s AND s.with_rootserver = %s))""",
        [False, "{}", *dag_ids, True, False, True],
    )
    writer.execute(
        TaskLog,
        f"""INSERT INTO {log} (sub_task_id, execute_times, phase, created_at, level, text)
            SELECT t.id, 1, 'run', t.end_time, CASE WHEN t.state = 'FAILED' THEN 'ERROR' ELSE 'INFO' END,
                CASE WHEN t.state = 'FAILED' THEN t.name || ' failed on ' || t.agent_ip || ': observer did not answer in time'
                     WHEN t.state = 'RUNNING' THEN t.name || ' running on ' || t.agent_ip
                     ELSE t.name || ' done on ' || t.agent_ip END
            FROM {sub} t WHERE t.dag_id IN ({marks}) AND t.state <> 'PENDING'""",
        dag_ids,
    )
