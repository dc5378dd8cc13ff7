"""The browser the tests in tests/e2e share: one Playwright and one headless
Debian chromium per session (Playwright's sync API runs one instance per thread)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    require_service(
        os.access(CHROMIUM, os.X_OK), "Debian chromium (/usr/bin/chromium) is not installed"
    )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
