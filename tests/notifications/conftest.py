import pytest

from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture(autouse=True)
def _notification_settings(settings):
    """The receiver listens on 127.0.0.1, so private targets are allowed unless a test says otherwise."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.DASHBOARD_URL = "https://dash.example.com"
    settings.NOTIFY_TIMEOUT_SECONDS = 5


@pytest.fixture(autouse=True)
def _notifications_job_off(monkeypatch):
    """The in-process runner runs every periodic job; these tests queue and send by calling the notifier
    themselves, so its job is taken out of the registry (test_webhook_delivery puts it back to show the
    workers' own path)."""
    from upgrades.engine import periodic

    monkeypatch.delitem(periodic._jobs, "notifications", raising=False)
