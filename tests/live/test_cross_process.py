"""A worker in another process reaches the browsers through Redis (the production profile)."""

import os
import subprocess
import sys

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from tests.live.helpers import dag_communicator, logged_in_headers, make_dag
from tests.support.live_server import child_environment
from tests.support.paths import PROJECT_ROOT

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

WORKER = """
import django
django.setup()
from tests.live.helpers import set_dag_state
set_dag_state({dag_id}, "RUNNING")
"""


def commit_in_another_process(dag_id):
    environment = {**os.environ, **child_environment(REDIS_URL=os.environ["REDIS_URL"])}
    environment["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    subprocess.run(
        [sys.executable, "-c", WORKER.format(dag_id=dag_id)], cwd=PROJECT_ROOT, env=environment, check=True, timeout=60
    )


async def test_an_event_committed_by_another_process_reaches_the_socket(settings):
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis")
    dag = await database_sync_to_async(make_dag)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    assert (await communicator.receive_json_from())["seq"] == 1
    await sync_to_async(commit_in_another_process)(dag.pk)
    frame = await communicator.receive_json_from(timeout=10)
    assert (frame["type"], frame["seq"], frame["payload"]["dag"]["state"]) == ("event", 2, "RUNNING")
    await communicator.disconnect()
