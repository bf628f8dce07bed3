"""Approvals: which clusters are production (APPROVAL_LABELS), who may approve (not the requester, not a viewer,
not a token), Approval records (one decision per subject, audited), and upgrade requests: a production
cluster's Upgrade click from the pages waits for a second person, who starts it through the ordinary start
service (same run, same audit) or refuses it; the API is not gated."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from tests.api.helpers import Api
from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.models import Approval, AuditEntry, Dag, UpgradeRequest
from upgrades.security.tokens import token_create
from upgrades.services.approvals import (
    ApprovalRefused,
    approval_for,
    approval_record,
    check_approver,
    production_cluster_ids,
    production_labels,
    requires_approval,
)
from upgrades.services.labels import label_set
from upgrades.services.upgrade_requests import (
    pending_request,
    upgrade_request_approve,
    upgrade_request_create,
    upgrade_request_refuse,
    upgrade_request_start,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
TARGET = {"version": "4.2.1.1", "release": "101000012023110109.el7", "mode": "ROLLING"}


@pytest.fixture
def prod(db):
    cluster = make_cluster("prod1")
    label_set(cluster=cluster, key="env", value="prod", actor=SYSTEM)
    return cluster


def actor(user):
    return Actor.for_user(user)


# --- the rule ----------------------------------------------------------------------------------------------------


def test_production_is_env_prod_or_production(prod, settings):
    production = make_cluster("prod2")
    label_set(cluster=production, key="env", value="production", actor=SYSTEM)
    staging = make_cluster("stage1")
    label_set(cluster=staging, key="env", value="staging", actor=SYSTEM)
    bare = make_cluster("bare1")
    assert production_cluster_ids([prod.pk, production.pk, staging.pk, bare.pk]) == {prod.pk, production.pk}
    assert requires_approval([prod]) and requires_approval([bare, production])
    assert not requires_approval([staging, bare]) and not requires_approval([])
    assert production_labels(prod) == ["env=prod"] and production_labels(bare) == []
    settings.APPROVAL_LABELS = ["tier=critical"]
    assert not requires_approval([prod])
    label_set(cluster=bare, key="tier", value="critical", actor=SYSTEM)
    assert requires_approval(type(bare).objects.all())
    settings.APPROVAL_LABELS = []
    assert not requires_approval([bare]) and production_labels(bare) == []
    settings.APPROVAL_LABELS = ["env"]
    with pytest.raises(ImproperlyConfigured, match="APPROVAL_LABELS: .*key=value"):
        requires_approval([bare])


def test_check_approver():
    alice, bob, vic = make_user("operator"), make_user("admin"), make_user("viewer")
    check_approver(approver=bob, requester=alice)
    check_approver(approver=alice, requester=bob)
    check_approver(approver=alice, requester=None)
    with pytest.raises(ApprovalRefused, match="a second person") as refused:
        check_approver(approver=alice, requester=alice)
    assert refused.value.status == 403 and refused.value.err_code == "Common.PermissionDenied"
    with pytest.raises(ApprovalRefused, match="needs the operator or admin role; .* has viewer"):
        check_approver(approver=vic, requester=alice)
    with pytest.raises(ApprovalRefused, match="signed-in"):
        check_approver(approver=None, requester=alice)


def test_approval_record_once_per_subject_and_audited(prod):
    alice, bob = make_user("operator"), make_user("operator")
    with pytest.raises(ApprovalRefused, match="a second person"):
        approval_record(subject_type="campaign", subject_id=7, decision="approved", actor=actor(alice), requester=alice)
    approval = approval_record(
        subject_type="campaign",
        subject_id=7,
        decision="approved",
        actor=actor(bob),
        requester=alice,
        cluster=prod,
        reason="ticket OK",
    )
    assert approval_for(subject_type="campaign", subject_id=7) == approval
    assert (approval.decided_by, approval.requested_by, approval.reason) == (bob, alice, "ticket OK")
    with pytest.raises(ApprovalRefused, match="already approved by user") as again:
        approval_record(subject_type="campaign", subject_id=7, decision="refused", actor=actor(bob), requester=alice)
    assert again.value.status == 409
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.APPROVAL_RECORD).order_by("id")
    assert [(e.outcome, e.actor_user) for e in entries] == [("refused", alice), ("ok", bob), ("refused", bob)]
    assert entries[1].detail == {"subject": "campaign", "subject_id": 7, "decision": "approved"}
    assert approval_for(subject_type="campaign", subject_id=8) is None


def test_the_requester_may_refuse_a_viewer_may_not(prod):
    alice, vic = make_user("operator"), make_user("viewer")
    with pytest.raises(ApprovalRefused, match="Refusing needs"):
        approval_record(subject_type="campaign", subject_id=1, decision="refused", actor=actor(vic), requester=alice)
    withdrawn = approval_record(
        subject_type="campaign", subject_id=1, decision="refused", actor=actor(alice), requester=alice
    )
    assert withdrawn.decision == Approval.Decision.REFUSED


# --- upgrade requests (services) --------------------------------------------------------------------------------


@pytest.fixture
def packages(db):
    return stock_packages(OB_4_2_1_1_20231101)


def test_request_approved_by_a_second_person_starts_an_ordinary_run(prod, packages):
    alice, bob = make_user("operator"), make_user("admin")
    request = upgrade_request_create(cluster=prod, actor=actor(alice), reason="CHG-7", **TARGET)
    assert pending_request(prod) == request and request.state == "pending"
    with pytest.raises(ApprovalRefused, match="a second person"):
        upgrade_request_approve(request=request, actor=actor(alice))
    assert not Dag.objects.exists()
    request = upgrade_request_approve(request=request, actor=actor(bob), reason="looked fine")
    dag = Dag.objects.get()
    assert request.state == "started" and request.dag == dag and request.decided_by_label == f"user {bob.username}"
    assert dag.started_by == bob and dag.version == "4.2.1.1" and dag.mode == "ROLLING"
    assert dag.reason == f"CHG-7 (asked by {alice.username}, approved by {bob.username}: request {request.pk})"
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "outcome", "actor_user"))
    assert actions[-4:] == [
        ("upgrade_request.create", "ok", alice.pk),
        ("upgrade_request.approve", "refused", alice.pk),
        ("upgrade_request.approve", "ok", bob.pk),
        ("upgrade.start", "ok", bob.pk),
    ]
    assert Approval.objects.get().subject_type == "upgrade_request"
    with pytest.raises(ApprovalRefused, match="is started"):
        upgrade_request_approve(request=request, actor=actor(bob))
    with pytest.raises(ApprovalRefused, match="only an approved one can start"):
        upgrade_request_start(request=request, actor=actor(bob))


def test_refused_request_starts_nothing(prod, packages):
    alice, bob = make_user("operator"), make_user("operator")
    request = upgrade_request_create(cluster=prod, actor=actor(alice), reason="CHG-8", **TARGET)
    request = upgrade_request_refuse(request=request, actor=actor(bob), reason="freeze week")
    assert request.state == "refused" and request.decision_reason == "freeze week"
    assert not Dag.objects.exists() and pending_request(prod) is None
    with pytest.raises(ApprovalRefused, match="is refused"):
        upgrade_request_approve(request=request, actor=actor(bob))
    assert AuditEntry.objects.filter(action="upgrade_request.refuse", outcome="ok").count() == 1


def test_one_pending_request_per_cluster(prod, packages):
    alice, bob = make_user("operator"), make_user("operator")
    upgrade_request_create(cluster=prod, actor=actor(alice), reason="one", **TARGET)
    with pytest.raises(ObshellError, match="already waits for approval"):
        upgrade_request_create(cluster=prod, actor=actor(bob), reason="two", **TARGET)
    assert UpgradeRequest.objects.count() == 1


def test_viewers_and_tokens_cannot_ask(prod, packages):
    with pytest.raises(ObshellError, match="needs the operator role"):
        upgrade_request_create(cluster=prod, actor=actor(make_user("viewer")), reason="x", **TARGET)
    with pytest.raises(ObshellError, match="signed-in"):
        upgrade_request_create(cluster=prod, actor=SYSTEM, reason="x", **TARGET)
    with pytest.raises(ObshellError, match="needs a reason"):
        upgrade_request_create(cluster=prod, actor=actor(make_user("operator")), reason=" ", **TARGET)
    assert not UpgradeRequest.objects.exists()


def test_expired_request_cannot_be_approved_and_frees_the_cluster(prod, packages, settings):
    alice, bob = make_user("operator"), make_user("operator")
    request = upgrade_request_create(cluster=prod, actor=actor(alice), reason="old", **TARGET)
    UpgradeRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert pending_request(prod) is None
    with pytest.raises(ApprovalRefused, match="is expired"):
        upgrade_request_approve(request=request, actor=actor(bob))
    request.refresh_from_db()
    assert request.state == "expired" and not Dag.objects.exists()
    assert upgrade_request_create(cluster=prod, actor=actor(alice), reason="again", **TARGET).state == "pending"


def test_a_refused_start_stays_approved_and_can_be_started_later(prod, packages):
    alice, bob = make_user("operator"), make_user("operator")
    request = upgrade_request_create(
        cluster=prod, actor=actor(alice), reason="CHG-9", **{**TARGET, "version": "9.9.9.9", "release": "1.el7"}
    )
    request = upgrade_request_approve(request=request, actor=actor(bob))
    assert request.state == "approved" and request.dag is None and request.start_error
    assert not Dag.objects.exists()
    assert AuditEntry.objects.filter(action="upgrade.start", outcome="refused").count() == 1
    UpgradeRequest.objects.filter(pk=request.pk).update(version=TARGET["version"], release=TARGET["release"])
    request.refresh_from_db()
    request = upgrade_request_start(request=request, actor=actor(alice))
    assert request.state == "started" and request.dag == Dag.objects.get() and request.start_error == ""


# --- pages -------------------------------------------------------------------------------------------------------


def form_data(target, **overrides):
    return {
        "package": target.pk,
        "mode": "ROLLING",
        "upgrade_dir": "",
        "freeze_server": "",
        "reason": "CHG-42",
        **overrides,
    }


def click_upgrade(client, cluster, data):
    html = client.post(f"/clusters/{cluster.name}/", {**data, "action": "preview"}).content.decode()
    marker = 'name="plan_key" value="'
    start = html.index(marker) + len(marker)
    key = html[start : html.index('"', start)]
    assert "is production (env=prod)" in html and "data-needs-approval" in html
    return client.post(f"/clusters/{cluster.name}/", {**data, "plan_key": key, "action": "upgrade"})


def test_upgrade_click_on_production_creates_a_request(client, as_role, prod, packages):
    alice = as_role("operator")
    response = click_upgrade(client, prod, form_data(packages))
    assert response.status_code == 302 and response["Location"] == f"/clusters/{prod.name}/#requests"
    assert not Dag.objects.exists()
    request = UpgradeRequest.objects.get()
    assert (request.requested_by, request.state, request.version, request.mode) == (
        alice,
        "pending",
        "4.2.1.1",
        "ROLLING",
    )
    html = client.get(f"/clusters/{prod.name}/").content.decode()
    assert "waits for another operator or an admin to approve it" in html
    assert 'data-request-state="pending"' in html and "Waiting for approval" in html and "data-own-request" in html
    assert "data-approve" not in html and "data-withdraw" in html
    # The requester's own approval is refused with a clear message.
    client.post(f"/clusters/{prod.name}/requests/{request.pk}/approve/")
    html = client.get(f"/clusters/{prod.name}/").content.decode()
    assert "Not approved: You asked for this yourself: a second person" in html
    assert not Dag.objects.exists()


def test_second_operator_approves_and_lands_on_the_run(client, as_role, prod, packages):
    as_role("operator")
    click_upgrade(client, prod, form_data(packages))
    request = UpgradeRequest.objects.get()
    bob = as_role("operator")
    html = client.get(f"/clusters/{prod.name}/").content.decode()
    assert "data-approve" in html and "data-refuse" in html
    response = client.post(f"/clusters/{prod.name}/requests/{request.pk}/approve/", {"reason": "ok"})
    dag = Dag.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{dag.pk}/"
    assert dag.started_by == bob
    html = client.get(f"/clusters/{prod.name}/").content.decode()
    assert 'data-request-state="started"' in html and dag.generic_id in html


def test_second_operator_refuses(client, as_role, prod, packages):
    as_role("operator")
    click_upgrade(client, prod, form_data(packages))
    request = UpgradeRequest.objects.get()
    as_role("admin")
    client.post(f"/clusters/{prod.name}/requests/{request.pk}/refuse/", {"reason": "not this week"})
    html = client.get(f"/clusters/{prod.name}/").content.decode()
    assert "Upgrade request refused: nothing was started." in html
    assert 'data-request-state="refused"' in html and "not this week" in html
    assert not Dag.objects.exists()


def test_viewer_sees_the_request_but_cannot_act(client, as_role, prod, packages):
    upgrade_request_create(cluster=prod, actor=actor(make_user("operator")), reason="CHG", **TARGET)
    request = UpgradeRequest.objects.get()
    as_role("viewer")
    html = client.get(f"/clusters/{prod.name}/").content.decode()
    assert "Waiting for approval" in html and "Approving needs the operator role" in html
    assert client.post(f"/clusters/{prod.name}/requests/{request.pk}/approve/").status_code == 403
    assert UpgradeRequest.objects.get().state == "pending"


def test_a_cluster_that_is_not_production_starts_at_once(client, as_role, packages):
    cluster = make_cluster("plain1")
    as_role("operator")
    html = client.post(f"/clusters/{cluster.name}/", {**form_data(packages), "action": "preview"}).content.decode()
    assert "data-needs-approval" not in html and 'id="requests"' not in html


def test_the_api_is_not_gated(client, prod, packages):
    """POST /api/v1/ob/upgrade on a production cluster starts the run at once (obshell's contract)."""
    _, secret = token_create(cluster=prod, label="ci")
    response = Api(client, secret).post("/api/v1/ob/upgrade", {**TARGET, "upgradeDir": None})
    assert response.status_code == 200, response.content
    assert Dag.objects.filter(cluster=prod).count() == 1 and not UpgradeRequest.objects.exists()
