import json

import pytest
from django.test import Client

from tests.live.helpers import append_log, make_dag
from tests.support.factories import make_user
from upgrades.models import AuditEntry, Dag, Node, SubTask

pytestmark = pytest.mark.django_db


def logged_in(role):
    client = Client()
    client.force_login(make_user(role))
    return client


def fail_first_stage(dag):
    node = Node.objects.get(dag=dag, seq=1)
    Node.objects.filter(pk=node.pk).update(state="FAILED")
    SubTask.objects.filter(node=node).update(state="FAILED")
    Dag.objects.filter(pk=dag.pk).update(state="FAILED", stage=1)
    return node


def post(client, dag, **body):
    return client.post(f"/runs/{dag.pk}/operate/", json.dumps(body), content_type="application/json")


def test_the_page_renders_the_snapshot_and_its_hooks():
    dag = make_dag()
    response = logged_in("viewer").get(f"/runs/{dag.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-dag-state="READY" data-dag-seq="1"' in html
    assert 'id="run-snapshot"' in html and "js/run.js" in html
    assert html.count("data-node-state=") == 3
    assert "acting needs the operator role" in html


def test_an_anonymous_visitor_is_sent_to_sign_in():
    dag = make_dag()
    response = Client().get(f"/runs/{dag.pk}/")
    assert response.status_code == 302 and "login" in response["Location"]
    assert Client().get(f"/runs/{dag.pk + 1000}/").status_code == 302
    assert logged_in("viewer").get(f"/runs/{dag.pk + 1000}/").status_code == 404


def test_retry_with_a_reason_calls_the_service_and_is_audited():
    dag = make_dag()
    fail_first_stage(dag)
    response = post(logged_in("operator"), dag, action="retry", reason="the disk is fixed")
    assert response.status_code == 200 and response.json() == {"ok": True}
    dag.refresh_from_db()
    assert dag.state == "READY"
    entry = AuditEntry.objects.get(action="dag.operate", dag=dag)
    assert entry.reason == "the disk is fixed" and entry.detail["operator"] == "RETRY"


def test_acting_needs_the_operator_role_a_reason_and_an_allowed_state():
    dag = make_dag()
    fail_first_stage(dag)
    assert post(logged_in("viewer"), dag, action="retry", reason="x").status_code == 403
    assert post(Client(), dag, action="retry", reason="x").status_code == 401
    missing = post(logged_in("operator"), dag, action="retry", reason="  ")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["message"]
    refused = post(logged_in("operator"), dag, action="cancel", reason="stop it")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Task.Dag.Operator.CancelFinishedDag"
    dag.refresh_from_db()
    assert dag.state == "FAILED"


def test_the_operate_endpoint_checks_csrf():
    dag = make_dag()
    fail_first_stage(dag)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))
    assert post(client, dag, action="retry", reason="x").status_code == 403


def test_a_node_can_be_passed_when_it_allows_it():
    dag = make_dag()
    node = fail_first_stage(dag)
    Node.objects.filter(pk=node.pk).update(can_pass=True)
    response = post(logged_in("operator"), dag, action="pass_node", node_id=node.pk, reason="known flaky check")
    assert response.status_code == 200
    node.refresh_from_db()
    assert (node.state, node.operator) == ("SUCCEED", "PASS")


def test_the_log_downloads_with_every_attempt():
    dag = make_dag()
    sub_task = SubTask.objects.filter(dag=dag).first()
    append_log(sub_task.pk, "first try")
    append_log(sub_task.pk, "[OB.Fail]: no", level="ERROR")
    append_log(sub_task.pk, "undo", phase="rollback")
    append_log(sub_task.pk, "second try", execute_times=2)
    response = logged_in("viewer").get(f"/runs/{dag.pk}/subtasks/{sub_task.pk}/log.txt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    headings = [line for line in text.splitlines() if line.startswith("===")]
    assert headings == ["=== attempt 1 (run) ===", "=== attempt 1 (rollback) ===", "=== attempt 2 (run) ==="]
    assert "ERROR: [OB.Fail]: no" in text
    other = make_dag()
    assert logged_in("viewer").get(f"/runs/{other.pk}/subtasks/{sub_task.pk}/log.txt").status_code == 404


def fail_a_rollback(dag):
    """The rollback of stage 2 failed after stage 3 was rolled back."""
    Node.objects.filter(dag=dag, seq=1).update(state="PENDING", operator="ROLLBACK")
    Node.objects.filter(dag=dag, seq=2).update(state="FAILED", operator="ROLLBACK")
    Node.objects.filter(dag=dag, seq=3).update(state="SUCCEED", operator="ROLLBACK")
    Dag.objects.filter(pk=dag.pk).update(state="FAILED", operator="ROLLBACK", stage=2)


def test_after_a_failed_rollback_the_page_offers_continue_rollback_and_warns_before_retry():
    dag = make_dag()
    fail_a_rollback(dag)
    html = logged_in("operator").get(f"/runs/{dag.pk}/").content.decode()
    assert 'data-action="continue_rollback"' in html
    snapshot = json.loads(html.split('id="run-snapshot" type="application/json">')[1].split("</script>")[0])
    actions = snapshot["actions"]
    assert (actions["retry"], actions["rollback"], actions["continue_rollback"]) == (True, False, True)
    assert actions["retry_leaves_rolled_back"] == [3]


def test_continue_rollback_is_its_own_audited_action():
    dag = make_dag()
    fail_a_rollback(dag)
    response = post(logged_in("operator"), dag, action="continue_rollback", reason="finish undoing")
    assert response.status_code == 200 and response.json() == {"ok": True}
    dag.refresh_from_db()
    assert (dag.state, dag.operator) == ("READY", "ROLLBACK")
    entry = AuditEntry.objects.get(dag=dag)
    assert (entry.action, entry.outcome, entry.reason) == ("dag.continue_rollback", "ok", "finish undoing")

    again = post(logged_in("operator"), dag, action="continue_rollback", reason="twice")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "Task.Dag.Operator.ContinueRollbackNotRollingBack"
