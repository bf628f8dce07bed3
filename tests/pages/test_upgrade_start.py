"""Clicking Upgrade: one DAG and one audit entry, a redirect to the run page; a refusal creates nothing."""

import pytest

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Dag

pytestmark = pytest.mark.django_db


def form_data(target, **overrides):
    data = {
        "package": target.pk,
        "mode": "ROLLING",
        "upgrade_dir": "",
        "freeze_server": "",
        "reason": "CHG-42: bug fixes",
    }
    data.update(overrides)
    return data


def previewed_key(client, cluster, data):
    """Preview first, as the browser does, and return the plan key the page hands to the Upgrade button."""
    html = client.post(f"/clusters/{cluster.name}/", {**data, "action": "preview"}).content.decode()
    marker = 'name="plan_key" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def start(client, cluster, data, key=None):
    key = previewed_key(client, cluster, data) if key is None else key
    return client.post(f"/clusters/{cluster.name}/", {**data, "plan_key": key, "action": "upgrade"})


def test_upgrade_creates_one_dag_audits_and_redirects_to_the_run(client, as_role, cluster, target):
    user = as_role("operator")
    response = start(client, cluster, form_data(target))
    dag = Dag.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/runs/{dag.pk}/"
    assert dag.cluster == cluster and dag.holds_lock
    assert dag.version == "4.2.1.1" and dag.release == "101000012023110109.el7" and dag.mode == "ROLLING"
    assert dag.started_by == user and dag.reason == "CHG-42: bug fixes"
    entry = AuditEntry.objects.get(dag=dag)
    assert entry.actor_user == user and entry.outcome == AuditEntry.Outcome.OK
    assert entry.source_address == "127.0.0.1"


def test_reason_is_required_to_start(client, as_role, cluster, target):
    as_role("operator")
    response = start(client, cluster, form_data(target, reason="  "))
    assert response.status_code == 400
    assert "Say why you are upgrading" in response.content.decode()
    assert Dag.objects.count() == 0


def test_parameters_changed_since_preview_are_shown_again_not_started(client, as_role, cluster, target):
    as_role("operator")
    key = previewed_key(client, cluster, form_data(target))
    response = start(client, cluster, form_data(target, freeze_server="on"), key=key)
    assert response.status_code == 200
    assert "The parameters changed since the preview" in response.content.decode()
    assert Dag.objects.count() == 0


def test_refused_start_shows_err_code_and_creates_no_dag(client, as_role, cluster, target):
    as_role("operator")
    data = form_data(target)
    key = previewed_key(client, cluster, data)
    # Someone else (a script through the API) takes the cluster between the preview and the click.
    holder = start_upgrade(cluster, OB_4_2_1_1_20231101, actor=Actor.system("ci"))
    response = start(client, cluster, data, key=key)
    html = response.content.decode()
    assert response.status_code == 409
    assert "Upgrade refused" in html and "OB.Cluster.UnderMaintenanceWithDag" in html
    assert list(Dag.objects.all()) == [holder]
    refusal = AuditEntry.objects.get(action="upgrade.start", outcome=AuditEntry.Outcome.REFUSED)
    assert refusal.actor_label.startswith("user ")


def test_failed_precheck_refusal_shows_err_code(client, as_role, target):
    small = make_cluster("small", zones=2)
    as_role("operator")
    response = start(client, small, form_data(target))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Upgrade refused" in html
    assert '<strong class="errcode">OB.Upgrade.UnableToRollingUpgrade</strong>' in html
    assert Dag.objects.count() == 0


def test_viewer_cannot_start(client, as_role, cluster, target):
    as_role("viewer")
    response = client.post(f"/clusters/{cluster.name}/", {**form_data(target), "action": "upgrade"})
    assert response.status_code == 403
    assert Dag.objects.count() == 0


def test_start_needs_csrf_token(cluster, target):
    from django.test import Client

    from tests.support.factories import make_user

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))
    response = client.post(f"/clusters/{cluster.name}/", {**form_data(target), "action": "upgrade"})
    assert response.status_code == 403
    assert Dag.objects.count() == 0
