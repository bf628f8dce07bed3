"""Usual step durations (median, p90) per node action and cluster size from finished runs, and the
node.stalled event a running stage past twice its usual duration gets exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.history import done, finished_run
from tests.support.packages import stock_packages
from upgrades.engine import periodic
from upgrades.engine.runner import run_dag_to_end
from upgrades.engine.scheduler import dag_advance
from upgrades.engine.stalls import detect_stalled_nodes
from upgrades.live.selectors import dag_snapshot, event_frames
from upgrades.models import Dag, DagEvent, Node, StepDurationStat
from upgrades.models.dag import Operator, State
from upgrades.operations import durations
from upgrades.operations.durations import (
    ALL_SIZES,
    UsualDuration,
    percentile,
    refresh_step_durations,
    size_bucket,
    usual_duration,
    usual_durations,
    usual_durations_for_dag,
)

pytestmark = pytest.mark.django_db


def test_size_buckets():
    assert [size_bucket(n) for n in (0, 1, 2, 3, 4, 9, 10, 29, 30, 99, 100, 299, 300, 5000)] == [
        0, 1, 2, 2, 4, 4, 10, 10, 30, 30, 100, 100, 300, 300,
    ]  # fmt: skip


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([1.0], 0.9) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(i) for i in range(1, 11)], 0.9) == pytest.approx(9.1)


def test_median_and_p90_per_action_and_cluster_size():
    cluster = make_cluster()
    for seconds in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100):
        finished_run(cluster, servers=3, steps=[done("stop_zone", seconds), done("upgrade_observer", seconds * 2)])
    for seconds in (300, 310, 320, 330, 340):
        finished_run(cluster, servers=300, steps=[done("stop_zone", seconds)])

    assert refresh_step_durations() == 5  # stop_zone: 2, 300, all; upgrade_observer: 2, all

    small = usual_duration(action="stop_zone", servers=3)
    assert small == UsualDuration(
        median_seconds=pytest.approx(55.0), p90_seconds=pytest.approx(91.0), samples=10, size_bucket=2
    )
    large = usual_duration(action="stop_zone", servers=450)
    assert (large.median_seconds, large.samples, large.size_bucket) == (pytest.approx(320.0), 5, 300)
    assert usual_duration(action="upgrade_observer", servers=2).median_seconds == pytest.approx(110.0)
    assert usual_duration(action="never_ran", servers=3) is None


def test_a_bucket_with_few_samples_falls_back_to_every_size():
    cluster = make_cluster()
    for seconds in (10, 20, 30, 40, 50, 60):
        finished_run(cluster, servers=3, steps=[done("stop_zone", seconds)])
    finished_run(cluster, servers=40, steps=[done("stop_zone", 1000)])
    refresh_step_durations()

    answer = usual_duration(action="stop_zone", servers=40)  # its own bucket has 1 sample
    assert (answer.size_bucket, answer.samples, answer.median_seconds) == (ALL_SIZES, 7, pytest.approx(40.0))


def test_only_nodes_that_did_their_work_in_finished_runs_count():
    cluster = make_cluster()
    finished_run(cluster, servers=3, steps=[done("stop_zone", 10)])
    finished_run(cluster, servers=3, steps=[("stop_zone", 20, State.SUCCEED, Operator.RETRY)])
    finished_run(cluster, servers=3, steps=[("stop_zone", 999, State.SUCCEED, Operator.PASS)])
    finished_run(cluster, servers=3, steps=[("stop_zone", 999, State.SUCCEED, Operator.ROLLBACK)])
    finished_run(cluster, servers=3, steps=[("stop_zone", 999, State.FAILED, Operator.RUN)])
    finished_run(cluster, servers=3, steps=[done("stop_zone", 999)], finished=False, state=State.RUNNING)
    # A node reset to the epoch by an operator never started.
    dag = finished_run(cluster, servers=3, steps=[done("stop_zone", 5)])
    Node.objects.filter(dag=dag).update(start_time=Dag.start_time.field.default().replace(year=1970))
    refresh_step_durations()

    row = StepDurationStat.objects.get(action="stop_zone", size_bucket=2)
    assert (row.samples, row.median_seconds) == (2, pytest.approx(15.0))


def test_the_latest_samples_are_kept(monkeypatch):
    monkeypatch.setattr(durations, "SAMPLE_WINDOW", 5)
    cluster = make_cluster()
    now = timezone.now()
    for age, seconds in enumerate((1, 2, 3, 4, 5, 1000, 1000, 1000)):
        finished_run(cluster, servers=3, steps=[done("stop_zone", seconds)], ended=now - timedelta(hours=age))
    refresh_step_durations()
    assert usual_duration(action="stop_zone", servers=3).median_seconds == pytest.approx(3.0)


def test_only_the_latest_runs_are_read(monkeypatch):
    monkeypatch.setattr(durations, "RECENT_RUNS", 5)
    cluster = make_cluster()
    for seconds in (1000, 1000, 1000, 10, 20, 30, 40, 50):
        finished_run(cluster, servers=3, steps=[done("stop_zone", seconds)])
    refresh_step_durations()
    answer = usual_duration(action="stop_zone", servers=3)
    assert (answer.samples, answer.median_seconds) == (5, pytest.approx(30.0))


def test_refresh_replaces_the_summary():
    cluster = make_cluster()
    for seconds in (10, 20, 30, 40, 50):
        finished_run(cluster, servers=3, steps=[done("stop_zone", seconds)])
    refresh_step_durations()
    Dag.objects.all().delete()
    assert refresh_step_durations() == 0
    assert usual_duration(action="stop_zone", servers=3) is None


def test_bulk_reads_take_one_query(django_assert_num_queries):
    cluster = make_cluster()
    for seconds in (10, 20, 30, 40, 50):
        finished_run(cluster, servers=3, steps=[done("stop_zone", seconds), done("start_zone", seconds)])
    refresh_step_durations()
    with django_assert_num_queries(1):
        answers = usual_durations([("stop_zone", 3), ("start_zone", 3), ("stop_zone", 300), ("other", 3)])
    assert answers[("stop_zone", 3)].median_seconds == pytest.approx(30.0)
    assert answers[("stop_zone", 300)].size_bucket == ALL_SIZES
    assert answers[("other", 3)] is None


def test_a_real_run_records_its_size_and_feeds_the_statistics():
    cluster = make_cluster(zones=3, servers_per_zone=2)
    stock_packages(TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.SUCCEED and dag.server_count == 6
    refresh_step_durations()
    by_node = usual_durations_for_dag(dag.pk)
    nodes = list(Node.objects.filter(dag=dag))
    assert set(by_node) == {node.pk for node in nodes}
    # One run: below MIN_SAMPLES for its bucket, so the answer is the action over every size, with its count.
    sample = by_node[nodes[0].pk]
    assert sample is not None and sample.size_bucket == ALL_SIZES and sample.samples >= 1


# ---------- stalls ----------


@pytest.fixture
def running_node(settings):
    """A running upgrade whose first stage started 10 minutes ago; its usual duration is 60 s (p90 90 s)."""
    settings.STALL_MIN_SECONDS = 0
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    dag_advance(dag.pk)
    node = Node.objects.get(dag=dag, state=State.RUNNING)
    Node.objects.filter(pk=node.pk).update(start_time=timezone.now() - timedelta(minutes=10))
    for seconds in (30, 45, 60, 75, 90):
        finished_run(cluster, servers=dag.server_count, steps=[done(node.action, seconds)])
    refresh_step_durations()
    node.refresh_from_db()
    return node


def stall_events(dag_id):
    return list(DagEvent.objects.filter(dag_id=dag_id, kind=DagEvent.Kind.NODE_STALLED))


def test_a_stage_past_twice_its_usual_duration_is_reported_once(running_node):
    assert detect_stalled_nodes() == 1
    assert detect_stalled_nodes() == 0
    [event] = stall_events(running_node.dag_id)
    payload = event.payload
    assert payload["node_id"] == running_node.pk and payload["node_name"] == running_node.name
    assert payload["action"] == running_node.action and payload["servers"] == 3
    assert 595 < payload["running_seconds"] < 700
    assert (payload["usual_median_seconds"], payload["usual_p90_seconds"], payload["usual_samples"]) == (60.0, 84.0, 5)
    # The live stream carries it like any event, and the snapshot shows the stall while the stage runs.
    frames = [frame for seq, frame in event_frames(running_node.dag_id, event.seq - 1)]
    assert '"kind": "node.stalled"' in frames[0]
    [stall] = dag_snapshot(running_node.dag_id)["stalls"]
    assert stall["node_id"] == running_node.pk and stall["usual_median_seconds"] == 60.0


def test_no_stall_before_twice_the_usual_duration_nor_the_floor(running_node, settings):
    Node.objects.filter(pk=running_node.pk).update(start_time=timezone.now() - timedelta(seconds=100))
    assert detect_stalled_nodes() == 0  # 100 s < 2 x 60 s
    Node.objects.filter(pk=running_node.pk).update(start_time=timezone.now() - timedelta(seconds=130))
    settings.STALL_MIN_SECONDS = 600
    assert detect_stalled_nodes() == 0  # past twice the median but under the floor
    settings.STALL_MIN_SECONDS = 0
    assert detect_stalled_nodes() == 1


def test_no_stall_without_enough_finished_runs(running_node):
    Dag.objects.exclude(pk=running_node.dag_id).first().delete()
    refresh_step_durations()  # 4 samples left
    assert detect_stalled_nodes() == 0
    assert dag_snapshot(running_node.dag_id)["stalls"] == []


def test_a_node_that_runs_again_may_stall_again(running_node):
    assert detect_stalled_nodes() == 1
    # The stage was retried after that report: its new start is later, so the report is a past run's.
    now = timezone.now()
    Node.objects.filter(pk=running_node.pk).update(
        stalled_at=now - timedelta(minutes=20), start_time=now - timedelta(minutes=5)
    )
    assert dag_snapshot(running_node.dag_id)["stalls"] == []
    assert detect_stalled_nodes() == 1
    assert len(stall_events(running_node.dag_id)) == 2


def test_a_finished_stage_is_no_longer_shown_stalled(running_node):
    detect_stalled_nodes()
    Node.objects.filter(pk=running_node.pk).update(state=State.SUCCEED, end_time=timezone.now())
    assert dag_snapshot(running_node.dag_id)["stalls"] == []


def test_the_jobs_are_registered_periodic_jobs():
    names = {job.name for job in periodic.registered()}
    assert {"refresh-step-durations", "detect-stalled-nodes"} <= names
