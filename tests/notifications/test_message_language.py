"""Emails and chat messages are written in their subscription's language and time zone, else the site's
(README: Language and time)."""

import re
from datetime import datetime

import pytest
from django.core import mail

from tests.notifications.helpers import ADMIN, run_upgrade, subscribe
from tests.support.factories import make_cluster
from upgrades.errors import ObshellError
from upgrades.models import Delivery
from upgrades.notifications import outbox, sender
from upgrades.services.notifications import subscription_update

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


def _send_all():
    outbox.enqueue_new_events()
    return sender.deliver_due()


def _time_line(body, label):
    line = next(line for line in body.splitlines() if line.startswith(label))
    return datetime.strptime(line.removeprefix(label).strip(), "%Y-%m-%d %H:%M:%S %z")


def test_an_email_in_chinese_with_times_in_the_subscriptions_zone(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribe(
        "dba@example.com",
        format="email",
        secret="",
        events=["upgrade.failed"],
        language="zh-hans",
        time_zone="Asia/Shanghai",
    )
    subscribe("oncall@example.com", format="email", secret="", events=["upgrade.failed"], name="english")
    dag = run_upgrade(make_cluster("mailed"), fail_at="Stop zone2")
    assert _send_all() == 2
    chinese = next(m for m in mail.outbox if m.to == ["dba@example.com"])
    english = next(m for m in mail.outbox if m.to == ["oncall@example.com"])
    assert "mailed：升级" in chinese.subject and "失败" in chinese.subject
    assert "失败的阶段：" in chinese.body and "最后几行日志：" in chinese.body and "打开任务：" in chinese.body
    assert "Stop zone2" in chinese.body  # stage names stay as obshell names them
    event_at = Delivery.objects.get(request_url="dba@example.com").event_at.replace(microsecond=0)
    shanghai = _time_line(chinese.body, "时间：")
    assert shanghai.utcoffset().total_seconds() == 8 * 3600 and shanghai == event_at
    # The site's defaults: English, TIME_ZONE (UTC here).
    assert not CJK.search(english.subject + english.body) and "Failed stage:" in english.body
    utc = _time_line(english.body, "Time:")
    assert utc.utcoffset().total_seconds() == 0 and utc == event_at
    assert dag.pk and f"/runs/{dag.pk}/" in chinese.body


def test_a_chat_message_and_a_test_message_follow_the_subscription(receiver):
    hook = subscribe(receiver.url("/slack"), format="slack", events=["upgrade.started"], language="zh-hans")
    run_upgrade(make_cluster("chatty"))
    _send_all()
    body = receiver.requests[0].body.decode()
    assert "chatty：升级" in body and "已开始" in body and "打开任务" in body
    from upgrades.services.notifications import subscription_send_test

    delivery = subscription_send_test(subscription=hook, actor=ADMIN)
    assert delivery.summary.startswith("OB 升级控制台的测试消息")


def test_the_language_and_zone_are_checked_and_audited():
    hook = subscribe("dba@example.com", format="email", secret="")
    with pytest.raises(ObshellError):
        subscription_update(subscription=hook, actor=ADMIN, time_zone="Mars/Olympus")
    with pytest.raises(ObshellError):
        subscription_update(subscription=hook, actor=ADMIN, language="fr")
    hook = subscription_update(subscription=hook, actor=ADMIN, language="zh-hans", time_zone="Asia/Shanghai")
    assert (hook.language, hook.time_zone) == ("zh-hans", "Asia/Shanghai")
    from upgrades.models import AuditEntry

    entry = AuditEntry.objects.filter(action="subscription.update", outcome="ok").latest("id")
    assert set(entry.detail["changed"]) == {"language", "time_zone"}


def test_the_notifications_page_sets_a_subscriptions_language_and_zone(client):
    from tests.support.factories import make_user
    from upgrades.models import Subscription

    client.force_login(make_user("admin"))
    form = {"name": "dba", "format": "email", "target": "dba@example.com", "all_clusters": "on"}
    form |= {"events": ["upgrade.failed"], "language": "zh-hans", "time_zone": "Asia/Shanghai"}
    assert client.post("/notifications/", form).status_code == 302
    made = Subscription.objects.get(name="dba")
    assert (made.language, made.time_zone) == ("zh-hans", "Asia/Shanghai")
    page = client.get(f"/notifications/{made.pk}/").content.decode()
    assert '<option value="Asia/Shanghai" selected>' in page
    refused = client.post("/notifications/", {**form, "name": "other", "time_zone": "Mars/Olympus"})
    assert refused.status_code == 400 and not Subscription.objects.filter(name="other").exists()
