"""Errors in Chinese with `Accept-Language: zh-CN` (upgrades/api/i18n.py): every errCode the code emits has its
templates and Chinese text, the compiled catalog is the committed one, real answers are translated, the language
comes from the header only, and the pages are not affected."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

from tests.api.signing import as_meta, v2_request
from tests.support.factories import make_user
from upgrades.api.error_templates import TEMPLATES
from upgrades.api.i18n import CHINESE, api_language, localize

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale/zh_Hans/LC_MESSAGES/django.po"
CJK = re.compile(r"[\u4e00-\u9fff]")
ERR_CODE_LITERAL = re.compile(r"""["']([A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)+)["']""")


def emitted_err_codes():
    """Every errCode-shaped string literal in the application code (what any answer may carry)."""
    found = {}
    for folder in ("upgrades", "dashboard"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts or path.name == "error_templates.py":
                continue
            for match in ERR_CODE_LITERAL.finditer(path.read_text()):
                found.setdefault(match.group(1), path.relative_to(ROOT))
    return found


def test_every_err_code_in_the_code_has_templates():
    missing = {code: str(path) for code, path in emitted_err_codes().items() if code not in TEMPLATES}
    assert not missing, f"add templates (upgrades/api/error_templates.py) and .po entries for {missing}"


def test_every_template_has_its_chinese_text_and_the_mo_is_compiled_from_the_po():
    catalog = polib.pofile(str(PO))
    translated = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in catalog if entry.msgid}
    for code, templates in TEMPLATES.items():
        for template in templates:
            text = translated.get((code, template))
            assert text, f"no Chinese text for {code}: {template!r}"
            assert text.count("%s") == template.count("%s"), (code, template, text)
    # The API's entries are those whose context is an errCode (dotted); the pages' share the catalog (issue 13).
    api_entries = {key for key in translated if key[0] and "." in key[0]}
    assert api_entries == {(code, t) for code, templates in TEMPLATES.items() for t in templates}
    assert PO.with_suffix(".mo").read_bytes() == catalog.to_binary(), "run manage.py compile_catalogs"


def _sample(code, template):
    """The template filled with 'x', a wrapper's last argument being another message of the same code."""
    args = ["x"] * template.count("%s")
    inner = [t for t in TEMPLATES[code] if t != template and CJK.search(localize(code, t.replace("%s", "x"), CHINESE))]
    if args and inner:
        args[-1] = inner[0].replace("%s", "x")
    out = template
    for arg in args:
        out = out.replace("%s", arg, 1)
    return out


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_every_message_of_every_code_answers_in_chinese(code):
    for template in TEMPLATES[code]:
        message = _sample(code, template)
        zh = localize(code, message, CHINESE)
        assert CJK.search(zh), (code, message, zh)
        assert localize(code, message, "en") == message
        assert localize(code, message, None) == message


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN", "zh-hans"),
        ("zh", "zh-hans"),
        ("zh-TW", "zh-hans"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr", "en"),
        ("*", "en"),
        ("", None),
        ("x" * 300, None),
    ],
)
def test_the_language_comes_from_accept_language(header, language):
    meta = {"HTTP_ACCEPT_LANGUAGE": header} if header else {}
    assert api_language(meta) == language


def signed(api, method, uri, body=None, **meta):
    headers, data = v2_request(api.public_key, password=api.password, uri=uri, body=body)
    return api.client.generic(method, uri, data=data, content_type="text/plain", **as_meta(headers), **meta)


def error_of(response):
    body = json.loads(response.content)
    return response.status_code, body["error"]["errCode"], body["error"]["message"]


@pytest.mark.django_db
def test_real_answers_in_chinese_english_and_the_default(api, cluster):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}
    cases = [
        (("GET", "/api/v1/task/dag/1x"), (400, "Task.GenericID.Invalid", "无效的任务通用 ID：'1x'")),
        (("GET", "/api/v1/task/dag/1999"), (404, "Task.NotFound", "未找到任务：record not found")),
        (("GET", "/api/v1/task/dag/maintain/ob"), (404, "Task.NotFound", "未找到任务：集群未处于运维状态")),
        (("DELETE", "/api/v1/upgrade/package/0"), (400, "Request.Path.Param.Empty", "路径参数 'pkg_id' 为空")),
        (
            ("POST", "/api/v1/ob/upgrade", {"version": "4.3.0.1"}),
            (
                400,
                "Common.BindJsonFailed",
                "绑定 JSON 失败：Key: 'ObUpgradeParam.Release' Error:Field validation for 'Release' failed on the "
                "'required' tag\nKey: 'ObUpgradeParam.Mode' Error:Field validation for 'Mode' failed on the "
                "'required' tag",
            ),
        ),
        (
            ("POST", "/api/v1/ob/upgrade", {"version": "4.3.0.1", "release": "1.el7", "mode": "sideways"}),
            (400, "OB.Upgrade.Mode.NotSupported", "不支持的升级模式 'SIDEWAYS'"),
        ),
        (("GET", "/api/v1/nowhere"), (404, "Common.NotFound", "未找到资源：404 not found")),
    ]
    for request, (status, err_code, message) in cases:
        assert error_of(signed(api, *request, **zh)) == (status, err_code, message), request
        english = error_of(signed(api, *request))
        assert english[:2] == (status, err_code) and not CJK.search(english[2])
        assert error_of(signed(api, *request, HTTP_ACCEPT_LANGUAGE="en-US")) == english


@pytest.mark.django_db
def test_authentication_refusals_in_chinese(client):
    response = client.get("/api/v1/ob/info", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert error_of(response) == (
        400,
        "Request.Header.NotFound",
        "HTTP 请求头中未找到 X-OCS-Agent-Header 或 X-OCS-Header",
    )


@pytest.mark.django_db
def test_a_plain_error_takes_its_codes_template_only_when_a_language_is_asked_for(api, tmp_path):
    from tests.api.helpers import multipart

    junk = tmp_path / "junk.rpm"
    junk.write_bytes(b"not an rpm at all" * 10)
    data, content_type = multipart(junk)
    answers = {}
    for language in (None, "en", "zh-CN"):
        meta = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
        uri = "/api/v1/upgrade/package"
        headers, encrypted = v2_request(api.public_key, password=api.password, uri=uri, body=data)
        response = api.client.generic(
            "POST", uri, data=encrypted, content_type=content_type, **as_meta(headers), **meta
        )
        answers[language] = error_of(response)
    raw = answers[None][2]
    assert answers[None][:2] == (500, "Common.Unexpected") and raw.startswith("'junk.rpm' is not an RPM package")
    assert answers["en"][2] == f"Unexpected error: {raw}"
    assert answers["zh-CN"][2] == f"非预期错误：{raw}"


@pytest.mark.django_db
def test_the_api_ignores_the_language_cookie_and_session(client, cluster):
    user = make_user("viewer")
    client.force_login(user)
    session = client.session
    session["_language"] = "zh-hans"
    session.save()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = client.get(f"/clusters/{cluster.name}/api/v1/task/dag/1x")
    assert error_of(response) == (400, "Task.GenericID.Invalid", "Invalid generic id: '1x'")


@pytest.mark.django_db
def test_pages_follow_the_browser_and_the_api_its_own_header(client):
    """Pages now speak the browser's language (issue 13: Language and time); the API's errors still follow only
    the request's own Accept-Language (tests/pages/test_language_and_time.py covers the user's preference)."""
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert page.status_code == 200 and CJK.search(page.content.decode())
    assert page["Content-Language"] == "zh-hans"
    refused = client.post(
        "/login/", {"username": "nobody", "password": "wrong-password-123"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert "用户名或密码不正确" in refused.content.decode()
    english = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert not CJK.search(english.content.decode()) and english["Content-Language"] == "en"


def test_translations_need_no_gettext_tools(tmp_path):
    """The committed .mo is read by Python's gettext: nothing calls msgfmt, even on a machine without it."""
    script = (
        "import django; django.setup()\n"
        "from upgrades.api.i18n import localize\n"
        "print(localize('Task.Dag.Operator.RetryNotFailedDag', "
        "'Failed to set DAG retry: DAG state is not failed', 'zh-hans'))\n"
    )
    env = {
        **os.environ,
        "PATH": str(tmp_path),  # no msgfmt, no xgettext
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "重试 DAG 失败：DAG 未失败"


def test_a_body_refused_at_the_door_answers_in_the_requests_language():
    """Refused in upgrades/api/asgi.py before Django sees the request: the same language rule."""
    from upgrades.api.asgi import Door, refusal

    _status, _type, body = refusal(Door(10, upload=False, api=True), accept_language="zh-CN")
    assert json.loads(body)["error"]["message"] == "绑定 JSON 失败：http: request body too large"
    _status, _type, body = refusal(Door(10, upload=True, api=True))
    assert not CJK.search(json.loads(body)["error"]["message"])
