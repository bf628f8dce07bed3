"""Five operators approving one upgrade request at the same moment start exactly one run: the request row lock
decides who records the approval, and everyone else is told it was already decided (PostgreSQL)."""

import threading

import pytest
from django.db import connections

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.models import Approval, Dag, UpgradeRequest
from upgrades.services.labels import label_set
from upgrades.services.upgrade_requests import upgrade_request_approve, upgrade_request_create

APPROVERS = 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_start_one_run():
    cluster = make_cluster("prod1")
    label_set(cluster=cluster, key="env", value="prod", actor=Actor.system("test"))
    stock_packages(OB_4_2_1_1_20231101)
    requester = make_user("operator")
    request = upgrade_request_create(
        cluster=cluster,
        version="4.2.1.1",
        release="101000012023110109.el7",
        mode="ROLLING",
        actor=Actor.for_user(requester),
        reason="CHG-1",
    )
    approvers = [make_user("operator") for _ in range(APPROVERS)]
    barrier = threading.Barrier(APPROVERS)
    results = [None] * APPROVERS

    def approve(index):
        try:
            barrier.wait(timeout=30)
            results[index] = upgrade_request_approve(request=request, actor=Actor.for_user(approvers[index]))
        except ObshellError as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(APPROVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    won = [r for r in results if isinstance(r, UpgradeRequest)]
    lost = [r for r in results if isinstance(r, ObshellError)]
    assert len(won) == 1 and len(lost) == APPROVERS - 1
    assert all("only a pending one can be decided" in error.message for error in lost)
    assert Dag.objects.count() == 1 and Approval.objects.count() == 1
    assert UpgradeRequest.objects.get().state == "started"
