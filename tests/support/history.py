"""Finished runs made directly as rows, with the stage durations a test needs (duration statistics, stalls)."""

from datetime import timedelta

from django.utils import timezone

from upgrades.models import Dag, Node
from upgrades.models.dag import Operator, State


def finished_run(cluster, *, servers, steps, finished=True, state=State.SUCCEED, ended=None):
    """A run of `cluster` on `servers` servers whose stages took the given times: `steps` is a list of
    (action, seconds, node state, node operator), or use `done(action, seconds)` for a stage that ran and
    succeeded. Returns the DAG."""
    end = ended or timezone.now()
    dag = Dag.objects.create(
        cluster=cluster,
        name="upgrade",
        max_stage=len(steps),
        version="4.3.0.1",
        release="1",
        from_version="4.2.1.0",
        to_version="4.3.0.1",
        state=state,
        is_finished=finished,
        server_count=servers,
    )
    for seq, (action, seconds, node_state, operator) in enumerate(steps, start=1):
        Node.objects.create(
            dag=dag,
            seq=seq,
            name=action,
            action=action,
            parallel=False,
            state=node_state,
            operator=operator,
            start_time=end - timedelta(seconds=seconds),
            end_time=end,
        )
    return dag


def done(action, seconds):
    return (action, seconds, State.SUCCEED, Operator.RUN)
