"""The SSRF guard: private, loopback, link-local, multicast, reserved and unspecified targets (IPv4, IPv6 and
IPv4 inside IPv6) are refused unless WEBHOOK_ALLOW_PRIVATE=1, when a subscription is saved and again at each
delivery against the address actually connected to (a DNS answer that changes is caught)."""

import ipaddress

import pytest

from tests.notifications.helpers import ADMIN, run_upgrade, subscribe
from tests.support.factories import make_cluster
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Delivery, Subscription
from upgrades.notifications import net, outbox, sender
from upgrades.services.notifications import subscription_create

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "100.64.0.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",
    "64:ff9b::a9fe:a9fe",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_inside_addresses_are_refused(address):
    assert net.address_refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert net.address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0x7f000001/",
        "ftp://example.com/hook",
        "http://user:pw@93.184.216.34/hook",
        "https:///nohost",
    ],
)
@pytest.mark.django_db
def test_subscriptions_to_inside_or_malformed_targets_are_refused_and_audited(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ObshellError) as refused:
        subscription_create(actor=ADMIN, name="x", format="generic", target=url, secret="k")
    assert refused.value.err_code == "Notification.Target.Refused"
    assert not Subscription.objects.exists()
    entry = AuditEntry.objects.get(action="subscription.create")
    assert entry.outcome == "refused"
    assert "pw" not in str(entry.detail) and "meta-data" not in str(entry.detail)


@pytest.mark.django_db
def test_allow_private_lets_an_inside_target_through(settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    port = receiver.server.server_address[1]
    assert subscribe(receiver.url()).target_display == f"http://127.0.0.1:{port}/…"


@pytest.mark.django_db
def test_a_host_that_rebinds_to_an_inside_address_is_refused_at_delivery(settings, receiver, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    port = receiver.server.server_address[1]
    answers = {"hook.example.com": ["93.184.216.34"]}
    monkeypatch.setattr(net, "getaddrinfo", lambda host, port: answers[host])
    subscribe(f"http://hook.example.com:{port}/hook", events=["upgrade.succeeded"])
    answers["hook.example.com"] = ["127.0.0.1"]  # the name now points inside
    run_upgrade(make_cluster())
    outbox.enqueue_new_events()
    assert sender.deliver_due() == 1
    delivery = Delivery.objects.get()
    assert delivery.state == "failed" and delivery.attempts == 1  # refused: never retried
    assert "127.0.0.1" in delivery.last_error and "loopback" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_mixed_dns_answer_is_refused_whole(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(net, "getaddrinfo", lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(net.TargetRefused, match="10.0.0.7"):
        net.check_url("https://hook.example.com/x")


def test_redacted_urls_keep_only_scheme_host_and_port():
    assert net.redacted("https://hooks.slack.com/services/T0/B0/XXXX") == "https://hooks.slack.com/…"
    assert net.redacted("https://oapi.dingtalk.com/robot/send?access_token=abc") == "https://oapi.dingtalk.com/…"
    assert net.redacted("http://[::1]:8080/") == "http://[::1]:8080/"


@pytest.mark.django_db
def test_a_large_answer_is_read_only_up_to_the_cap(receiver):
    receiver.default_answer = (200, b"x" * (net.MAX_RESPONSE_BYTES * 3))
    answer = net.post(receiver.url(), b"{}", {"Content-Type": "application/json"})
    assert answer.status == 200 and answer.truncated and len(answer.body) == net.MAX_RESPONSE_BYTES


@pytest.mark.django_db
def test_a_silent_target_times_out_within_the_bound():
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        started = time.monotonic()
        with pytest.raises(net.SendFailed):
            net.post(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {}, timeout=1)
        assert time.monotonic() - started < 5
    finally:
        listener.close()
