"""Fixtures for browser tests (run in their own pytest process: Playwright's loop and pytest-asyncio's do not
share one)."""

import os

import pytest

from tests.browser.helpers import CHROMIUM_ARGS
from tests.support.environment import CHROMIUM

# Sync ORM calls from these async tests (setup and checks only; tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
