import pytest
from channels.db import database_sync_to_async

from tests.live.helpers import (
    append_log,
    dag_communicator,
    emit_in_thread,
    logged_in_headers,
    make_dag,
    set_dag_state,
    set_node_state,
)
from upgrades.live.consumers import DagConsumer
from upgrades.models import Node, SubTask

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dag():
    return make_dag(nodes=3)


async def receive_events(communicator, count, timeout=5):
    frames = []
    while len(frames) < count:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == "event":
            frames.append(frame)
        elif frame["type"] == "replay":
            frames.extend(frame["events"])
    return frames


async def test_snapshot_then_each_event_in_order(dag):
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    connected, _ = await communicator.connect()
    assert connected
    snapshot = await communicator.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == 1
    assert snapshot["dag"]["id"] == dag.pk and snapshot["dag"]["reason"] == "quarterly patch"
    assert [n["name"] for n in snapshot["nodes"]] == ["Stage 1", "Stage 2", "Stage 3"]
    assert len(snapshot["sub_tasks"]) == 9
    assert snapshot["actions"] == {
        "retry": False,
        "rollback": False,
        "continue_rollback": False,
        "cancel": True,
        "pass": False,
        "pass_node": None,
        "retry_leaves_rolled_back": [],
    }

    node = await database_sync_to_async(Node.objects.filter(dag=dag).first)()
    await database_sync_to_async(set_dag_state)(dag.pk, "RUNNING")
    await database_sync_to_async(set_node_state)(node.pk, "RUNNING")
    await database_sync_to_async(set_node_state)(node.pk, "SUCCEED")
    events = await receive_events(communicator, 3)
    assert [(e["seq"], e["kind"]) for e in events] == [(2, "dag.updated"), (3, "node.updated"), (4, "node.updated")]
    assert events[0]["payload"]["dag"]["state"] == "RUNNING"
    assert events[2]["payload"]["node"]["state"] == "SUCCEED"
    assert "actions" in events[0]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_an_event_committed_by_a_plain_thread_reaches_the_socket(dag):
    """An embedded worker thread publishes outside asgiref's threads and outside the server's loop."""
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()
    thread, errors = emit_in_thread(set_dag_state, dag.pk, "RUNNING")
    events = await receive_events(communicator, 1)
    thread.join(5)
    assert not errors
    assert events[0]["seq"] == 2 and events[0]["payload"]["dag"]["state"] == "RUNNING"
    await communicator.disconnect()


async def test_resume_after_k_returns_exactly_the_missing_events(dag):
    for state in ["RUNNING", "FAILED", "READY", "RUNNING", "FAILED", "READY", "RUNNING"]:
        await database_sync_to_async(set_dag_state)(dag.pk, state)
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    snapshot = await communicator.receive_json_from()
    assert snapshot["seq"] == 8

    await communicator.send_json_to({"type": "resume", "after_seq": 4})
    replay = await communicator.receive_json_from()
    assert replay["type"] == "replay"
    assert [e["seq"] for e in replay["events"]] == [5, 6, 7, 8]
    assert [e["payload"]["dag"]["state"] for e in replay["events"]] == ["RUNNING", "FAILED", "READY", "RUNNING"]
    assert (await communicator.receive_json_from())["type"] == "actions"
    # Resumed: the next live event follows without a duplicate.
    await database_sync_to_async(set_dag_state)(dag.pk, "SUCCEED")
    events = await receive_events(communicator, 1)
    assert [e["seq"] for e in events] == [9]
    await communicator.disconnect()


async def test_reconnecting_with_after_seq_gets_a_replay_instead_of_a_snapshot(dag):
    for state in ["RUNNING", "FAILED", "READY"]:
        await database_sync_to_async(set_dag_state)(dag.pk, state)
    communicator = dag_communicator(dag.pk, await logged_in_headers(), query="after_seq=2")
    await communicator.connect()
    replay = await communicator.receive_json_from()
    assert replay["type"] == "replay" and [e["seq"] for e in replay["events"]] == [3, 4]
    await communicator.disconnect()


async def test_a_gap_over_the_bound_gets_a_fresh_snapshot(dag, monkeypatch):
    monkeypatch.setattr(DagConsumer, "resume_max_events", 2)
    for state in ["RUNNING", "FAILED", "READY", "RUNNING"]:
        await database_sync_to_async(set_dag_state)(dag.pk, state)
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "resume", "after_seq": 1})
    frame = await communicator.receive_json_from()
    assert frame["type"] == "snapshot" and frame["seq"] == 5 and frame["dag"]["state"] == "RUNNING"
    await communicator.send_json_to({"type": "resume", "after_seq": 3})
    frame = await communicator.receive_json_from()
    assert frame["type"] == "replay" and [e["seq"] for e in frame["events"]] == [4, 5]
    await communicator.disconnect()


async def test_a_rolled_back_change_never_reaches_a_socket(dag):
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()

    def rolled_back():
        from django.db import transaction

        class Abort(Exception):
            pass

        try:
            with transaction.atomic():
                set_dag_state(dag.pk, "FAILED")
                raise Abort
        except Abort:
            pass

    await database_sync_to_async(rolled_back)()
    assert await communicator.receive_nothing(timeout=0.3)
    await database_sync_to_async(set_dag_state)(dag.pk, "RUNNING")
    events = await receive_events(communicator, 1)
    assert events[0]["seq"] == 2 and events[0]["payload"]["dag"]["state"] == "RUNNING"
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_snapshot_carries_the_log_tail_of_running_and_failed_sub_tasks_only(dag):
    sub_tasks = await database_sync_to_async(lambda: list(SubTask.objects.filter(dag=dag).order_by("id")))()
    running, failed, done = sub_tasks[:3]

    def prepare():
        SubTask.objects.filter(pk=running.pk).update(state="RUNNING")
        SubTask.objects.filter(pk=failed.pk).update(state="FAILED")
        SubTask.objects.filter(pk=done.pk).update(state="SUCCEED")
        for i in range(205):
            append_log(running.pk, f"line {i}")
        append_log(failed.pk, "[OB.Zone.StopFailed]: boom", level="ERROR")
        append_log(done.pk, "all good")

    await database_sync_to_async(prepare)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    snapshot = await communicator.receive_json_from()
    by_task = {}
    for line in snapshot["logs"]:
        by_task.setdefault(line["sub_task_id"], []).append(line["line"])
    assert by_task[running.pk] == [f"line {i}" for i in range(5, 205)]
    assert by_task[failed.pk] == ["ERROR: [OB.Zone.StopFailed]: boom"]
    assert done.pk not in by_task
    assert snapshot["logs_complete"] == {str(running.pk): False, str(failed.pk): True}
    await communicator.disconnect()


async def test_log_backlog_pages_by_id_across_attempts(dag):
    sub_task = await database_sync_to_async(SubTask.objects.filter(dag=dag).first)()

    def prepare():
        ids = [append_log(sub_task.pk, f"first {i}").payload["log"]["id"] for i in range(3)]
        ids += [append_log(sub_task.pk, "undo", phase="rollback").payload["log"]["id"]]
        ids += [append_log(sub_task.pk, f"second {i}", execute_times=2).payload["log"]["id"] for i in range(2)]
        return ids

    ids = await database_sync_to_async(prepare)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "logs", "sub_task_id": sub_task.pk, "before_id": ids[4]})
    page = await communicator.receive_json_from()
    assert page["type"] == "logs" and page["more"] is False
    assert [(x["line"], x["execute_times"], x["phase"]) for x in page["lines"]] == [
        ("first 0", 1, "run"),
        ("first 1", 1, "run"),
        ("first 2", 1, "run"),
        ("undo", 1, "rollback"),
    ]
    await communicator.send_json_to({"type": "logs", "sub_task_id": sub_task.pk, "after_id": ids[3]})
    page = await communicator.receive_json_from()
    assert [x["id"] for x in page["lines"]] == ids[4:]
    await communicator.send_json_to({"type": "logs", "sub_task_id": 10**9})
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.disconnect()


async def test_heartbeat_carries_the_committed_seq(dag, settings):
    settings.LIVE_HEARTBEAT_SECONDS = 0.1
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()
    frame = await communicator.receive_json_from(timeout=3)
    assert frame["type"] == "heartbeat" and frame["seq"] == 1
    await communicator.disconnect()


async def test_replayed_frames_have_the_shape_of_pushed_events(dag):
    await database_sync_to_async(set_dag_state)(dag.pk, "RUNNING")
    await database_sync_to_async(append_log)(
        (await database_sync_to_async(SubTask.objects.filter(dag=dag).first)()).pk, 'quote " and ünïcode'
    )

    def expected():
        from upgrades.events import event_message
        from upgrades.models import DagEvent

        return [event_message(e) for e in DagEvent.objects.filter(dag=dag).order_by("seq")]

    communicator = dag_communicator(dag.pk, await logged_in_headers(), query="after_seq=0")
    await communicator.connect()
    replay = await communicator.receive_json_from()
    assert replay["events"] == await database_sync_to_async(expected)()
    await communicator.disconnect()
