"""The fleet feed also carries node.stalled (the fleet page marks a stalled run's row), as a "stall" frame."""

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from tests.live.helpers import feed_communicator, logged_in_headers, make_dag
from upgrades.engine.stalls import report_stall
from upgrades.models import Node
from upgrades.models.dag import State
from upgrades.operations.durations import UsualDuration

pytestmark = pytest.mark.django_db(transaction=True)


def start_node(dag):
    node = Node.objects.filter(dag=dag).order_by("seq").first()
    Node.objects.filter(pk=node.pk).update(state=State.RUNNING, start_time=timezone.now())
    return Node.objects.get(pk=node.pk)


async def test_a_stall_reaches_the_feed_with_its_payload():
    dag = await database_sync_to_async(make_dag)()
    node = await database_sync_to_async(start_node)(dag)
    communicator = feed_communicator(await logged_in_headers())
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "hello"

    usual = UsualDuration(median_seconds=10.0, p90_seconds=20.0, samples=9, size_bucket=2)
    reported = await database_sync_to_async(report_stall)(
        node_id=node.pk, dag_id=dag.pk, start_time=node.start_time, usual=usual
    )
    assert reported
    frame = await communicator.receive_json_from()
    assert (frame["type"], frame["kind"], frame["dag_id"]) == ("stall", "node.stalled", dag.pk)
    assert frame["stall"]["node_id"] == node.pk and frame["stall"]["usual_median_seconds"] == 10.0
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
