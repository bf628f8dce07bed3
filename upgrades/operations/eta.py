"""How long a run (or an upgrade not started yet) is expected to take: the one home of the ETA rule.

A stage's expected duration is the median of its node action's usual duration for the run's cluster size
(upgrades/operations/durations.py, StepDurationStat). A run's stages run one after another (a stage's
sub-tasks run in parallel, and the stage counts once), so:

    remaining = sum(expected of every stage not yet done)
                - elapsed of the running stage (never below zero for that stage)
    finishes_at = now + remaining

A stage is done when it SUCCEEDed (ran, or was passed). A run that is finished has nothing remaining; a run
waiting for an operator (its DAG FAILED and not finished) has no ETA: nothing moves until someone acts. When
any stage still to run has no history, there is no ETA either ("no estimate yet"), rather than a figure that
silently leaves stages out; each stage with history still shows its own expected duration.

    stage_expectations(dag_id)          -> {node id: expected seconds | None}
    stage_expectations_of(nodes, servers=N)  -> the same for nodes already loaded
    run_eta(dag_id)                     -> RunEta | None       (None: no such run)
    run_etas([dag_id, ...])             -> {dag_id: RunEta}    (three queries for any number of runs)
    expected_run_seconds(actions, servers=N)  -> float | None  (a whole run before it exists)

The expected duration of a cluster's whole upgrade along a route with a mode (before a run exists) needs the
node list the planner builds: upgrades/planning/estimates.py builds it and asks expected_run_seconds().
static/js/run/eta.js repeats the arithmetic of eta_of() in the browser to keep the run page's ETA ticking
between events; change both together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.utils import timezone

from upgrades.models import Dag, Node
from upgrades.models.dag import State
from upgrades.operations.durations import UsualDuration, usual_durations

# Why a run has or has not an ETA, for the page to say in words.
EtaStatus = Literal["estimate", "no_history", "finished", "waiting"]


@dataclass(frozen=True)
class StageFacts:
    """What the rule needs of one stage (a Node row, or a planned node before the run exists)."""

    node_id: int
    action: str
    state: str
    start_time: datetime | None = None


@dataclass(frozen=True)
class RunEta:
    dag_id: int
    status: EtaStatus
    # Seconds still expected (None unless status is "estimate" or "finished", where it is 0).
    remaining_seconds: float | None
    finishes_at: datetime | None
    # The whole run's expected duration (every stage), None when some stage has no history.
    expected_total_seconds: float | None
    # Stages still to run that have no history (why there is no estimate).
    stages_without_history: int
    # {node id: expected seconds or None} for every stage of the run.
    stages: dict[int, float | None]

    def as_dict(self) -> dict[str, object]:
        return {
            "dag_id": self.dag_id,
            "status": self.status,
            "remaining_seconds": None if self.remaining_seconds is None else round(self.remaining_seconds, 1),
            "finishes_at": None if self.finishes_at is None else self.finishes_at.isoformat(),
            "expected_total_seconds": (
                None if self.expected_total_seconds is None else round(self.expected_total_seconds, 1)
            ),
            "stages_without_history": self.stages_without_history,
        }


def expected_seconds(usual: UsualDuration | None) -> float | None:
    """A stage's expected duration: the median of its usual duration; None without history."""
    return None if usual is None else usual.median_seconds


def eta_of(
    *,
    dag_id: int,
    dag_state: str,
    is_finished: bool,
    stages: Sequence[StageFacts],
    expected: dict[int, float | None],
    now: datetime,
) -> RunEta:
    """The rule itself, on facts already read (no query): see the module's docstring."""
    known = [seconds for seconds in expected.values() if seconds is not None]
    total = sum(known) if len(known) == len(stages) else None
    if is_finished:
        return RunEta(dag_id, "finished", 0.0, None, total, 0, dict(expected))
    remaining = 0.0
    missing = 0
    for stage in stages:
        if stage.state == State.SUCCEED:
            continue
        seconds = expected.get(stage.node_id)
        if seconds is None:
            missing += 1
            continue
        if stage.state == State.RUNNING and stage.start_time is not None:
            elapsed = max((now - stage.start_time).total_seconds(), 0.0)
            seconds = max(seconds - elapsed, 0.0)
        remaining += seconds
    if dag_state == State.FAILED:
        return RunEta(dag_id, "waiting", None, None, total, missing, dict(expected))
    if missing:
        return RunEta(dag_id, "no_history", None, None, total, missing, dict(expected))
    return RunEta(dag_id, "estimate", remaining, now + timedelta(seconds=remaining), total, 0, dict(expected))


def stage_expectations(dag_id: int) -> dict[int, float | None]:
    """{node id: expected seconds or None} for every stage of one run (two queries)."""
    nodes = list(Node.objects.filter(dag_id=dag_id).values_list("id", "action", "dag__server_count"))
    usual = usual_durations((action, servers) for _, action, servers in nodes)
    return {node_id: expected_seconds(usual[(action, servers)]) for node_id, action, servers in nodes}


def stage_expectations_of(nodes: Iterable[Node], *, servers: int) -> dict[int, float | None]:
    """stage_expectations() of nodes already loaded (one query), e.g. for the run snapshot."""
    nodes = list(nodes)
    usual = usual_durations((node.action, servers) for node in nodes)
    return {node.pk: expected_seconds(usual[(node.action, servers)]) for node in nodes}


def run_eta(dag_id: int, *, now: datetime | None = None) -> RunEta | None:
    """The ETA of one run; None when there is no such run."""
    return run_etas([dag_id], now=now).get(dag_id)


def run_etas(dag_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, RunEta]:
    """run_eta() for many runs: one query for the runs, one for their stages, one for the statistics."""
    ids = list(dict.fromkeys(dag_ids))
    if not ids:
        return {}
    now = now or timezone.now()
    dags = {
        row["id"]: row for row in Dag.objects.filter(pk__in=ids).values("id", "state", "is_finished", "server_count")
    }
    stages: dict[int, list[StageFacts]] = defaultdict(list)
    for node_id, dag_id, action, state, start_time in (
        Node.objects.filter(dag_id__in=list(dags))
        .order_by("dag_id", "seq")
        .values_list("id", "dag_id", "action", "state", "start_time")
    ):
        stages[dag_id].append(StageFacts(node_id, action, state, start_time))
    usual = usual_durations(
        (stage.action, dags[dag_id]["server_count"]) for dag_id, facts in stages.items() for stage in facts
    )
    answers: dict[int, RunEta] = {}
    for dag_id, dag in dags.items():
        facts = stages.get(dag_id, [])
        expected = {stage.node_id: expected_seconds(usual[(stage.action, dag["server_count"])]) for stage in facts}
        answers[dag_id] = eta_of(
            dag_id=dag_id,
            dag_state=dag["state"],
            is_finished=dag["is_finished"],
            stages=facts,
            expected=expected,
            now=now,
        )
    return answers


def expected_run_seconds(actions: Iterable[str], *, servers: int) -> float | None:
    """The expected duration of a whole run whose stages have these node actions (in any order, repeats
    counted) on a cluster of `servers` servers; None when any of them has no history. One query."""
    actions = list(actions)
    if not actions:
        return None
    usual = usual_durations((action, servers) for action in actions)
    total = 0.0
    for action in actions:
        seconds = expected_seconds(usual[(action, servers)])
        if seconds is None:
            return None
        total += seconds
    return total
