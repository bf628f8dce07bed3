import pytest

from tests.api.helpers import Api
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import ingest_rpms
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Dag, SubTask, TaskLog
from upgrades.security.tokens import token_create

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = pytest.mark.django_db

DAG_KEYS = [
    "id",
    "dag_id",
    "name",
    "stage",
    "max_stage",
    "maintenance_type",
    "maintenance_key",
    "state",
    "operator",
    "start_time",
    "end_time",
    "additional_data",
    "nodes",
]
NODE_KEYS = ["id", "node_id", "name", "state", "operator", "start_time", "end_time", "additional_data", "sub_tasks"]
SUB_TASK_KEYS = [
    "id",
    "task_id",
    "name",
    "state",
    "operator",
    "start_time",
    "end_time",
    "additional_data",
    "execute_times",
    "execute_agent",
    "task_logs",
]


@pytest.fixture
def packages(tmp_path, cluster):
    return ingest_rpms(TARGET, tmp_path / "rpms")


@pytest.fixture
def dag(cluster, packages):
    return start_upgrade(cluster, TARGET)


def data_of(response):
    assert response.status_code == 200, response.content
    return response.json()["data"]


def error_of(response):
    return response.json()["error"]


def test_fresh_dag_shape(api, dag):
    data = data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}?show_details=True"))
    assert list(data) == DAG_KEYS
    assert data["additional_data"] == {}
    assert len(data["nodes"]) == 30
    node = data["nodes"][0]
    assert list(node) == NODE_KEYS
    assert node["name"] == "Check the python environment" and node["additional_data"] is None
    assert len(node["sub_tasks"]) == 3
    sub_task = node["sub_tasks"][0]
    assert list(sub_task) == SUB_TASK_KEYS
    assert sub_task["task_logs"] is None and sub_task["execute_times"] == 0
    assert set(sub_task["execute_agent"]) == {"ip", "port"} and sub_task["execute_agent"]["port"] == 2886
    assert isinstance(sub_task["id"], str) and sub_task["id"] == f"1{sub_task['task_id']}"
    assert data["start_time"] != "0001-01-01T00:00:00Z"


@pytest.mark.parametrize("value", ["false", "False", "0", "f", "F", "FALSE"])
def test_show_details_false(api, dag, value):
    data = data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}?show_details={value}"))
    assert data["nodes"] is None and data["additional_data"] is None


@pytest.mark.parametrize("value", ["true", "True", "1", "t", "T", "TRUE"])
def test_show_details_true_values(api, dag, value):
    assert len(data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}?show_details={value}"))["nodes"]) == 30


def test_show_details_defaults_to_true(api, dag):
    assert data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}"))["nodes"] is not None


def test_show_details_unparsable(api, dag):
    response = api.get(f"/api/v1/task/dag/{dag.generic_id}?show_details=yes")
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "Request.Query.Param.Illegal"


def test_finished_dag_has_logs_of_every_attempt(api, dag):
    run_dag_to_end(dag.pk)
    data = data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}"))
    assert data["state"] == "SUCCEED" and data["stage"] == 30
    for node in data["nodes"]:
        for sub_task in node["sub_tasks"]:
            assert isinstance(sub_task["task_logs"], list)
            assert sub_task["execute_times"] == 1
    sub_task = SubTask.objects.filter(dag=dag).first()
    expected = [log.line for log in TaskLog.objects.filter(sub_task=sub_task).order_by("id")]
    assert data["nodes"][0]["sub_tasks"][0]["task_logs"] == expected


@pytest.mark.parametrize(
    ("generic_id", "status", "err_code"),
    [
        ("abc", 400, "Task.GenericID.Invalid"),
        ("1", 400, "Task.GenericID.Invalid"),
        ("9123", 400, "Task.GenericID.Invalid"),
        ("1x2", 400, "Task.GenericID.Invalid"),
        ("2123", 400, "Task.GenericID.Invalid"),
        ("3" + "0" * 40, 400, "Task.GenericID.Invalid"),
        ("20167772161028865", 404, "Task.NotFound"),
        ("1999999", 404, "Task.NotFound"),
    ],
)
def test_generic_id_rules(api, dag, generic_id, status, err_code):
    for route in ("dag", "node", "sub_task"):
        response = api.get(f"/api/v1/task/{route}/{generic_id}")
        assert response.status_code == status, (route, response.content)
        assert error_of(response)["errCode"] == err_code


def test_leading_zero_id_does_not_match(api, dag):
    response = api.get(f"/api/v1/task/dag/10{dag.pk}")
    assert response.status_code == 404
    assert error_of(response) == {"errCode": "Task.NotFound", "message": "Task not found: dag id not match"}


def test_another_clusters_dag_is_not_found(client, dag):
    other = make_cluster()
    _, secret = token_create(cluster=other, label="other")
    other_api = Api(client, secret)
    node = dag.nodes.first()
    sub_task = SubTask.objects.filter(dag=dag).first()
    for uri in (
        f"/api/v1/task/dag/{dag.generic_id}",
        f"/api/v1/task/node/{node.generic_id}",
        f"/api/v1/task/sub_task/{sub_task.generic_id}",
        f"/api/v1/task/sub_task/{sub_task.generic_id}/logs",
    ):
        response = other_api.get(uri)
        assert response.status_code == 404, uri
        assert error_of(response)["errCode"] == "Task.NotFound"
    assert data_of(other_api.get("/api/v1/task/dags/ob")) == {"contents": []}
    assert data_of(other_api.get("/api/v1/task/dag/unfinish")) == {"contents": None}
    maintain = other_api.get("/api/v1/task/dag/maintain/ob")
    assert maintain.status_code == 404
    assert error_of(maintain)["message"] == "Task not found: Cluster is not under maintenance"


def test_node_and_sub_task_routes(api, dag):
    run_dag_to_end(dag.pk)
    node = dag.nodes.order_by("seq").first()
    data = data_of(api.get(f"/api/v1/task/node/{node.generic_id}?show_details=True"))
    assert list(data) == NODE_KEYS and data["additional_data"] == {} and len(data["sub_tasks"]) == 3
    serial = dag.nodes.get(name="Backup parameters")
    assert data_of(api.get(f"/api/v1/task/node/{serial.generic_id}"))["additional_data"] is None
    sub_task = SubTask.objects.filter(node=node).order_by("id").first()
    detail = data_of(api.get(f"/api/v1/task/sub_task/{sub_task.generic_id}"))
    assert list(detail) == SUB_TASK_KEYS and detail["task_logs"]
    logs = data_of(api.get(f"/api/v1/task/sub_task/{sub_task.generic_id}/logs"))["contents"]
    assert [entry["log_content"] for entry in logs] == detail["task_logs"]
    assert list(logs[0]) == [
        "id",
        "sub_task_id",
        "execute_times",
        "log_content",
        "is_sync",
        "create_time",
        "update_time",
    ]


def test_lists(api, dag, cluster):
    assert [d["id"] for d in data_of(api.get("/api/v1/task/dag/unfinish"))["contents"]] == [dag.generic_id]
    assert [d["id"] for d in data_of(api.get("/api/v1/task/dag/ob/unfinish?show_details=false"))["contents"]] == [
        dag.generic_id
    ]
    assert data_of(api.get("/api/v1/task/dag/agent/unfinish")) == {"contents": []}
    assert data_of(api.get("/api/v1/task/dags/agent")) == {"contents": []}
    assert data_of(api.get("/api/v1/task/dag/maintain/agents")) == {"contents": []}
    assert api.get("/api/v1/task/dag/maintain/agent").status_code == 404
    assert data_of(api.get("/api/v1/task/dag/maintain/ob"))["id"] == dag.generic_id
    run_dag_to_end(dag.pk)
    assert data_of(api.get("/api/v1/task/dag/unfinish")) == {"contents": None}
    assert data_of(api.get("/api/v1/task/dag/ob/unfinish")) == {"contents": []}
    all_dags = data_of(api.get("/api/v1/task/dags/ob"))["contents"]
    assert [d["id"] for d in all_dags] == [dag.generic_id] and all_dags[0]["state"] == "SUCCEED"
    assert data_of(api.get("/api/v1/task/dag/maintain/ob"))["state"] == "SUCCEED"


def test_operate_dag(api, dag):
    response = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "cancel"})
    assert response.status_code == 200, response.content
    assert "data" not in response.json()
    run_dag_to_end(dag.pk)
    dag.refresh_from_db()
    assert (dag.state, dag.operator) == ("FAILED", "CANCEL")
    again = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "CANCEL"})
    assert again.status_code == 400
    assert error_of(again)["errCode"] == "Task.Dag.Operator.CancelFinishedDag"


@pytest.mark.parametrize(
    ("document", "status", "err_code"),
    [
        ({"operator": "RUN"}, 400, "Task.Dag.Operator.NotSupport"),
        ({"operator": "RETRY"}, 400, "Task.Dag.Operator.RetryNotFailedDag"),
        ({"operator": "ROLLBACK"}, 400, "Task.Dag.Operator.RollbackNotFailedDag"),
        ({"operator": "PASS"}, 400, "Task.Dag.Operator.PassNotFailedDag"),
        ({}, 400, "Common.BindJsonFailed"),
        (b"not json", 400, "Common.BindJsonFailed"),
    ],
)
def test_refused_operators(api, dag, document, status, err_code):
    response = api.post(f"/api/v1/task/dag/{dag.generic_id}", document)
    assert response.status_code == status
    assert error_of(response)["errCode"] == err_code
    dag.refresh_from_db()
    assert (dag.state, dag.operator) == ("READY", "RUN")


def test_node_operator(api, dag):
    node = dag.nodes.order_by("seq").first()
    response = api.post(f"/api/v1/task/node/{node.generic_id}", {"operator": "RETRY"})
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "Task.Node.Operator.NotSupport"
    response = api.post(f"/api/v1/task/node/{node.generic_id}", {"operator": "PASS"})
    assert response.status_code == 400
    assert error_of(response)["errCode"].startswith("Task.Node.Operator.Pass")


@pytest.mark.parametrize("servers_per_zone", [1, 10])
def test_dag_detail_query_count_does_not_grow(client, tmp_path, django_assert_num_queries, settings, servers_per_zone):
    cluster = make_cluster(zones=3, servers_per_zone=servers_per_zone)
    ingest_rpms(TARGET, tmp_path / "rpms")
    _, secret = token_create(cluster=cluster, label="count")
    dag = start_upgrade(cluster, TARGET)
    run_dag_to_end(dag.pk)
    assert SubTask.objects.filter(dag=dag).values("server").distinct().count() == 3 * servers_per_zone
    api = Api(client, secret)
    uri = f"/api/v1/task/dag/{dag.generic_id}?show_details=true"
    api.get(uri)  # the first request also reads the key pair and records the token's use
    # token lookup, dag, nodes, sub-tasks, logs; plus the replay-cache insert and its savepoint pair when the
    # cache is the SeenHeader table rather than Redis. The same for 3 agents as for 30.
    with django_assert_num_queries(5 if settings.REDIS_URL else 8):
        response = api.get(uri)
    assert response.status_code == 200
    assert Dag.objects.get(pk=dag.pk).state == "SUCCEED"


def failed_check_dag(cluster, node_name="Create upgrade dir"):
    from upgrades.backends.faults import fault_inject
    from upgrades.services.dag_start import upgrade_check_start

    fault_inject(cluster=cluster, node_name=node_name)
    dag = upgrade_check_start(
        cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, actor=Actor.system("test")
    )
    assert run_dag_to_end(dag.pk).state == "FAILED"
    return dag


def test_pass_a_failed_node_and_the_dag_continues(api, cluster, packages):
    dag = failed_check_dag(cluster)
    node = dag.nodes.get(name="Create upgrade dir")
    detail = data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}"))
    failed = next(n for n in detail["nodes"] if n["state"] == "FAILED")
    assert failed["id"] == node.generic_id
    assert all(st["task_logs"] for st in failed["sub_tasks"] if st["state"] == "FAILED")
    response = api.post(f"/api/v1/task/node/{node.generic_id}", {"operator": "pass"})
    assert response.status_code == 200, response.content
    assert "data" not in response.json()
    finished = run_dag_to_end(dag.pk)
    assert (finished.state, finished.operator) == ("SUCCEED", "RUN")
    node.refresh_from_db()
    assert (node.state, node.operator) == ("SUCCEED", "PASS")


def test_pass_a_failed_dag(api, cluster, packages):
    dag = failed_check_dag(cluster)
    response = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "PASS", "reason": "checked by hand"})
    assert response.status_code == 200, response.content
    data = data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}?show_details=false"))
    assert (data["state"], data["operator"]) == ("SUCCEED", "PASS")
    assert Dag.objects.get(pk=dag.pk).is_finished
