"""Language and time (issue 13): a page speaks the user's chosen language, else the browser's, else the site's;
times are shown in the user's zone, else TIME_ZONE. The API keeps answering by its own Accept-Language only."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from tests.live.helpers import make_dag
from upgrades.models import Dag, UserPreference
from upgrades.preferences import browser_language, page_language, page_time_zone, preference_of
from upgrades.services.preferences import preference_set

CJK = re.compile(r"[\u4e00-\u9fff]")


def pref(language="", time_zone=""):
    return UserPreference(language=language, time_zone=time_zone)


@pytest.mark.parametrize(
    ("preference", "header", "expected"),
    [
        (pref("zh-hans"), "en-US,en;q=0.9", "zh-hans"),  # the user's choice wins over the browser
        (pref("en"), "zh-CN,zh;q=0.9", "en"),
        (pref(""), "zh-CN,zh;q=0.9", "zh-hans"),  # "from the browser"
        (None, "zh-TW", "zh-hans"),  # any zh*: the only Chinese catalog
        (None, "fr-FR,zh;q=0.5,en;q=0.8", "en"),  # by q-value: en (0.8) before zh (0.5)
        (None, "fr-FR,de", "en"),  # nothing we speak: the site's default
        (None, "", "en"),
        (None, "x" * 300, "en"),  # an absurd header is ignored
    ],
)
def test_language_is_user_then_browser_then_site(preference, header, expected):
    assert page_language(preference, header) == expected


def test_browser_language_reads_the_list_by_quality():
    assert browser_language("en;q=0.3, zh-Hans;q=0.9") == "zh-hans"
    assert browser_language("*") is None


def test_time_zone_is_the_users_else_the_servers(settings):
    settings.TIME_ZONE = "UTC"
    assert page_time_zone(pref(time_zone="Asia/Shanghai")).key == "Asia/Shanghai"
    assert page_time_zone(pref()).key == "UTC"
    assert page_time_zone(None).key == "UTC"
    assert page_time_zone(pref(time_zone="Gone/Removed")).key == "UTC"  # a zone tzdata dropped since


@pytest.mark.django_db
def test_preferences_are_validated(as_role):
    user = as_role("viewer")
    with pytest.raises(ValidationError):
        preference_set(user=user, language="fr", time_zone="")
    with pytest.raises(ValidationError):
        preference_set(user=user, language="", time_zone="Mars/Olympus")
    preference_set(user=user, language="zh-hans", time_zone="Asia/Shanghai")
    preference_set(user=user, language="", time_zone="")  # one row per user, updated in place
    assert UserPreference.objects.filter(user=user).count() == 1
    assert preference_of(user).language == "" and preference_of(AnonymousUser()) is None


@pytest.mark.django_db
def test_the_preferences_page_sets_both_and_answers_in_the_new_language(client, as_role):
    user = as_role("viewer")
    page = client.get("/preferences/")
    assert page.status_code == 200 and 'value="Asia/Shanghai"' in page.content.decode()
    saved = client.post("/preferences/", {"language": "zh-hans", "time_zone": "Asia/Shanghai"}, follow=True)
    text = saved.content.decode()
    assert "偏好设置已保存" in text and '<html lang="zh-hans">' in text
    assert (preference_of(user).language, preference_of(user).time_zone) == ("zh-hans", "Asia/Shanghai")
    refused = client.post("/preferences/", {"language": "zh-hans", "time_zone": "Nowhere/City"})
    assert refused.status_code == 200 and preference_of(user).time_zone == "Asia/Shanghai"


@pytest.mark.django_db
def test_pages_follow_the_user_then_the_browser(client, as_role):
    user = as_role("viewer")
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert not CJK.search(english.content.decode())
    browser = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "集群" in browser.content.decode() and browser["Content-Language"] == "zh-hans"
    assert "Accept-Language" in browser["Vary"]
    preference_set(user=user, language="zh-hans", time_zone="")
    chosen = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert "集群" in chosen.content.decode() and "退出登录" in chosen.content.decode()


@pytest.mark.django_db
def test_times_on_pages_are_in_the_users_zone(client, as_role, settings):
    settings.TIME_ZONE = "UTC"
    user = as_role("viewer")
    dag = make_dag()
    Dag.objects.filter(pk=dag.pk).update(created_at=datetime(2026, 3, 1, 22, 30, 5, tzinfo=UTC))
    assert "2026-03-01 22:30:05" in client.get("/runs/").content.decode()
    preference_set(user=user, language="", time_zone="Asia/Shanghai")
    page = client.get("/runs/").content.decode()
    assert "2026-03-02 06:30:05" in page and "2026-03-01 22:30:05" not in page
    # Scripts get the zone too, for the times they render (Intl.DateTimeFormat).
    assert '<meta name="time-zone" content="Asia/Shanghai">' in page


@pytest.mark.django_db
def test_the_api_ignores_the_users_preference(client, as_role):
    """A session user who chose Chinese still gets the API's errors by the request's Accept-Language only."""
    user = as_role("admin")
    preference_set(user=user, language="zh-hans", time_zone="Asia/Shanghai")
    dag = make_dag()
    response = client.get(f"/clusters/{dag.cluster.name}/api/v1/task/dag/1x")
    assert response.json()["error"]["message"] == "Invalid generic id: '1x'"
    asked = client.get(f"/clusters/{dag.cluster.name}/api/v1/task/dag/1x", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert CJK.search(asked.json()["error"]["message"])


@pytest.mark.django_db
def test_the_script_catalog_speaks_the_page_language(client, as_role):
    as_role("viewer")
    chinese = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode("utf-8")
    assert "\\u91cd\\u8bd5\\u5931\\u8d25\\u7684\\u9636\\u6bb5" in chinese or "重试失败的阶段" in chinese
    assert "Retry the failed stage" not in client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.mark.django_db
def test_every_page_renders_in_chinese(client, as_role, cluster, target):
    """Each page and the upgrade preview (route, pre-checks with their hints, stages) in Chinese."""
    from tests.support.factories import make_cluster

    as_role("admin")
    dag = make_dag()
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}
    for url in (
        "/",
        f"/clusters/{cluster.name}/",
        "/runs/",
        f"/runs/{dag.pk}/",
        "/packages/",
        "/audit/",
        "/workers/",
        "/notifications/",
        "/register-cluster/",
        "/preferences/",
        "/runs/?state=FAILED",
    ):
        page = client.get(url, **chinese)
        assert page.status_code == 200 and CJK.search(page.content.decode()), url
    data = {"package": target.pk, "mode": "ROLLING", "upgrade_dir": "", "reason": "", "action": "preview"}
    plan = client.post(f"/clusters/{cluster.name}/", data, **chinese).content.decode()
    assert "预检查" in plan and "升级路径" in plan and "请求参数" in plan
    small = make_cluster("small", zones=1)
    refused = client.post(f"/clusters/{small.name}/", data, **chinese).content.decode()
    assert "滚动升级至少需要 3 个 Zone" in refused and "修复方法：" in refused
