"""The soak run: the scale-out profile on private services, N zero-duration upgrades over C simulated clusters,
faults injected at random, every DAG watched through the front, then the checks (upgrades.management.soak.checks)
and a report.

One thread drives the upgrades (this one, the only one using Django's database connection), one injects faults
(chaos), one runs the websocket watchers. The driver survives the faults it injects: every database call is
retried on a fresh connection while PostgreSQL is cut or restarting.
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

import dj_database_url
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.utils import timezone

from upgrades.errors import ObshellError
from upgrades.management.soak import checks, facts, fleet
from upgrades.management.soak.chaos import HOST, KINDS, Chaos
from upgrades.management.soak.watch import WatchHub
from upgrades.models import Dag
from upgrades.models.dag import State
from upgrades.operations.processes import PrivateProfile, ProcessGroup

T = TypeVar("T")
POLL = 0.1
DB_PATIENCE = 120.0  # how long the driver retries a database call through an outage
DRAIN_SECONDS = 180.0  # after the budget: how long upgrades already running may take to finish
CATCH_UP_SECONDS = 60.0  # after the last DAG finished: how long the watchers may take to receive everything
SHOWN_VIOLATIONS = 40


@dataclass
class SoakOptions:
    upgrades: int = 20
    clusters: int = 4
    chaos: list[str] = field(default_factory=lambda: list(KINDS))
    seed: int | None = None
    workers: int = 2
    worker_threads: int = 2
    webs: int = 2
    budget: float = 3600.0  # seconds during which new upgrades are started
    fault_interval: float = 2.0  # mean seconds between two faults
    lease: float = 5.0  # WORKER_LEASE_SECONDS of the run
    heartbeat: float = 2.0  # LIVE_HEARTBEAT_SECONDS of the run
    zones: int = 3
    servers_per_zone: int = 1
    retries: int = 5  # RETRYs of a DAG that failed by the interrupt rule before it is left FAILED
    work_dir: Path | None = None
    report_json: Path | None = None


@dataclass
class UpgradeOutcome:
    dag_id: int
    cluster: str
    state: str = "RUNNING"
    retries: int = 0  # RETRYs after a failure the rules explain
    last_seq: int = 0
    stream_checked: bool = False


@dataclass
class SoakResult:
    options: SoakOptions
    seed: int
    seconds: float = 0.0
    outcomes: dict[int, UpgradeOutcome] = field(default_factory=dict)
    faults: Counter = field(default_factory=Counter)
    fault_errors: list[str] = field(default_factory=list)
    violations: list[checks.Violation] = field(default_factory=list)
    stopped_by_budget: bool = False
    events_in_database: int = 0
    events_received: int = 0
    replayed_events: int = 0
    connects: int = 0
    drops: int = 0
    failed_connects: int = 0
    executions: int = 0
    continued: int = 0
    open_killed: int = 0
    log_dir: str = ""

    @property
    def by_state(self) -> Counter:
        return Counter(outcome.state for outcome in self.outcomes.values())

    @property
    def ok(self) -> bool:
        return not self.violations and not self.fault_errors


def use_database(url: str) -> None:
    """Point this process's default database connection at `url` (the soak's private PostgreSQL): the settings
    dict is rewritten in place and the current connection dropped, so the next query connects there."""
    config = dj_database_url.parse(url, conn_max_age=0)
    connections.close_all()
    current = connections.settings[DEFAULT_DB_ALIAS]
    current.clear()
    current.update(config)
    connections.configure_settings({DEFAULT_DB_ALIAS: current})
    with contextlib.suppress(AttributeError):
        del connections[DEFAULT_DB_ALIAS]


def resilient(call: Callable[[], T]) -> T:
    """`call()`, retried on a fresh connection while the database is unreachable (the soak cuts it)."""
    deadline = time.monotonic() + DB_PATIENCE
    while True:
        try:
            return call()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            connection.close()
            time.sleep(0.2)


class Soak:
    def __init__(self, options: SoakOptions, out: TextIO):
        self.options = options
        self.out = out
        seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1, 2**31)
        self.rng = random.Random(seed)
        self.result = SoakResult(options=options, seed=seed)
        self.group: ProcessGroup | None = None
        self.hub: WatchHub | None = None
        self.chaos: Chaos | None = None
        self.began = time.monotonic()

    def say(self, text: str) -> None:
        self.out.write(f"[{time.monotonic() - self.began:6.1f} s] {text}\n")
        self.out.flush()

    # ---- the whole run
    def run(self) -> SoakResult:
        began = self.began = time.monotonic()
        work_dir = self.options.work_dir or Path(tempfile.mkdtemp(prefix="obdash-soak-"))
        work_dir.mkdir(parents=True, exist_ok=True)
        self.result.log_dir = str(work_dir)
        profile = self._profile(work_dir)
        self.say(f"seed {self.result.seed}; logs in {profile.group.log_dir}")
        try:
            with profile:
                self.group = profile.group
                self._prepare(profile, work_dir)
                self.say("profile up; upgrades start")
                self._drive()
                self.say("upgrades done; winding down")
                self._wind_down()
                self._check_executions()
        finally:
            if self.hub is not None:
                self.hub.stop()
            if self.chaos is not None:
                self.chaos.stop()
            self.result.seconds = time.monotonic() - began
        return self.result

    def _profile(self, work_dir: Path) -> PrivateProfile:
        options = self.options
        return PrivateProfile(
            webs=options.webs,
            workers=options.workers,
            worker_threads=options.worker_threads,
            base_dir=work_dir,
            environment={
                "SIMULATION_SPEED": "0",
                "SIMULATION_RECORD_EXECUTIONS": "1",
                "WORKER_LEASE_SECONDS": str(options.lease),
                "LIVE_HEARTBEAT_SECONDS": str(options.heartbeat),
                # One set of keys for every process: the watchers' session is made here, read by the web processes.
                "SECRET_KEY": settings.SECRET_KEY,
                "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEYS),
                "TOKEN_DIGEST_KEY": ",".join(settings.TOKEN_DIGEST_KEYS),
                "LOG_LEVEL": "WARNING",
            },
        )

    def _prepare(self, profile: PrivateProfile, work_dir: Path) -> None:
        """The profile is up and migrated: this process joins its database, makes the fleet and the watchers."""
        options = self.options
        assert profile.front is not None
        use_database(profile.postgres.url())
        settings.MEDIA_ROOT = Path(profile.service_env["MEDIA_ROOT"])
        settings.SIMULATION_SPEED = 0
        self.clusters = fleet.create_clusters(
            options.clusters, zones=options.zones, servers_per_zone=options.servers_per_zone
        )
        fleet.store_target_packages(work_dir)
        cookie = fleet.watcher_session()
        self.say(
            f"PostgreSQL :{profile.postgres.port}, Redis :{profile.redis.port}, {options.webs} web processes behind "
            f"the front {profile.front.url}, {options.workers} run_worker x {options.worker_threads} threads; lease "
            f"{options.lease:g} s, heartbeat {options.heartbeat:g} s; {options.clusters} clusters and the target's "
            "packages created"
        )
        self.hub = WatchHub(
            ws_base=profile.front.ws_url, session_cookie=cookie, origin=profile.front.url, heartbeat=options.heartbeat
        ).start()
        self.chaos = Chaos(
            profile.group,
            kinds=options.chaos,
            rng=random.Random(self.rng.random()),
            mean_interval=options.fault_interval,
            postgres=profile.postgres,
            redis=profile.redis,
        )

    # ---- driving the upgrades
    def _drive(self) -> None:
        assert self.chaos is not None and self.hub is not None
        options = self.options
        version, release = fleet.target()
        active: dict[int, int] = {}  # cluster index -> DAG id
        retired: set[int] = set()
        started = 0
        self.chaos.start()
        began = time.monotonic()
        budget_end = began + options.budget
        drain_end: float | None = None
        last_progress = 0.0
        while True:
            now = time.monotonic()
            if drain_end is None and now > budget_end and started < options.upgrades:
                self.result.stopped_by_budget = True
                drain_end = now + DRAIN_SECONDS
                self.say(f"time budget reached after {started} upgrades; letting the running ones finish")
            accepting = drain_end is None and started < options.upgrades
            for index, soak_cluster in enumerate(self.clusters):
                if accepting and index not in active and index not in retired and started < options.upgrades:
                    dag_id = resilient(lambda c=soak_cluster: self._start_upgrade(c, version, release))
                    active[index] = dag_id
                    self.result.outcomes[dag_id] = UpgradeOutcome(dag_id, soak_cluster.cluster.name)
                    self.hub.watch(dag_id)
                    started += 1
            states = resilient(lambda: dict(Dag.objects.filter(pk__in=active.values()).values_list("id", "state")))
            for index, dag_id in list(active.items()):
                state = states.get(dag_id)
                if state == State.SUCCEED:
                    self._finished(dag_id, state)
                    del active[index]
                elif state == State.FAILED and not self._failed(dag_id):
                    self._finished(dag_id, state)
                    del active[index]
                    retired.add(index)
            self._check_caught_up_streams()
            if not active and not accepting:
                break
            if drain_end is not None and now > drain_end:
                for dag_id in active.values():
                    self.result.outcomes[dag_id].state = "unfinished"
                    self.result.violations.append(
                        checks.Violation("unfinished", dag_id, f"still {states.get(dag_id)} after the drain")
                    )
                break
            if now - last_progress > 30:
                last_progress = now
                done = sum(1 for o in self.result.outcomes.values() if o.state in (State.SUCCEED, State.FAILED))
                self.say(
                    f"{done}/{options.upgrades} upgrades done, {len(active)} running, "
                    f"faults {sum(self.chaos.log.injected.values())}"
                )
            time.sleep(POLL)
        self.chaos.stop()

    def _start_upgrade(self, soak_cluster: fleet.SoakCluster, version: str, release: str) -> int:
        from upgrades.services.dag_start import upgrade_start

        cluster = soak_cluster.cluster
        # A start whose commit was cut off from us may have happened: adopt the DAG holding the lock.
        held = Dag.objects.filter(cluster=cluster, holds_lock=True).exclude(pk__in=self.result.outcomes).first()
        if held is not None:
            return held.pk
        fleet.rewind(soak_cluster)
        dag = upgrade_start(
            cluster=cluster, version=version, release=release, mode=Dag.Mode.ROLLING, actor=fleet.ACTOR, reason="soak"
        )
        return dag.pk

    def _failed(self, dag_id: int) -> bool:
        """A FAILED DAG: judge the failure by obshell's rules, then RETRY it as an operator would. False when it
        stays FAILED (out of retries)."""
        assert self.chaos is not None
        outcome = self.result.outcomes[dag_id]
        failed = resilient(lambda: facts.failed_sub_tasks(dag_id))
        executions = resilient(lambda: facts.executions([dag_id]))
        violations = checks.unexplained_failure(failed, executions, list(self.chaos.log.deaths))
        if violations:
            self._explain(dag_id, failed, violations)
        self.result.violations += violations
        if outcome.retries >= self.options.retries:
            return False
        outcome.retries += 1
        resilient(lambda: self._retry(dag_id))
        return True

    def _explain(self, dag_id: int, failed: list[checks.FailedSubTask], violations: list[checks.Violation]) -> None:
        """Write what led to a violation (the sub-tasks' timelines and the faults of the time) to violations.log."""
        assert self.chaos is not None
        lines = [f"== DAG {dag_id}", *(f"   {violation}" for violation in violations)]
        for sub_task in failed:
            lines.append(f"-- sub-task {sub_task.id} ({sub_task.name})")
            lines += [f"   {line}" for line in resilient(lambda s=sub_task: facts.sub_task_timeline(s.id))]
        lines.append("-- faults so far (the last 20)")
        lines += [f"   {line}" for line in self.chaos.log.lines[-20:]]
        with open(Path(self.result.log_dir) / "violations.log", "a") as log:
            log.write("\n".join(lines) + "\n")

    @staticmethod
    def _retry(dag_id: int) -> None:
        from upgrades.services.dag_operators import dag_operate

        dag = Dag.objects.select_related("cluster").get(pk=dag_id)
        if dag.state != State.FAILED:
            return  # a retry whose commit we did not hear about
        try:
            dag_operate(
                dag=dag, operator="retry", actor=fleet.ACTOR, reason="soak: retried after the failure was judged"
            )
        except ObshellError:
            if Dag.objects.filter(pk=dag_id, state=State.FAILED).exists():
                raise

    def _finished(self, dag_id: int, state: str) -> None:
        assert self.hub is not None
        outcome = self.result.outcomes[dag_id]
        outcome.state = state
        outcome.last_seq = resilient(lambda: Dag.objects.values_list("last_seq", flat=True).get(pk=dag_id))
        self.hub.finish(dag_id, outcome.last_seq)

    def _check_caught_up_streams(self, *, all_of_them: bool = False) -> None:
        """Compare each finished DAG's watched stream with the database once its watcher has caught up."""
        assert self.hub is not None
        for dag_id, outcome in self.result.outcomes.items():
            watcher = self.hub.watchers.get(dag_id)
            if outcome.stream_checked or watcher is None:
                continue
            if not watcher.caught_up.is_set() and not all_of_them:
                continue
            database = resilient(lambda d=dag_id: facts.event_digests(d))
            self.result.violations += checks.stream_problems(dag_id, outcome.last_seq, database, watcher.received)
            self.result.events_in_database += len(database)
            self.result.events_received += len({seq for seq, _ in watcher.received.events})
            watcher.received.events.clear()  # checked: keep the memory of a long soak flat
            outcome.stream_checked = True

    # ---- the end
    def _wind_down(self) -> None:
        assert self.chaos is not None and self.hub is not None and self.group is not None
        self.chaos.repair()
        behind = self.hub.wait_caught_up(CATCH_UP_SECONDS)
        for watcher in behind:
            outcome = self.result.outcomes.get(watcher.dag_id)
            if outcome is not None and outcome.state in (State.SUCCEED, State.FAILED):
                self.result.violations.append(
                    checks.Violation(
                        "watcher-behind",
                        watcher.dag_id,
                        f"the watcher reached seq {watcher.seq} of {watcher.target} within {CATCH_UP_SECONDS:g} s",
                    )
                )
        self._check_caught_up_streams(all_of_them=True)
        totals = self.hub.totals()
        self.result.connects, self.result.drops = totals.connects, totals.drops
        self.result.failed_connects, self.result.replayed_events = totals.failed_connects, totals.replayed_events
        self.hub.stop()
        # Workers stop cleanly (SIGTERM): an execution end the database refused during a cut is written at exit.
        for worker in self.group.of_kind("worker"):
            pid = worker.pid
            worker.stop()
            if pid is not None and worker.process is not None and worker.process.returncode == -9:
                self.chaos.log.deaths.append(checks.Death(HOST, pid, timezone.now()))
        self.result.faults = self.chaos.log.injected
        self.result.fault_errors = list(self.chaos.log.errors)

    def _check_executions(self) -> None:
        assert self.chaos is not None
        dag_ids = list(self.result.outcomes)
        executions = resilient(lambda: facts.executions(dag_ids))
        deaths = list(self.chaos.log.deaths)
        self.result.violations += checks.execution_overlaps(executions, deaths)
        self.result.violations += checks.illegal_continues(executions, resilient(lambda: facts.can_continue(dag_ids)))
        self.result.executions = len(executions)
        per_attempt = Counter((e.sub_task_id, e.attempt, e.phase) for e in executions)
        self.result.continued = sum(count - 1 for count in per_attempt.values())
        killed = {(d.host, d.pid) for d in deaths}
        self.result.open_killed = sum(1 for e in executions if e.ended_at is None and (e.host, e.pid) in killed)


def report(result: SoakResult) -> str:
    options = result.options
    by_state = result.by_state
    lines = [
        f"soak report: {len(result.outcomes)}"
        + (f" of {options.upgrades} asked" if len(result.outcomes) != options.upgrades else "")
        + f" zero-duration upgrades over {options.clusters} simulated clusters "
        f"({options.zones} zones x {options.servers_per_zone} servers), seed {result.seed}",
        f"  profile: private PostgreSQL and Redis, {options.webs} web processes behind the front, {options.workers} "
        f"run_worker x {options.worker_threads} threads; lease {options.lease:g} s, heartbeat {options.heartbeat:g} s",
        f"  chaos: {', '.join(options.chaos) or 'none'}, one fault every {options.fault_interval:g} s on average",
        f"  duration: {result.seconds:.1f} s"
        + (" (time budget reached: fewer upgrades than asked)" if result.stopped_by_budget else ""),
        f"faults injected: {sum(result.faults.values())}",
    ]
    lines += [f"  {kind:32} {count}" for kind, count in sorted(result.faults.items())]
    if result.fault_errors:
        lines.append(f"  faults that could not be injected or repaired: {len(result.fault_errors)}")
        lines += [f"    {error}" for error in result.fault_errors[:10]]
    retried = sum(1 for o in result.outcomes.values() if o.state == State.SUCCEED and o.retries)
    lines += [
        f"upgrades by end state: {len(result.outcomes)} started",
        f"  SUCCEED{'':25} {by_state.get(State.SUCCEED, 0)}"
        + (f" ({retried} after a RETRY of a step that could not continue)" if retried else ""),
        f"  FAILED{'':26} {by_state.get(State.FAILED, 0)}",
        f"  unfinished{'':22} {by_state.get('unfinished', 0) + by_state.get('RUNNING', 0)}",
        f"executions: {result.executions} (re-entered by the continue rule: {result.continued}; left open by a "
        f"killed worker: {result.open_killed})",
        f"events: {result.events_in_database} in the database, {result.events_received} received by the watchers "
        f"({result.replayed_events} of them replayed after a reconnect)",
        f"sockets: {result.connects} connects, {result.drops} dropped, {result.failed_connects} failed attempts",
        f"violations: {len(result.violations)}",
    ]
    kinds = Counter(v.kind for v in result.violations)
    lines += [f"  {kind:32} {count}" for kind, count in sorted(kinds.items())]
    lines += [f"  {violation}" for violation in result.violations[:SHOWN_VIOLATIONS]]
    if len(result.violations) > SHOWN_VIOLATIONS:
        lines.append(f"  ... and {len(result.violations) - SHOWN_VIOLATIONS} more")
    lines.append(f"logs: {result.log_dir}")
    return "\n".join(lines)


def report_data(result: SoakResult) -> dict:
    return {
        "seed": result.seed,
        "seconds": round(result.seconds, 1),
        "upgrades": len(result.outcomes),
        "by_state": dict(result.by_state),
        "retried": sum(1 for o in result.outcomes.values() if o.retries),
        "faults": dict(result.faults),
        "fault_errors": result.fault_errors,
        "executions": result.executions,
        "continued": result.continued,
        "events_in_database": result.events_in_database,
        "events_received": result.events_received,
        "replayed_events": result.replayed_events,
        "connects": result.connects,
        "drops": result.drops,
        "violations": [{"kind": v.kind, "dag_id": v.dag_id, "detail": v.detail} for v in result.violations],
        "stopped_by_budget": result.stopped_by_budget,
        "log_dir": result.log_dir,
    }


def write_report_json(result: SoakResult, path: Path) -> None:
    path.write_text(json.dumps(report_data(result), indent=2))


__all__ = ["Soak", "SoakOptions", "SoakResult", "report", "write_report_json"]
