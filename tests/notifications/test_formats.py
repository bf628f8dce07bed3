"""Each format as its platform documents it: DingTalk's and Feishu's robot signatures (recomputed here from
their documentation, not from the product's code), their own error codes, Slack's message, and email through
Django's backend."""

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import quote_plus

import pytest
from django.core import mail

from tests.notifications.helpers import run_upgrade, subscribe
from tests.support.factories import make_cluster
from upgrades.models import Delivery
from upgrades.notifications import outbox, sender

SECRET = "SECabc123-robot-secret"


def _send_all():
    outbox.enqueue_new_events()
    return sender.deliver_due()


@pytest.mark.django_db
def test_dingtalk_robot_gets_a_markdown_message_signed_in_the_query(receiver):
    receiver.default_answer = (200, b'{"errcode":0,"errmsg":"ok"}')
    subscribe(
        receiver.url("/robot/send?access_token=tok"), format="dingtalk", secret=SECRET, events=["upgrade.succeeded"]
    )
    before = int(time.time() * 1000)
    dag = run_upgrade(make_cluster("ding"))
    assert _send_all() == 1
    request = receiver.requests[0]
    assert request.query["access_token"] == ["tok"]
    timestamp = request.query["timestamp"][0]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    # DingTalk's documented scheme: HmacSHA256(key=secret, message=timestamp + "\n" + secret), base64, urlencoded.
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert request.query["sign"] == [base64.b64encode(digest).decode()]  # parse_qs undid the URL encoding
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown"
    assert "ding" in body["markdown"]["title"] and f"/runs/{dag.pk}/" in body["markdown"]["text"]
    assert Delivery.objects.get().state == "succeeded"


def test_dingtalk_sign_is_url_encoded_in_the_query():
    from upgrades.notifications import formats

    request = formats.webhook_request(
        "dingtalk",
        url="https://oapi.example.com/robot/send?access_token=t",
        body="{}",
        secret=SECRET,
        event="upgrade.failed",
        delivery_id="d",
        now=1700000000.5,
    )
    digest = hmac.new(SECRET.encode(), f"1700000000500\n{SECRET}".encode(), hashlib.sha256).digest()
    expected = quote_plus(base64.b64encode(digest).decode())
    assert request.url == f"https://oapi.example.com/robot/send?access_token=t&timestamp=1700000000500&sign={expected}"


@pytest.mark.django_db
def test_feishu_bot_gets_timestamp_and_sign_in_the_body(receiver):
    receiver.default_answer = (200, b'{"code":0,"data":{},"msg":"success"}')
    subscribe(receiver.url("/open-apis/bot/v2/hook/uuid"), format="feishu", secret=SECRET, events=["upgrade.succeeded"])
    dag = run_upgrade(make_cluster("fei"))
    assert _send_all() == 1
    body = json.loads(receiver.requests[0].body)
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - time.time()) < 60  # seconds, not milliseconds
    # Feishu's documented scheme: timestamp + "\n" + secret is the HMAC-SHA256 key over an empty message, base64.
    digest = hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(digest).decode()
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert "fei" in post["title"]
    links = [item for line in post["content"] for item in line if item["tag"] == "a"]
    assert links == [{"tag": "a", "text": "Open the run", "href": f"https://dash.example.com/runs/{dag.pk}/"}]
    delivery = Delivery.objects.get()
    assert delivery.state == "succeeded"
    assert json.loads(delivery.request_body)["sign"] == body["sign"]  # the stored body is the exact one sent


@pytest.mark.django_db
@pytest.mark.parametrize(
    "format, answer, problem",
    [
        ("dingtalk", b'{"errcode":310000,"errmsg":"sign not match"}', "DingTalk errcode 310000: sign not match"),
        ("feishu", b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}', "Feishu code 19021"),
    ],
)
def test_a_robot_refusal_inside_a_200_is_a_failed_attempt(receiver, settings, format, answer, problem):
    settings.NOTIFY_RETRY_SECONDS = 60
    receiver.default_answer = (200, answer)
    subscribe(receiver.url(), format=format, secret=SECRET, events=["upgrade.succeeded"])
    run_upgrade(make_cluster())
    _send_all()
    delivery = Delivery.objects.get()
    assert delivery.state == "pending" and delivery.last_error.startswith(problem)


@pytest.mark.django_db
def test_unsigned_robots_send_no_signature(receiver):
    subscribe(receiver.url("/robot/send?access_token=t"), format="dingtalk", secret="", events=["upgrade.succeeded"])
    run_upgrade(make_cluster())
    _send_all()
    assert set(receiver.requests[0].query) == {"access_token"}


@pytest.mark.django_db
def test_slack_gets_an_incoming_webhook_message_with_the_link(receiver):
    subscribe(receiver.url("/services/T0/B0/XXXX"), format="slack", events=["upgrade.failed"])
    dag = run_upgrade(make_cluster("sl"), fail_at="Stop zone1")
    _send_all()
    request = receiver.requests[0]
    assert "X-OB-Dashboard-Signature" not in request.headers
    body = json.loads(request.body)
    assert "sl" in body["text"] and "failed" in body["text"]
    texts = [block["text"]["text"] for block in body["blocks"]]
    assert f"<https://dash.example.com/runs/{dag.pk}/|Open the run>" in texts[0]
    assert "Stop zone1" in texts[0]
    assert texts[1].startswith("```")  # the last log lines


@pytest.mark.django_db
def test_email_goes_through_djangos_backend(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "dash@example.com"
    subscribe("dba@example.com, oncall@example.com", format="email", secret="", events=["upgrade.failed"])
    dag = run_upgrade(make_cluster("mailed"), fail_at="Stop zone2")
    assert _send_all() == 1
    (message,) = mail.outbox
    assert message.to == ["dba@example.com", "oncall@example.com"]
    assert message.from_email == "dash@example.com"
    assert "mailed" in message.subject and "failed" in message.subject
    assert f"https://dash.example.com/runs/{dag.pk}/" in message.body
    assert "Stop zone2" in message.body and "Last log lines" in message.body
    delivery = Delivery.objects.get()
    assert delivery.state == "succeeded" and delivery.request_headers["To"] == "dba@example.com, oncall@example.com"


@pytest.mark.django_db
def test_an_smtp_failure_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens
    settings.NOTIFY_RETRY_SECONDS = 60
    subscribe("dba@example.com", format="email", secret="", events=["upgrade.succeeded"])
    run_upgrade(make_cluster())
    _send_all()
    delivery = Delivery.objects.get()
    assert delivery.state == "pending" and delivery.attempts == 1 and "Connection" in delivery.last_error
