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
