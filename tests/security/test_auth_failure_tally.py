"""Anonymous auth failures cannot flood the audit (issue 9): they are counted per source address and minute
in AuthFailureTally, and the audit keeps one row per source and minute (the first failure of the minute).
Refusals that name a real token or a signed-in user stay audited per request under that actor."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.api.signing import as_meta, v2_request
from tests.support.factories import make_user
from upgrades.audit import Actor, audit
from upgrades.models import AuditEntry, AuthFailureTally
from upgrades.security import throttle

INFO = "/api/v1/ob/info"
AUTH = AuditEntry.Action.API_AUTH


@pytest.fixture
def no_delays(settings, monkeypatch):
    settings.API_AUTH_FREE_FAILURES = 10**6
    monkeypatch.setattr("upgrades.api.middleware.time.sleep", lambda seconds: None)


@pytest.mark.django_db
def test_500_anonymous_failures_from_one_source_are_one_audit_row_and_a_tally_of_500(client, no_delays):
    for number in range(500):
        # Mostly no header at all, now and then an undecryptable one.
        headers = {"HTTP_X_OCS_HEADER": "bm90IGEgaGVhZGVy"} if number % 50 == 0 else {}
        response = client.get(INFO, **headers)
        assert response.status_code in (400, 401)
    assert AuditEntry.objects.filter(action=AUTH).count() == 1
    entry = AuditEntry.objects.get(action=AUTH)
    assert entry.actor_label == "anonymous 127.0.0.1" and entry.outcome == AuditEntry.Outcome.REFUSED
    tally = AuthFailureTally.objects.get()
    assert (tally.source_address, tally.count) == ("127.0.0.1", 500)
    assert tally.minute == tally.minute.replace(second=0, microsecond=0)
    assert tally.last_err_code == "Request.Header.NotFound"


@pytest.mark.django_db
def test_wrong_passwords_are_anonymous_and_tallied_per_source(api, no_delays):
    for address in ("10.0.0.1", "10.0.0.2"):
        for _ in range(3):
            headers, _ = v2_request(api.public_key, password="ocs_guess", uri=INFO)
            assert api.client.get(INFO, **as_meta(headers), REMOTE_ADDR=address).status_code == 401
    assert sorted(AuthFailureTally.objects.values_list("source_address", "count")) == [("10.0.0.1", 3), ("10.0.0.2", 3)]
    rows = AuditEntry.objects.filter(action=AUTH)
    assert sorted(rows.values_list("source_address", flat=True)) == ["10.0.0.1", "10.0.0.2"]
    assert {row.detail["errCode"] for row in rows} == {"Security.Authentication.IncorrectOceanbasePassword"}


@pytest.mark.django_db
def test_refusals_naming_a_real_token_or_user_are_audited_per_request(api, cluster, no_delays):
    headers, _ = v2_request(api.public_key, password=api.password, uri=INFO)
    assert api.client.get(INFO, **as_meta(headers)).status_code == 200
    for _ in range(3):  # replays of a real token's header
        assert api.client.get(INFO, **as_meta(headers)).status_code == 401
    nobody = make_user("viewer")
    nobody.groups.clear()
    session = Client()
    session.force_login(nobody)
    for _ in range(2):
        assert session.get(f"/clusters/{cluster.name}/api/v1/ob/info").status_code == 401
    rows = AuditEntry.objects.filter(action=AUTH)
    assert rows.filter(actor_token__isnull=False).count() == 3
    assert rows.filter(actor_user=nobody).count() == 2
    assert not AuthFailureTally.objects.exists()


@pytest.mark.django_db
def test_each_minute_has_its_own_row_and_audit_entry():
    now = timezone.now().replace(second=30)
    written = []

    def first():
        written.append(audit(actor=Actor(label="anonymous 10.1.1.1"), action=AUTH, outcome="refused"))

    for minute in (0, 0, 0, 1, 1):
        throttle.tally_failure(address="10.1.1.1", err_code="X", on_first=first, now=now + timedelta(minutes=minute))
    assert list(AuthFailureTally.objects.order_by("minute").values_list("count", flat=True)) == [3, 2]
    assert len(written) == 2


def _concurrent_failures(threads, each):
    barrier = threading.Barrier(threads)
    errors = []
    audited = []

    def worker():
        try:
            barrier.wait()
            for _ in range(each):
                throttle.tally_failure(
                    address="10.9.9.9",
                    err_code="Request.Header.NotFound",
                    on_first=lambda: audited.append(
                        audit(actor=Actor(label="anonymous 10.9.9.9"), action=AUTH, outcome="refused")
                    ),
                )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert errors == []
    assert list(AuthFailureTally.objects.values_list("count", flat=True)) == [threads * each]
    assert len(audited) == 1 and AuditEntry.objects.filter(action=AUTH).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_lose_no_count_and_make_one_row():
    _concurrent_failures(threads=6, each=20)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_lose_no_count_and_make_one_row_on_postgresql():
    _concurrent_failures(threads=8, each=25)


@pytest.mark.django_db
def test_the_audit_page_shows_the_tally(client, no_delays):
    for _ in range(7):
        client.get(INFO, REMOTE_ADDR="192.0.2.7")
    viewer = Client()
    viewer.force_login(make_user("viewer"))
    html = viewer.get("/audit/").content.decode()
    assert "data-auth-failures" in html and "192.0.2.7" in html
    assert '<td class="num">7</td>' in html
