"""Hosting the engine's workers in the web server process (the embedded profile, EMBEDDED_WORKER=1), for the
ASGI entry point; `manage.py run_worker` hosts its own."""

from typing import Any

from upgrades.engine import embedded


def with_embedded_workers(app: Any) -> Any:
    """Wrap an ASGI app so the embedded workers (when EMBEDDED_WORKER is on) start with its first connection."""
    return embedded.with_embedded_workers(app)
