"""Browser-test helpers: how Chromium is launched here, where screenshots go, and closing the ORM connections
an async test opens. The live server comes from tests/support/ (the `live_server_factory` fixture)."""

import functools

from django.db import connections

from tests.support.paths import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def screenshot(page, name, locator=None):
    """The whole page, or one element of it, saved as test-artifacts/<name> (open it in an image viewer)."""
    ARTIFACTS.mkdir(exist_ok=True)
    if locator is not None:
        await locator.screenshot(path=str(ARTIFACTS / name))
    else:
        await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def closing_db_connections(test):
    """For async tests that use the ORM directly: Django keeps a connection per async context, which the
    test database teardown cannot see or close; close this test's own connections when it ends."""

    @functools.wraps(test)
    async def wrapper(*args, **kwargs):
        try:
            return await test(*args, **kwargs)
        finally:
            connections.close_all()

    return wrapper
