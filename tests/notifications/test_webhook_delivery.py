"""Upgrade events reach a real HTTP receiver, signed: started, succeeded, failed (with the failed stage and the
last log lines) and stalled; a target answering 500 is retried with backoff; a final failure is kept."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.notifications.helpers import SECRET, run_upgrade, signature_ok, subscribe
from tests.support.factories import make_cluster
from tests.support.waiting import wait_until
from upgrades import events
from upgrades.engine import periodic
from upgrades.engine.worker import Worker
from upgrades.models import Delivery
from upgrades.notifications import formats, jobs, outbox, sender


def _worker_loop(stop):
    from django.db import connections

    try:
        Worker(name="notifier", dag_ids=[], stop_event=stop).run_forever()
    finally:
        connections.close_all()


def _bodies(requests):
    return [json.loads(r.body) for r in requests]


@pytest.mark.django_db(transaction=True)
def test_success_failure_and_stall_reach_the_receiver_signed(receiver):
    subscribe(receiver.url("/hook"))
    ok = run_upgrade(make_cluster("good"))
    failed = run_upgrade(make_cluster("bad"), fail_at="Stop zone2")
    assert (ok.state, failed.state) == ("SUCCEED", "FAILED")
    with transaction.atomic():
        node = failed.nodes.get(name="Stop zone2")
        events.emit(
            failed.pk,
            "node.stalled",
            {  # the payload of the durations work's node.stalled (usual durations of that action and size)
                "node_id": node.pk,
                "node_generic_id": node.generic_id,
                "node_name": node.name,
                "node_seq": node.seq,
                "action": node.action,
                "servers": 3,
                "started_at": node.start_time.isoformat(),
                "running_seconds": 95.0,
                "usual_median_seconds": 30.0,
                "usual_p90_seconds": 41.0,
                "usual_samples": 12,
                "usual_size_bucket": "1-10",
            },
        )
    # A worker loop's periodic job queues the deliveries and wakes this process's sender thread.
    periodic.register("notifications", jobs.INTERVAL_SECONDS, jobs.notifications)
    stop = threading.Event()
    worker = threading.Thread(target=_worker_loop, args=(stop,))
    worker.start()
    try:
        requests = receiver.wait_for(5)
        wait_until(lambda: Delivery.objects.filter(state="succeeded").count() == 5, what="5 recorded deliveries")
    finally:
        stop.set()
        worker.join(30)
        jobs.join_sender()
    for request in requests:
        assert signature_ok(SECRET, request.body, request.headers["X-OB-Dashboard-Signature"])
        assert request.headers["Content-Type"].startswith("application/json")
    notes = {(n["cluster"], n["event"]): n for n in _bodies(requests)}
    assert set(notes) == {
        ("good", "upgrade.started"),
        ("good", "upgrade.succeeded"),
        ("bad", "upgrade.started"),
        ("bad", "upgrade.failed"),
        ("bad", "upgrade.stalled"),
    }
    assert notes[("good", "upgrade.succeeded")]["url"] == f"https://dash.example.com/runs/{ok.pk}/"
    failure = notes[("bad", "upgrade.failed")]
    assert failure["failed_node"]["name"] == "Stop zone2"
    assert failure["log_tail"] and any("ERROR" in line for line in failure["log_tail"])
    assert "Stop zone2" in failure["summary"]
    stall = notes[("bad", "upgrade.stalled")]["stalled"]
    assert (stall["node_name"], stall["running_seconds"], stall["median_seconds"]) == ("Stop zone2", 95.0, 30.0)
    assert stall["p90_seconds"] == 41.0 and stall["node_seq"] == node.seq
    assert notes[("bad", "upgrade.stalled")]["summary"].endswith("is stalled at “Stop zone2”")
    text = formats.body_for("email", notes[("bad", "upgrade.stalled")])
    assert "Stage “Stop zone2” has run 95 s, usually 30 s (p90 41 s)" in text
    # The delivery id header is the row's stable id, and every row is recorded as delivered once.
    assert Delivery.objects.filter(state="succeeded", attempts=1).count() == 5
    assert {r.headers["X-OB-Dashboard-Delivery"] for r in requests} == {
        str(u) for u in Delivery.objects.values_list("uuid", flat=True)
    }
    # Another pass finds nothing new: nothing is delivered twice.
    assert outbox.enqueue_new_events() == 0
    assert Delivery.objects.count() == 5


@pytest.mark.django_db
def test_a_500_is_retried_with_backoff_then_succeeds(receiver, settings):
    settings.NOTIFY_RETRY_SECONDS = 10
    subscribe(receiver.url())
    receiver.answers = [(500, b"busy")]
    run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    started = Delivery.objects.get(kind="upgrade.started")
    assert sender.deliver_due() == 2  # started and succeeded; the first answer is the 500
    started.refresh_from_db()
    assert (started.state, started.attempts, started.response_status) == ("pending", 1, 500)
    assert started.response_body == "busy"
    wait = started.next_attempt_at - timezone.now()
    assert timedelta(seconds=8) < wait <= timedelta(seconds=10)
    assert sender.deliver_due() == 0  # not due yet
    Delivery.objects.filter(pk=started.pk).update(next_attempt_at=timezone.now())
    assert sender.deliver_due() == 1
    started.refresh_from_db()
    assert (started.state, started.attempts, started.response_status) == ("succeeded", 2, 200)
    assert [h["status"] for h in started.history] == [500, 200]
    assert len(receiver.requests) == 3
    # Both attempts sent the same signed body.
    first, _, again = receiver.requests
    assert first.body == again.body
    assert signature_ok(SECRET, again.body, again.headers["X-OB-Dashboard-Signature"])


def test_backoff_doubles_up_to_an_hour(settings):
    settings.NOTIFY_RETRY_SECONDS = 10
    assert [sender.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert sender.backoff(30).total_seconds() == 3600


@pytest.mark.django_db
def test_a_delivery_that_keeps_failing_ends_failed_and_is_kept(receiver, settings):
    settings.NOTIFY_RETRY_SECONDS = 0
    settings.NOTIFY_MAX_ATTEMPTS = 3
    receiver.default_answer = (503, b"down")
    subscribe(receiver.url(), events=["upgrade.succeeded"])
    run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    for _ in range(5):
        sender.deliver_due()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("failed", 3, 503)
    assert delivery.last_error == "HTTP 503" and delivery.finished_at is not None
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_a_client_error_is_not_retried_and_a_redirect_not_followed(receiver, settings):
    settings.NOTIFY_RETRY_SECONDS = 60
    subscribe(receiver.url(), events=["upgrade.started", "upgrade.succeeded"])
    receiver.answers = [(404, b"no such hook"), (302, b"")]
    run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    assert sender.deliver_due() == 2
    started, succeeded = Delivery.objects.order_by("event_seq")
    assert (started.state, started.attempts, started.last_error) == ("failed", 1, "HTTP 404")
    assert succeeded.response_status == 302 and "not followed" in succeeded.last_error
    assert succeeded.state == "pending"  # a redirect may be a transient misconfiguration: retried
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_a_sender_that_died_mid_request_sends_again_when_its_claim_expires(receiver):
    subscribe(receiver.url(), events=["upgrade.succeeded"])
    run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    delivery = Delivery.objects.get()
    assert sender.claim(delivery.pk) is not None  # claimed, then the process died before recording
    assert sender.deliver_due() == 0
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert sender.deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"
    assert receiver.requests[0].headers["X-OB-Dashboard-Delivery"] == str(delivery.uuid)
