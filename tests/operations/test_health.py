"""/healthz answers without the database; /readyz checks the database, migrations, the channel layer and the
media root, and answers 503 naming the failing part, in words that name no cluster, path or host."""

import json
import os

import pytest
from channels.layers import InMemoryChannelLayer
from django.db import OperationalError, connections
from django.db.migrations.executor import MigrationExecutor

from tests.support.factories import make_cluster
from upgrades.operations import health

CHECKS = {"database", "migrations", "channel_layer", "media_root"}


class SilentLayer(InMemoryChannelLayer):
    """A layer that accepts messages and never delivers them."""

    async def send(self, channel, message):
        return None


class BrokenLayer(InMemoryChannelLayer):
    async def send(self, channel, message):
        raise ConnectionRefusedError("layer down at 10.1.2.3:6379")


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir(exist_ok=True)
    settings.MEDIA_ROOT = root
    return root


def readyz(client):
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "checks"} and set(body["checks"]) == CHECKS
    return response.status_code, body


def test_healthz_answers_without_a_session_or_the_database(client):
    # No database marker: any query here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_names_no_cluster(client, media_root):
    cluster = make_cluster("secretcluster")
    status, body = readyz(client)
    assert status == 200
    assert body == {"status": "ok", "checks": dict.fromkeys(CHECKS, "ok")}
    text = json.dumps(body)
    assert cluster.name not in text and str(media_root) not in text


@pytest.mark.django_db
def test_readyz_database_down(client, media_root, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "10.9.8.7", port 5432 failed')

    monkeypatch.setattr(type(connections["default"]), "cursor", refuse)
    status, body = readyz(client)
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["database"] == "unreachable"
    assert body["checks"]["migrations"] != "ok"
    assert body["checks"]["channel_layer"] == "ok" and body["checks"]["media_root"] == "ok"
    assert "10.9.8.7" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_unapplied_migrations(client, media_root, monkeypatch):
    real_plan = MigrationExecutor.migration_plan

    def one_pending(self, targets, clean_start=False):
        return [*real_plan(self, targets, clean_start), ("upgrades.9999_future", False)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", one_pending)
    status, body = readyz(client)
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["migrations"] == "1 unapplied"
    assert {name: v for name, v in body["checks"].items() if v != "ok"} == {"migrations": "1 unapplied"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("layer", "failure"),
    [(f"{__name__}.BrokenLayer", "unavailable"), (f"{__name__}.SilentLayer", "no answer in time")],
)
def test_readyz_channel_layer_failing(client, media_root, settings, monkeypatch, layer, failure):
    monkeypatch.setattr(health, "CHANNEL_LAYER_TIMEOUT", 0.2)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": layer}}
    status, body = readyz(client)
    assert status == 503 and body["status"] == "fail"
    assert {name: v for name, v in body["checks"].items() if v != "ok"} == {"channel_layer": failure}
    assert "10.1.2.3" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_media_root_missing_or_not_a_directory(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "not-there"
    status, body = readyz(client)
    assert status == 503
    assert {name: v for name, v in body["checks"].items() if v != "ok"} == {"media_root": "missing"}
    assert str(tmp_path) not in json.dumps(body)

    a_file = tmp_path / "a-file"
    a_file.write_text("")
    settings.MEDIA_ROOT = a_file
    status, body = readyz(client)
    assert status == 503
    assert {name: v for name, v in body["checks"].items() if v != "ok"} == {"media_root": "not a directory"}


@pytest.mark.django_db
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_readyz_media_root_read_only(client, settings, tmp_path):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    settings.MEDIA_ROOT = read_only
    try:
        status, body = readyz(client)
    finally:
        read_only.chmod(0o700)
    assert status == 503
    assert {name: v for name, v in body["checks"].items() if v != "ok"} == {"media_root": "not writable"}


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize(
    "backend", ["channels_redis.pubsub.RedisPubSubChannelLayer", "channels_redis.core.RedisChannelLayer"]
)
def test_readyz_round_trips_through_redis(client, media_root, settings, backend):
    # The pub/sub layer is what REDIS_URL configures (dashboard/settings.py); the list layer still works.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": backend, "CONFIG": {"hosts": [os.environ["REDIS_URL"]]}}}
    status, body = readyz(client)
    assert status == 200, body


@pytest.mark.django_db
def test_readyz_redis_unreachable(client, media_root, settings):
    from tests.operations.helpers import free_port

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }
    status, body = readyz(client)
    assert status == 503
    assert {name: v for name, v in body["checks"].items() if v != "ok"} == {"channel_layer": "unavailable"}
