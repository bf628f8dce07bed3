"""A run's ETA and each stage's expected duration from the usual-duration statistics (upgrades/operations/eta.py),
and the expected duration of a whole upgrade before it runs (upgrades/planning/estimates.py)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.factories import make_cluster
from tests.support.history import done, finished_run
from upgrades.models import Node
from upgrades.models.dag import Operator, State
from upgrades.operations.durations import refresh_step_durations
from upgrades.operations.eta import (
    StageFacts,
    eta_of,
    expected_run_seconds,
    run_eta,
    run_etas,
    stage_expectations,
)
from upgrades.planning import stages
from upgrades.planning.estimates import expected_upgrade_seconds
from upgrades.planning.stages import Topology

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _history(cluster, *, servers=3, runs=5, steps=(("stop_zone", 60), ("start_zone", 30), ("upgrade_post_script", 10))):
    for _ in range(runs):
        finished_run(cluster, servers=servers, steps=[done(action, seconds) for action, seconds in steps])
    refresh_step_durations()


def _running_run(
    cluster, states, *, servers=3, running_for=20, actions=("stop_zone", "start_zone", "upgrade_post_script")
):
    """A run whose stages have `states`; a RUNNING one started `running_for` seconds before NOW."""
    dag = finished_run(
        cluster,
        servers=servers,
        steps=[(action, 1, state, Operator.RUN) for action, state in zip(actions, states, strict=True)],
        finished=False,
        state=State.RUNNING,
    )
    Node.objects.filter(dag=dag, state=State.RUNNING).update(start_time=NOW - timedelta(seconds=running_for))
    return dag


def test_the_rule_counts_unfinished_stages_less_the_running_ones_elapsed_time():
    facts = [
        StageFacts(1, "a", State.SUCCEED, NOW - timedelta(seconds=500)),
        StageFacts(2, "b", State.RUNNING, NOW - timedelta(seconds=20)),
        StageFacts(3, "c", State.PENDING),
    ]
    eta = eta_of(
        dag_id=9, dag_state=State.RUNNING, is_finished=False, stages=facts, expected={1: 5.0, 2: 60.0, 3: 30.0}, now=NOW
    )
    assert (eta.status, eta.remaining_seconds, eta.expected_total_seconds) == ("estimate", 70.0, 95.0)
    assert eta.finishes_at == NOW + timedelta(seconds=70)


def test_a_stage_running_past_its_expected_time_adds_nothing_not_a_negative():
    facts = [StageFacts(1, "b", State.RUNNING, NOW - timedelta(seconds=300)), StageFacts(2, "c", State.PENDING)]
    eta = eta_of(
        dag_id=9, dag_state=State.RUNNING, is_finished=False, stages=facts, expected={1: 60.0, 2: 30.0}, now=NOW
    )
    assert eta.remaining_seconds == 30.0


def test_a_stage_still_to_run_without_history_means_no_estimate_yet():
    facts = [
        StageFacts(1, "a", State.SUCCEED),
        StageFacts(2, "never_ran", State.PENDING),
        StageFacts(3, "c", State.PENDING),
    ]
    eta = eta_of(
        dag_id=9, dag_state=State.RUNNING, is_finished=False, stages=facts, expected={1: None, 2: None, 3: 8.0}, now=NOW
    )
    assert (eta.status, eta.remaining_seconds, eta.finishes_at, eta.stages_without_history) == (
        "no_history",
        None,
        None,
        1,
    )
    assert eta.expected_total_seconds is None


def test_a_done_stage_without_history_does_not_block_the_estimate():
    facts = [StageFacts(1, "a", State.SUCCEED), StageFacts(2, "c", State.PENDING)]
    eta = eta_of(
        dag_id=9, dag_state=State.RUNNING, is_finished=False, stages=facts, expected={1: None, 2: 8.0}, now=NOW
    )
    assert (eta.status, eta.remaining_seconds, eta.expected_total_seconds) == ("estimate", 8.0, None)


def test_a_failed_run_waits_for_an_operator_and_a_finished_one_has_nothing_left():
    facts = [StageFacts(1, "a", State.FAILED, NOW), StageFacts(2, "c", State.PENDING)]
    waiting = eta_of(
        dag_id=9, dag_state=State.FAILED, is_finished=False, stages=facts, expected={1: 4.0, 2: 8.0}, now=NOW
    )
    assert (waiting.status, waiting.remaining_seconds, waiting.finishes_at) == ("waiting", None, None)
    done_ = eta_of(
        dag_id=9, dag_state=State.SUCCEED, is_finished=True, stages=facts, expected={1: 4.0, 2: 8.0}, now=NOW
    )
    assert (done_.status, done_.remaining_seconds, done_.expected_total_seconds) == ("finished", 0.0, 12.0)


def test_run_eta_from_finished_runs_history():
    cluster = make_cluster()
    _history(cluster)
    dag = _running_run(cluster, [State.SUCCEED, State.RUNNING, State.PENDING], running_for=20)

    eta = run_eta(dag.pk, now=NOW)
    assert eta.status == "estimate"
    assert eta.remaining_seconds == pytest.approx(10.0 + 10.0)  # start_zone 30 - 20 elapsed, post script 10
    assert eta.finishes_at == NOW + timedelta(seconds=eta.remaining_seconds)
    assert eta.expected_total_seconds == pytest.approx(100.0)
    assert sorted(stage_expectations(dag.pk).values()) == [
        pytest.approx(10.0),
        pytest.approx(30.0),
        pytest.approx(60.0),
    ]
    assert eta.as_dict()["remaining_seconds"] == 20.0


def test_no_history_at_all_says_so():
    dag = _running_run(make_cluster(), [State.RUNNING, State.PENDING, State.PENDING])
    eta = run_eta(dag.pk, now=NOW)
    assert (eta.status, eta.remaining_seconds, eta.stages_without_history) == ("no_history", None, 3)
    assert set(stage_expectations(dag.pk).values()) == {None}
    assert run_eta(987654) is None


def test_the_statistics_of_the_runs_own_cluster_size_are_used():
    cluster = make_cluster()
    _history(cluster, servers=3)
    _history(cluster, servers=300, steps=(("stop_zone", 600), ("start_zone", 300), ("upgrade_post_script", 100)))
    small = _running_run(cluster, [State.PENDING] * 3, servers=3)
    large = _running_run(cluster, [State.PENDING] * 3, servers=300)
    etas = run_etas([small.pk, large.pk], now=NOW)
    assert etas[small.pk].remaining_seconds == pytest.approx(100.0)
    assert etas[large.pk].remaining_seconds == pytest.approx(1000.0)


def test_the_batch_form_reads_three_queries_for_any_number_of_runs():
    cluster = make_cluster()
    _history(cluster)
    ids = [_running_run(cluster, [State.SUCCEED, State.RUNNING, State.PENDING]).pk for _ in range(12)]
    with CaptureQueriesContext(connection) as queries:
        etas = run_etas(ids, now=NOW)
    assert len(queries) == 3
    assert sorted(etas) == sorted(ids)
    assert all(eta.status == "estimate" for eta in etas.values())
    assert run_etas([]) == {}


def test_expected_run_seconds_of_actions_before_a_run_exists():
    cluster = make_cluster()
    _history(cluster)
    assert expected_run_seconds(["stop_zone", "start_zone", "stop_zone"], servers=3) == pytest.approx(150.0)
    assert expected_run_seconds(["stop_zone", "never_ran"], servers=3) is None
    assert expected_run_seconds([], servers=3) is None


def test_expected_upgrade_of_a_cluster_along_a_route_with_a_mode():
    cluster = make_cluster(zones=3)
    topology = Topology.of(cluster)
    rolling_actions = [
        node.action for node in stages.upgrade_nodes(edition=cluster.edition, mode="ROLLING", hops=2, topology=topology)
    ]
    assert expected_upgrade_seconds(cluster=cluster, hops=2, mode="ROLLING") is None  # no history yet

    for _ in range(5):
        finished_run(cluster, servers=3, steps=[done(action, 2) for action in dict.fromkeys(rolling_actions)])
    refresh_step_durations()

    assert expected_upgrade_seconds(cluster=cluster, hops=2, mode="ROLLING") == pytest.approx(
        2.0 * len(rolling_actions)
    )
    one_hop = expected_upgrade_seconds(cluster=cluster, hops=1, mode="ROLLING", topology=topology)
    assert one_hop < expected_upgrade_seconds(cluster=cluster, hops=2, mode="ROLLING")
    # STOPSERVICE's stages are among the rolling ones here, so it has an estimate too, and a shorter one.
    assert expected_upgrade_seconds(cluster=cluster, hops=2, mode="STOPSERVICE") < 2.0 * len(rolling_actions)
    assert expected_upgrade_seconds(cluster=cluster, hops=0, mode="ROLLING") is None
