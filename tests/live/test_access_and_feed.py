import pytest
from channels.db import database_sync_to_async

from tests.live.helpers import (
    HOST,
    ORIGIN,
    dag_communicator,
    feed_communicator,
    logged_in_headers,
    make_dag,
    set_dag_state,
    set_node_state,
)
from upgrades.models import Node

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_anonymous_socket_is_refused():
    # Accepted and closed at once with 4401, so the page learns why and stops reconnecting.
    dag = await database_sync_to_async(make_dag)()
    for communicator in (dag_communicator(dag.pk, [ORIGIN, HOST]), feed_communicator([ORIGIN, HOST])):
        await communicator.connect()
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_a_cross_origin_socket_is_refused():
    dag = await database_sync_to_async(make_dag)()
    headers = [h for h in await logged_in_headers() if h[0] != b"origin"] + [(b"origin", b"http://evil.example")]
    connected, _ = await dag_communicator(dag.pk, headers).connect()
    assert not connected
    connected, _ = await feed_communicator(headers).connect()
    assert not connected


async def test_an_unknown_dag_is_refused():
    connected, _ = await dag_communicator(10**9, await logged_in_headers()).connect()
    assert not connected


async def test_any_role_may_watch():
    dag = await database_sync_to_async(make_dag)()
    for role in ["viewer", "operator", "admin"]:
        communicator = dag_communicator(dag.pk, await logged_in_headers(role))
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from())["type"] == "snapshot"
        await communicator.disconnect()


async def test_the_feed_gets_dag_created_and_state_changes_only():
    first = await database_sync_to_async(make_dag)()
    communicator = feed_communicator(await logged_in_headers())
    assert (await communicator.connect())[0]
    hello = await communicator.receive_json_from()
    assert hello["type"] == "hello" and [d["id"] for d in hello["dags"]] == [first.pk]

    second = await database_sync_to_async(make_dag)()
    frame = await communicator.receive_json_from()
    assert (frame["type"], frame["kind"], frame["dag_id"], frame["dag"]["state"]) == (
        "dag",
        "dag.created",
        second.pk,
        "READY",
    )

    node = await database_sync_to_async(Node.objects.filter(dag=first).first)()
    await database_sync_to_async(set_node_state)(node.pk, "RUNNING")
    await database_sync_to_async(set_dag_state)(first.pk, "SUCCEED")
    frame = await communicator.receive_json_from()
    assert (frame["kind"], frame["dag_id"], frame["dag"]["state"]) == ("dag.updated", first.pk, "SUCCEED")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
