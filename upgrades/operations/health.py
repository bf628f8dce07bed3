"""Readiness checks (GET /readyz): each returns None when fine, else a short failure text that names no
cluster, host, path or process (the endpoint is open to anonymous callers)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

# How long the channel-layer round trip may take before the layer counts as failing.
CHANNEL_LAYER_TIMEOUT = 2.0


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the details go to the log only
        logger.warning("readiness: database check failed: %s", exc)
        return "unreachable"
    return None


def check_migrations() -> str | None:
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        logger.warning("readiness: migration check failed: %s", exc)
        return "cannot be read"
    if pending:
        return f"{len(pending)} unapplied"
    return None


async def _round_trip(timeout: float) -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "not configured"
    channel = await layer.new_channel("readyz.")
    token = secrets.token_hex(8)
    await layer.send(channel, {"type": "readyz.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout)
    return None if message.get("token") == token else "wrong message received"


def check_channel_layer(timeout: float = CHANNEL_LAYER_TIMEOUT) -> str | None:
    """Send one message to a fresh channel of the configured layer (in-memory or Redis) and receive it."""
    try:
        return async_to_sync(_round_trip)(timeout)
    except TimeoutError:
        return "no answer in time"
    except Exception as exc:  # a refused connection, an authentication error, a full channel...
        logger.warning("readiness: channel layer check failed: %s", exc)
        return "unavailable"


def check_media_root() -> str | None:
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return "missing"
    if not root.is_dir():
        return "not a directory"
    try:
        with tempfile.NamedTemporaryFile(dir=root, prefix=".readyz-"):
            pass
    except OSError:
        return "not writable"
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "channel_layer": check_channel_layer,
    "media_root": check_media_root,
}


def readiness() -> tuple[bool, dict[str, str]]:
    """Run every check; (all fine, {check: "ok" or its failure text})."""
    results: dict[str, str] = {}
    database_down = False
    for name, check in CHECKS.items():
        if name == "migrations" and database_down:
            results[name] = "database unreachable"
            continue
        failure = check()
        results[name] = "ok" if failure is None else failure
        database_down = database_down or (name == "database" and failure is not None)
    return all(value == "ok" for value in results.values()), results
