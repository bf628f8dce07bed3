"""Benchmark (make bench): the obshell API's own cost, through the full Django stack (middleware, v2
authentication, envelope) with the test client, on the configured database.

* POST /api/v1/ob/upgrade with v2 auth (RSA header decrypt, AES body, all pre-checks, DAG creation with
  its 30 nodes and sub-tasks, events, audit), against a trivial authenticated endpoint measured in the same
  run (GET /api/v1/task/dag/maintain/agents: authentication and the envelope only). obshell's own sample
  response reports a duration of 118 ms for this call.
* GET /api/v1/task/dag/:id?show_details=true for a finished 3-agent DAG and a finished 300-agent DAG
  (3 zones x 100 servers, about 3,300 sub-tasks, every log line), against the same trivial endpoint.

Figures are printed (p50/p90 in ms and ratios); nothing here asserts on timing.
"""

import statistics
import time

import pytest
from django.test import Client

from tests.api.signing import as_meta, load_public_key, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import ingest_rpms
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Dag, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.security.keys import public_key_pkcs1_b64
from upgrades.security.tokens import token_create
from upgrades.services.dag_start import upgrade_start

TARGET_VERSION, TARGET_RELEASE = TARGET

ROUNDS = 60
TRIVIAL = "/api/v1/task/dag/maintain/agents"


class Signed:
    def __init__(self, cluster):
        _, self.token = token_create(cluster=cluster, label="bench")
        self.client = Client()
        self.key = load_public_key(public_key_pkcs1_b64())

    def request(self, method, uri, body=None):
        headers, data = v2_request(self.key, password=self.token, uri=uri, body=body)
        return self.client.generic(method, uri, data=data, content_type="text/plain", **as_meta(headers))


def timed(call, rounds=ROUNDS, *, between=None):
    """Milliseconds of `call()` per round; `between()` runs untimed after each round."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.content
        if between:
            between()
    return samples


def p(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(title, samples, baseline_title, baseline):
    p50, base = statistics.median(samples), statistics.median(baseline)
    print(
        f"\n{title}: p50 {p50:.1f} ms, p90 {p(samples, 0.9):.1f} ms; "
        f"{baseline_title}: p50 {base:.1f} ms; ratio {p50 / base:.1f}x"
    )


def release_lock(cluster):
    Dag.objects.filter(cluster=cluster, holds_lock=True).update(holds_lock=False, is_finished=True, state=State.SUCCEED)


@pytest.mark.django_db
def test_post_upgrade_with_v2_auth(tmp_path):
    cluster = make_cluster(zones=3)
    ingest_rpms(TARGET, tmp_path / "rpms")
    api = Signed(cluster)
    body = {"version": TARGET_VERSION, "release": TARGET_RELEASE, "mode": "ROLLING", "upgradeDir": None}
    for _ in range(5):  # warm up both paths
        api.request("GET", TRIVIAL)
        api.request("POST", "/api/v1/ob/upgrade", body)
        release_lock(cluster)
    baseline = timed(lambda: api.request("GET", TRIVIAL))
    upgrade = timed(lambda: api.request("POST", "/api/v1/ob/upgrade", body), between=lambda: release_lock(cluster))
    service = timed_service(cluster)
    report("POST /api/v1/ob/upgrade (v2, creates a 30-stage DAG)", upgrade, "trivial authenticated GET", baseline)
    own = statistics.median(upgrade) - statistics.median(service)
    print(
        f"  of which upgrade_start() itself (planning + DAG creation, called directly): p50 "
        f"{statistics.median(service):.1f} ms; the API layer's own share {own:.1f} ms "
        f"({own / statistics.median(baseline):.1f}x the trivial GET)"
    )
    print(f"  obshell's sample response reports 118 ms; ours is {118 / statistics.median(upgrade):.1f}x faster")


def timed_service(cluster):
    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        upgrade_start(
            cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING", actor=Actor.system("b")
        )
        samples.append((time.perf_counter() - began) * 1000)
        release_lock(cluster)
    return samples


def finish_like(dag, model):
    """Give a freshly created DAG the finished state of `model` (same template, run for real by the engine):
    every sub-task SUCCEED with the log lines the engine wrote for its node. Running 3,300 sub-tasks through
    the engine would take minutes and measures the engine, not this read."""
    first_sub_task = {}
    for sub_task_id, name in SubTask.objects.filter(dag=model).order_by("id").values_list("id", "node__name"):
        first_sub_task.setdefault(name, sub_task_id)
    lines = {name: [] for name in first_sub_task}
    by_sub_task = {sub_task_id: name for name, sub_task_id in first_sub_task.items()}
    for sub_task_id, level, text, execute_times in (
        TaskLog.objects.filter(sub_task_id__in=list(by_sub_task))
        .order_by("id")
        .values_list("sub_task_id", "level", "text", "execute_times")
    ):
        lines[by_sub_task[sub_task_id]].append((level, text, execute_times))
    now = model.end_time
    Dag.objects.filter(pk=dag.pk).update(
        state=State.SUCCEED,
        stage=dag.max_stage,
        is_finished=True,
        holds_lock=False,
        start_time=model.start_time,
        end_time=now,
    )
    dag.nodes.update(state=State.SUCCEED, start_time=model.start_time, end_time=now)
    SubTask.objects.filter(dag=dag).update(
        state=State.SUCCEED, execute_times=1, start_time=model.start_time, end_time=now
    )
    logs = []
    for sub_task_id, name in SubTask.objects.filter(dag=dag).values_list("id", "node__name"):
        for level, text, execute_times in lines.get(name, ()):
            logs.append(TaskLog(sub_task_id=sub_task_id, level=level, text=text, execute_times=execute_times))
    TaskLog.objects.bulk_create(logs, batch_size=2000)


@pytest.mark.django_db
def test_get_dag_with_details(tmp_path):
    small = make_cluster(zones=3)
    large = make_cluster(zones=3, servers_per_zone=100)
    ingest_rpms(TARGET, tmp_path / "rpms")
    small_dag = start_upgrade(small, TARGET, actor=Actor.system("bench"))
    assert run_dag_to_end(small_dag.pk, timeout=300).state == State.SUCCEED
    small_dag.refresh_from_db()
    large_dag = start_upgrade(large, TARGET, actor=Actor.system("bench"))
    finish_like(large_dag, small_dag)
    for dag in (small_dag, large_dag):
        sub_tasks = SubTask.objects.filter(dag=dag).count()
        logs = TaskLog.objects.filter(sub_task__dag=dag).count()
        print(f"\nDAG {dag.generic_id}: {dag.max_stage} nodes, {sub_tasks} sub-tasks, {logs} log lines", end="")

    small_api, large_api = Signed(small), Signed(large)
    small_uri = f"/api/v1/task/dag/{small_dag.generic_id}?show_details=true"
    large_uri = f"/api/v1/task/dag/{large_dag.generic_id}?show_details=true"
    for _ in range(3):
        small_api.request("GET", small_uri)
        large_api.request("GET", large_uri)
    baseline = timed(lambda: small_api.request("GET", TRIVIAL))
    small_samples = timed(lambda: small_api.request("GET", small_uri))
    large_samples = timed(lambda: large_api.request("GET", large_uri), rounds=15)
    size = len(large_api.request("GET", large_uri).content)
    report("GET dag show_details=true, 3 agents", small_samples, "trivial authenticated GET", baseline)
    report("GET dag show_details=true, 300 agents", large_samples, "trivial authenticated GET", baseline)
    print(
        f"  300-agent response: {size / 1e6:.1f} MB of JSON; "
        f"ratio 300 vs 3 agents: {statistics.median(large_samples) / statistics.median(small_samples):.0f}x"
    )
