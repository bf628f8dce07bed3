"""LOG_FORMAT=json: one JSON object per line, with the request's trace id (its X-OBSHELL-Trace-ID, the traceId
the API answers) and the DAG / sub-task a worker runs; secrets never written."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.live_server import child_environment
from tests.support.packages import stock_packages
from tests.support.paths import PROJECT_ROOT
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Fault, Node
from upgrades.models.dag import State
from upgrades.operations.logs import JsonFormatter, ScrubFilter, log_context


@pytest.fixture
def json_lines():
    """Everything logged during the test, through the JSON formatter and the scrub filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_line_is_one_json_object_with_its_context_and_extras(json_lines):
    logger = logging.getLogger("tests.json")
    with log_context(dag_id=7, sub_task_id=12):
        logger.warning("step %s slow", "stop_zone", extra={"attempt": 2, "password": "hunter2", "api_token": "t0k"})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("it failed")
    first, second = json_lines()
    assert first["message"] == "step stop_zone slow" and first["level"] == "WARNING" and first["logger"] == "tests.json"
    assert (first["dag_id"], first["sub_task_id"], first["attempt"]) == (7, 12, 2)
    assert first["password"] == "[redacted]" and first["api_token"] == "[redacted]"
    assert "dag_id" not in second and "ValueError: boom" in second["exc_info"]
    assert first["time"].endswith("+00:00") and isinstance(first["process"], int)


def test_secrets_in_messages_are_scrubbed(json_lines):
    logger = logging.getLogger("tests.json")
    logger.info('GET /login/link/s3cr3t-link-value/ "Authorization: Bearer abc.def" X-OCS-Header: AAAA /x?token=zzz')
    [line] = json_lines()
    for secret in ("s3cr3t-link-value", "abc.def", "AAAA", "zzz"):
        assert secret not in json.dumps(line)
    assert line["message"].count("[redacted]") == 4


@pytest.mark.django_db
def test_a_request_line_carries_the_trace_id_the_api_answers(client, json_lines):
    response = client.get("/api/v1/task/dag/1999", HTTP_X_OBSHELL_TRACE_ID="trace-from-client.1")
    assert response.json()["traceId"] == "trace-from-client.1"
    response = client.get("/api/v1/task/dag/1998")
    generated = response.json()["traceId"]
    assert generated
    lines = [line for line in json_lines() if line["logger"] == "django.request"]
    assert [line["trace_id"] for line in lines] == ["trace-from-client.1", generated]


@pytest.mark.django_db
def test_a_page_request_gets_a_trace_id_and_a_sign_in_link_never_shows(client, json_lines):
    client.get("/login/link/very-secret-link-value/")
    client.get("/no-such-page/")
    lines = json_lines()
    assert "very-secret-link-value" not in json.dumps(lines)
    traces = [line.get("trace_id") for line in lines if line["logger"] == "django.request"]
    assert traces and all(traces) and len(set(traces)) == len(traces)


@pytest.mark.django_db
def test_worker_lines_name_the_dag_and_sub_task_they_work_on(json_lines, settings):
    settings.WORKER_LEASE_SECONDS = 1  # the crashed attempt's lease is reaped soon
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    node = Node.objects.get(dag=dag, seq=2)
    fault_inject(cluster=cluster, node_name=node.name, kind=Fault.Kind.CRASH)
    assert run_dag_to_end(dag.pk).state == State.SUCCEED
    crash = next(line for line in json_lines() if "injected crash" in line["message"])
    assert crash["dag_id"] == dag.pk and crash["node_id"] == node.pk
    assert crash["sub_task_id"] in set(node.sub_tasks.values_list("id", flat=True))
    assert crash["worker"]


def _manage(*args, **env):
    child = {**os.environ, **child_environment(), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=child, capture_output=True, text=True, timeout=60
    )


@pytest.mark.django_db(transaction=True)
def test_log_format_json_in_a_real_process():
    code = "import logging; logging.getLogger('obdash.test').warning('hello %s', 'there', extra={'secret': 's'})"
    done = _manage("shell", "-c", code, LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in done.stderr.splitlines() if '"obdash.test"' in text]
    assert line["message"] == "hello there" and line["secret"] == "[redacted]"
    plain = _manage("shell", "-c", code)
    assert "WARNING obdash.test hello there" in plain.stderr
    wrong = _manage("check", LOG_FORMAT="xml")
    assert wrong.returncode != 0 and "LOG_FORMAT" in wrong.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_uvicorn_serving_json_logs_with_the_trace_id_the_api_answers():
    """The scale-out web process: uvicorn's own lines and Django's come out as JSON, and under ASGI a
    request's lines carry its trace id."""
    import requests

    from tests.operations.helpers import free_port
    from tests.support.waiting import wait_until

    port = free_port()
    env = {
        **os.environ,
        **child_environment(EMBEDDED_WORKER=0, LOG_FORMAT="json"),
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "dashboard.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def answers():
            try:
                return requests.get(f"{base}/healthz", timeout=5).ok
            except requests.RequestException:
                return False

        wait_until(answers, timeout=60, what="uvicorn answers")
        answer = requests.get(f"{base}/api/v1/task/dag/1999", headers={"X-OBSHELL-Trace-ID": "asgi-trace-7"})
        assert answer.json()["traceId"] == "asgi-trace-7"
        requests.get(f"{base}/login/link/a-very-secret-link/", allow_redirects=False)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(text) for text in stderr.splitlines() if text.startswith("{")]
    assert lines and len(lines) == len([text for text in stderr.splitlines() if text.strip()]), stderr
    [refused] = [line for line in lines if line["logger"] == "django.request" and "1999" in line["message"]]
    assert refused["trace_id"] == "asgi-trace-7"
    assert any(line["logger"] == "uvicorn.access" for line in lines)
    assert "a-very-secret-link" not in stderr
