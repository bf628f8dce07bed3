"""Which events notify whom, exactly once: per-DAG cursors in one transaction (a pass that dies leaves nothing
and the next one does it all), clusters and events chosen per subscription, nothing from before a subscription
was created or enabled, and cancel and rollback told as such."""

import pytest
from django.db import transaction

from tests.notifications.helpers import ADMIN, run_upgrade, subscribe
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Delivery, NotificationCursor
from upgrades.notifications import outbox
from upgrades.services.dag_operators import dag_operate
from upgrades.services.notifications import subscription_update


def _kinds(subscription=None):
    rows = Delivery.objects.order_by("dag_id", "event_seq")
    if subscription is not None:
        rows = rows.filter(subscription=subscription)
    return [(d.dag_id, d.kind) for d in rows]


@pytest.mark.django_db
def test_a_pass_that_dies_midway_leaves_nothing_and_the_next_delivers_once(receiver, monkeypatch):
    subscribe(receiver.url())
    dag = run_upgrade(make_cluster())
    real = Delivery.objects.bulk_create

    def crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(Delivery.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        outbox.enqueue_new_events()
    assert not Delivery.objects.exists() and not NotificationCursor.objects.exists()
    monkeypatch.undo()
    outbox.enqueue_new_events()
    outbox.enqueue_new_events()
    assert _kinds() == [(dag.pk, "upgrade.started"), (dag.pk, "upgrade.succeeded")]
    assert NotificationCursor.objects.get(dag=dag).seq == dag.last_seq


@pytest.mark.django_db
def test_overlapping_passes_insert_each_delivery_once(receiver):
    subscribe(receiver.url())
    run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    NotificationCursor.objects.all().delete()  # a second runner that read the old cursors
    outbox.enqueue_new_events()
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
def test_clusters_and_events_are_chosen_per_subscription(receiver):
    alpha, beta = make_cluster("alpha"), make_cluster("beta")
    everything = subscribe(receiver.url(), name="all")
    only_beta_failures = subscribe(receiver.url(), name="beta", clusters=[beta], events=["upgrade.failed"])
    ok = run_upgrade(alpha)
    failed = run_upgrade(beta, fail_at="Stop zone3")
    outbox.enqueue_new_events()
    assert _kinds(only_beta_failures) == [(failed.pk, "upgrade.failed")]
    assert _kinds(everything) == [
        (ok.pk, "upgrade.started"),
        (ok.pk, "upgrade.succeeded"),
        (failed.pk, "upgrade.started"),
        (failed.pk, "upgrade.failed"),
    ]


@pytest.mark.django_db
def test_nothing_from_before_a_subscription_existed_or_while_it_was_disabled(receiver):
    cluster = make_cluster()
    run_upgrade(cluster)
    subscription = subscribe(receiver.url())
    outbox.enqueue_new_events()
    assert not Delivery.objects.exists()
    subscription_update(subscription=subscription, actor=ADMIN, enabled=False)
    second = run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    assert not Delivery.objects.exists()
    subscription_update(subscription=subscription, actor=ADMIN, enabled=True)
    outbox.enqueue_new_events()
    assert not Delivery.objects.exists()
    third = run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    assert {d for d, _ in _kinds()} == {third.pk} and second.pk != third.pk


@pytest.mark.django_db
def test_cancel_and_rollback_are_told_as_such_and_a_retry_that_fails_again_notifies_again(receiver):
    subscribe(receiver.url())
    stock_packages(TARGET)
    cancelled = dag_operate(dag=start_upgrade(make_cluster(), TARGET), operator="CANCEL", actor=ADMIN, reason="no")
    rolled = run_upgrade(make_cluster(), fail_at="Unpack all required packages")
    dag_operate(dag=rolled, operator="ROLLBACK", actor=ADMIN, reason="back")
    assert run_dag_to_end(rolled.pk).state == "SUCCEED"
    retried = run_upgrade(make_cluster(), fail_at="Stop zone2")
    outbox.enqueue_new_events()  # the first failure is read before the retry
    from upgrades.backends.faults import fault_inject

    fault_inject(cluster=retried.cluster, node_name="Stop zone2", server=None, kind="fail", times=1)
    dag_operate(dag=retried, operator="RETRY", actor=ADMIN, reason="again")
    assert run_dag_to_end(retried.pk).state == "FAILED"
    outbox.enqueue_new_events()
    by_dag = {}
    for dag_id, kind in _kinds():
        by_dag.setdefault(dag_id, []).append(kind)
    assert by_dag[cancelled.pk] == ["upgrade.started", "upgrade.cancelled"]
    assert by_dag[rolled.pk] == ["upgrade.started", "upgrade.failed", "upgrade.rolled_back"]
    assert by_dag[retried.pk] == ["upgrade.started", "upgrade.failed", "upgrade.failed"]


@pytest.mark.django_db
def test_a_dag_update_that_keeps_its_state_does_not_notify_again(receiver):
    from upgrades.events import emit_dag

    subscribe(receiver.url())
    dag = run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    with transaction.atomic():
        emit_dag(dag)  # another dag.updated, still SUCCEED
    outbox.enqueue_new_events()
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
def test_without_subscriptions_a_pass_costs_one_query(django_assert_num_queries):
    run_upgrade(make_cluster())
    with django_assert_num_queries(1):
        assert outbox.enqueue_new_events() == 0
