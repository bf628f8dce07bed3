"""Every page read needs the viewer role (issue 9): a signed-in user without a role used to open run pages and
sub-task logs (which name who started a run and why). Every route of dashboard/pages is listed here, so a new
page must be added to this test: reads are refused (403) to a user without a role and served to a viewer;
writes are refused to a user without a role; the public routes are only the sign-in ones."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern

from dashboard.pages.urls import urlpatterns
from tests.live.helpers import append_log, make_dag
from tests.support.factories import make_user
from upgrades.models import AuditEntry, SubTask
from upgrades.security.tokens import token_create

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "login_link", "logout"}
# Pages only admins read (the viewer is refused like a user without a role).
ADMIN_READS = {"workers": "/workers/", "notifications": "/notifications/", "register_cluster": "/register-cluster/"}


@pytest.fixture
def world():
    dag = make_dag()
    cluster = dag.cluster
    sub_task = SubTask.objects.filter(dag=dag).first()
    append_log(sub_task.pk, "started by op: quarterly patch")
    token, _ = token_create(cluster=cluster, label="ci")
    c, d = cluster.name, dag.pk
    reads = {
        "clusters": "/",
        "cluster": f"/clusters/{c}/",
        "counters": "/counters/",
        "runs": "/runs/",
        "run": f"/runs/{d}/",
        "run_sub_task_log": f"/runs/{d}/subtasks/{sub_task.pk}/log.txt",
        "packages": "/packages/",
        "audit": "/audit/",
    }
    exports = ["/runs/?format=csv", "/audit/?format=csv"]
    writes = {
        "cluster": (f"/clusters/{c}/", {"action": "preview"}),
        "cluster_agent_upgrade": (f"/clusters/{c}/obshell/", {"action": "preview"}),
        "token_create": (f"/clusters/{c}/tokens/", {"label": "x"}),
        "token_revoke": (f"/clusters/{c}/tokens/{token.pk}/revoke/", {}),
        "cluster_label_set": (f"/clusters/{c}/labels/", {"key": "env", "value": "prod"}),
        "cluster_label_remove": (f"/clusters/{c}/labels/remove/", {"key": "env"}),
        "cluster_window_add": (f"/clusters/{c}/windows/", {"window": "daily 01:00-02:00 UTC"}),
        "cluster_window_remove": (f"/clusters/{c}/windows/1/remove/", {}),
        "upgrade_request_approve": (f"/clusters/{c}/requests/1/approve/", {}),
        "upgrade_request_refuse": (f"/clusters/{c}/requests/1/refuse/", {}),
        "upgrade_request_start": (f"/clusters/{c}/requests/1/start/", {}),
        "fault_arm": (f"/clusters/{c}/faults/", {}),
        "fault_disarm": (f"/clusters/{c}/faults/1/disarm/", {}),
        "hint_dismiss": ("/hints/first-upgrade/dismiss/", {}),
        "run_operate": (f"/runs/{d}/operate/", {"action": "cancel", "reason": "x"}),
        "package_upload": ("/packages/upload/", {}),
        "package_delete": ("/packages/1/delete/", {}),
        "notifications": ("/notifications/", {"name": "x"}),
        "notification": ("/notifications/1/", {"name": "x"}),
        "notification_toggle": ("/notifications/1/toggle/", {"enabled": "0"}),
        "notification_test": ("/notifications/1/test/", {}),
        "notification_delete": ("/notifications/1/delete/", {}),
        "cluster_refresh": (f"/clusters/{c}/refresh/", {}),
        "cluster_password": (f"/clusters/{c}/password/", {"password": "x"}),
        "cluster_key_confirm": (f"/clusters/{c}/agent-key/", {"reason": "x"}),
    }
    return {"reads": reads, "exports": exports, "writes": writes, "dag": dag}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def no_role_user():
    return User.objects.create_user(username="nobody", password="correct-horse-battery")


def test_every_page_route_is_covered(world):
    names = {pattern.name for pattern in urlpatterns if isinstance(pattern, URLPattern)}
    assert names == PUBLIC | set(world["reads"]) | set(world["writes"]) | set(ADMIN_READS)


def test_admin_pages_are_refused_below_admin(world):
    anonymous = Client()
    for role_client in (client_for(no_role_user()), client_for(make_user("viewer")), client_for(make_user("operator"))):
        for name, url in ADMIN_READS.items():
            assert role_client.get(url).status_code == 403, (name, url)
    for name, url in ADMIN_READS.items():
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], (name, url)
        assert client_for(make_user("admin")).get(url).status_code == 200, (name, url)


def test_a_user_without_a_role_reads_nothing(world):
    nobody = client_for(no_role_user())
    for name, url in world["reads"].items():
        response = nobody.get(url)
        assert response.status_code == 403, (name, url, response.status_code)
        assert b"quarterly patch" not in response.content
    for url in world["exports"]:
        assert nobody.get(url).status_code == 403, url


def test_a_user_without_a_role_changes_nothing(world):
    nobody = client_for(no_role_user())
    before = AuditEntry.objects.count()
    for name, (url, data) in world["writes"].items():
        response = nobody.post(url, data)
        assert response.status_code in (401, 403), (name, url, response.status_code)
    assert AuditEntry.objects.count() == before
    world["dag"].refresh_from_db()
    assert world["dag"].state == "READY"


def test_an_anonymous_visitor_is_sent_to_sign_in(world):
    anonymous = Client()
    for name, url in world["reads"].items():
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], (name, url)


def test_a_viewer_reads_everything(world):
    viewer = client_for(make_user("viewer"))
    for name, url in world["reads"].items():
        assert viewer.get(url).status_code == 200, (name, url)
    for url in world["exports"]:
        assert viewer.get(url).status_code == 200, url
    log = viewer.get(world["reads"]["run_sub_task_log"])
    assert b"quarterly patch" in log.content


def test_the_api_refuses_a_session_without_a_role(world):
    nobody = client_for(no_role_user())
    response = nobody.get(f"/clusters/{world['dag'].cluster.name}/api/v1/ob/info")
    assert response.status_code == 401
    assert response.json()["error"]["errCode"] == "Security.User.PermissionDenied"
