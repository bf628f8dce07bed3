"""Browser and deployment hardening: a Content-Security-Policy the pages keep (no inline script or style),
HSTS only with HTTPS, X-Forwarded-Proto believed only when TRUST_X_FORWARDED_PROTO=1, SameSite cookies,
login lockout per username and address (django-axes), Django's password validators, open routes that tell
an anonymous caller no cluster names, paths or pids, and CI's pip-audit step."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.support.factories import make_cluster, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"


# -- Content-Security-Policy ---------------------------------------------------------------------------------


def _directives(response):
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login/", "/"])
def test_pages_carry_a_strict_csp(client, path):
    client.force_login(make_user("viewer"))
    csp = _directives(client.get(path))
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert set(csp["connect-src"]) == {"'self'", "ws://testserver", "wss://testserver"}


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle=", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+=", re.I)


def test_no_page_has_inline_script_or_style(client):
    """What the CSP would block: every page the roles see, rendered, has none."""
    cluster = make_cluster("alpha")
    client.force_login(make_user("admin"))
    pages = ["/", "/runs/", "/packages/", "/audit/", f"/clusters/{cluster.name}/", "/runs/?state=nope&page=x"]
    for path in pages:
        html = client.get(path).content.decode()
        assert not INLINE_SCRIPT.search(html), path
        assert not STYLE_ATTRIBUTE.search(html), path
        assert not HANDLER_ATTRIBUTE.search(html), path
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not STYLE_ATTRIBUTE.search(text), template
        assert not INLINE_SCRIPT.search(text.replace("{% static", "")), template


# -- settings from the environment ---------------------------------------------------------------------------


def _settings_under(tmp_path, **env_vars):
    names = [
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
    ]
    script = (
        "import json\nfrom django.conf import settings\n"
        f"print(json.dumps({{n: str(getattr(settings, n)) for n in {names!r}}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SECURE_SSL_REDIRECT", "TRUST_X_FORWARDED_PROTO")}
    env.update(DJANGO_SETTINGS_MODULE="dashboard.settings", VAR_DIR=str(tmp_path / "var"), **env_vars)
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_forwarded_proto_is_believed_only_when_trusted(tmp_path):
    assert _settings_under(tmp_path)["SECURE_PROXY_SSL_HEADER"] == "None"
    trusted = _settings_under(tmp_path, TRUST_X_FORWARDED_PROTO="1")
    assert trusted["SECURE_PROXY_SSL_HEADER"] == str(("HTTP_X_FORWARDED_PROTO", "https"))


def test_a_client_cannot_claim_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301 and response["Location"].startswith("https://")


def test_hsts_only_with_https(tmp_path):
    assert _settings_under(tmp_path)["SECURE_HSTS_SECONDS"] == "0"
    https = _settings_under(tmp_path, SECURE_SSL_REDIRECT="1")
    assert int(https["SECURE_HSTS_SECONDS"]) >= 31_536_000 and https["SESSION_COOKIE_SECURE"] == "True"


def test_the_hsts_header_is_sent_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = client.get("/login/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_login_lockout_is_tunable(tmp_path):
    tuned = _settings_under(tmp_path, LOGIN_FAILURE_LIMIT="3", LOGIN_LOCKOUT_MINUTES="30")
    assert tuned["AXES_FAILURE_LIMIT"] == "3" and tuned["AXES_COOLOFF_TIME"] == "0:30:00"


# -- cookies -------------------------------------------------------------------------------------------------


def test_cookies_are_samesite(client, fast_hasher):
    page = client.get("/login/")
    assert page.cookies["csrftoken"]["samesite"] == "Strict"
    make_user("viewer", username="vera")
    response = client.post("/login/", {"username": "vera", "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["samesite"] == "Lax" and session["httponly"]


# -- login lockout -------------------------------------------------------------------------------------------


def _login(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_repeated_failed_logins_lock_the_username_out_from_that_address(client, settings, fast_hasher):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("viewer", username="vera")
    for _ in range(2):
        assert _login(client, "vera", "wrong").status_code == 200
    third = _login(client, "vera", "wrong")  # the third failure locks the pair out
    assert third.status_code == 429
    locked = _login(client, "vera", PASSWORD)  # the right password no longer helps
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # The same user from another address, and another user from this one, are not locked out.
    assert _login(client, "vera", PASSWORD, address="10.0.0.2").status_code == 302
    client.logout()
    make_user("viewer", username="otto")
    assert _login(client, "otto", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(client, settings, fast_hasher):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("viewer", username="vera")
    for _ in range(2):
        _login(client, "vera", "wrong")
    assert _login(client, "vera", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, "vera", "wrong")
    assert _login(client, "vera", PASSWORD).status_code == 302


# -- passwords -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["password", "12345678901234", "short1!", "vera-vera-vera"])
def test_weak_passwords_are_refused(weak):
    from django.contrib.auth.models import User

    with pytest.raises(ValidationError):
        validate_password(weak, user=User(username="vera-vera-vera"))


def test_seeded_demo_passwords_pass_the_validators():
    from django.contrib.auth.models import User

    from upgrades.demo.fleet import _ensure_accounts

    for role, password in _ensure_accounts().items():
        validate_password(password, user=User.objects.get(username=role))


# -- open routes ---------------------------------------------------------------------------------------------


def _data(response):
    assert response.status_code == 200, response.content
    body = response.json()
    body.pop("traceId", None)
    return body["data"]


@pytest.mark.parametrize("route", ["info", "status", "secret"])
def test_anonymous_open_routes_reveal_no_cluster_path_or_pid(client, route):
    cluster = make_cluster("secret-cluster-name")
    plain = client.get(f"/api/v1/{route}")
    known = client.get(f"/clusters/{cluster.name}/api/v1/{route}")
    unknown = client.get(f"/clusters/no-such-cluster/api/v1/{route}")
    assert _data(known) == _data(unknown) == _data(plain)
    for response in (plain, known):
        text = response.content.decode()
        assert cluster.name not in text
        assert str(django_settings.BASE_DIR) not in text
        assert f'"pid":{os.getpid()}' not in text.replace(" ", "")
        for zone in cluster.zones.values_list("name", flat=True):
            assert f'"{zone}"' not in text


def test_a_viewer_gets_the_full_answer_and_404_for_an_unknown_cluster(client):
    cluster = make_cluster("alpha")
    client.force_login(make_user("viewer"))
    info = _data(client.get(f"/clusters/{cluster.name}/api/v1/info"))
    assert info["zone"] and info["obVersion"]
    # pid and homePath carry no detail of this server for anyone (the SDK ignores both).
    assert (info["pid"], info["homePath"]) == (0, "")
    assert client.get("/clusters/no-such-cluster/api/v1/info").status_code == 404


def test_anonymous_cluster_pages_do_not_tell_known_from_unknown(client):
    cluster = make_cluster("alpha")
    known, unknown = client.get(f"/clusters/{cluster.name}/"), client.get("/clusters/no-such-cluster/")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"].startswith("/login/") and unknown["Location"].startswith("/login/")
    token_known = client.get(f"/clusters/{cluster.name}/api/v1/ob/info")
    token_unknown = client.get("/clusters/no-such-cluster/api/v1/ob/info")
    assert token_known.status_code == token_unknown.status_code
    assert token_known.json()["error"] == token_unknown.json()["error"]


# -- CI: pip-audit -------------------------------------------------------------------------------------------


def _report_module():
    spec = importlib.util.spec_from_file_location("pip_audit_report", ROOT / ".ci" / "pip_audit_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ci_runs_pip_audit_over_the_requirements():
    assert ".ci/pip_audit_report.py requirements.txt" in (ROOT / ".ci" / "run").read_text()
    assert any(line.startswith("pip-audit") for line in (ROOT / "requirements-dev.txt").read_text().splitlines())


def test_the_audit_fails_on_a_known_vulnerability():
    report = json.dumps(
        {
            "dependencies": [
                {"name": "django", "version": "5.2.0", "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.1"]}]}
            ]
        }
    )
    status, lines = _report_module().judge(1, report, "")
    assert status == 1 and "PYSEC-1" in "\n".join(lines) and "5.2.1" in "\n".join(lines)


def test_the_audit_passes_when_clean():
    report = json.dumps({"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}]})
    status, lines = _report_module().judge(0, report, "")
    assert status == 0 and "1 dependencies audited" in lines[0]


@pytest.mark.parametrize(
    ("returncode", "stdout", "stderr"),
    [
        # the PyPI service unreachable: pip-audit says "no known vulnerabilities" having skipped everything
        (0, json.dumps({"dependencies": [{"name": "django", "skip_reason": "Dependency not found on PyPI"}]}), ""),
        # OSV unreachable: a connection error
        (1, "", "requests.exceptions.ConnectionError: HTTPSConnectionPool: NameResolutionError"),
    ],
)
def test_an_unreachable_database_is_reported_not_failed(returncode, stdout, stderr):
    status, lines = _report_module().judge(returncode, stdout, stderr)
    assert status == 0 and lines[0].startswith("pip-audit: NOT AUDITED")


def test_another_pip_audit_failure_fails():
    status, _ = _report_module().judge(1, "", "ResolutionImpossible: no such package")
    assert status == 2


def test_operations_endpoints_name_no_cluster_or_path(client):
    cluster = make_cluster("secret-cluster-name")
    client.get(f"/clusters/{cluster.name}/api/v1/info")  # a request under the cluster's prefix, counted in metrics
    for path in ("/healthz", "/readyz", "/metrics"):
        text = client.get(path).content.decode()
        assert cluster.name not in text, path
        assert str(django_settings.BASE_DIR) not in text and str(django_settings.MEDIA_ROOT) not in text, path
