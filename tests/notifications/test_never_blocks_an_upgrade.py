"""Delivery never blocks or fails an upgrade: with a target that accepts the connection and never answers, the
worker that runs the notifications job finishes the upgrade while the message is still in flight in the sender
thread; the message then fails on its timeout and is retried like any other."""

import socket

import pytest

from tests.notifications.helpers import run_upgrade, subscribe
from tests.support.factories import make_cluster
from tests.support.waiting import wait_until
from upgrades.engine import periodic
from upgrades.models import Delivery
from upgrades.notifications import jobs


@pytest.mark.django_db(transaction=True)
def test_a_silent_target_does_not_hold_up_the_upgrade(settings):
    settings.NOTIFY_TIMEOUT_SECONDS = 60
    settings.NOTIFY_RETRY_SECONDS = 60
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts; nobody ever reads or answers
    try:
        subscribe(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", events=["upgrade.started"])
        periodic.register("notifications", jobs.INTERVAL_SECONDS, jobs.notifications)  # the runner runs it
        dag = run_upgrade(make_cluster())
        assert dag.state == "SUCCEED"
        delivery = wait_until(lambda: Delivery.objects.filter(state="sending").first(), what="the message in flight")
        assert delivery.kind == "upgrade.started" and delivery.attempts == 0
    finally:
        listener.close()  # the sender's connection is reset: its attempt ends now, not after 60 s
        jobs.join_sender()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 1) and delivery.last_error
