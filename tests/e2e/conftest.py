"""The real browser of the e2e tests: one Debian /usr/bin/chromium, driven by
Playwright, for the whole run. One fixture for every module: Playwright's sync API
cannot run two instances at once, so a second module launching its own would fail."""

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
