"""A real browser (Playwright driving Debian's chromium) on a 360 px screen: the set-up
page forced by an organization's policy shows its QR code (an SVG data: URI, which the
CSP must let through), the code field is found by its label, and the login's second
step works; no page scrolls sideways. Screenshots go to /tmp for a human look."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import pyotp
import pytest

from ciam.delegation import services as orgs
from ciam.extensions import db
from tests.conftest import require_service
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOTS = "/tmp/ciam-mfa-{}-360.png"  # noqa: S108 - fixed paths for a human to open


@pytest.fixture
def page(live_server):
    require_service(
        os.access(CHROMIUM, os.X_OK), "Debian chromium (/usr/bin/chromium) is not installed"
    )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
        context.set_default_timeout(10_000)
        yield context.new_page()
        browser.close()


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_forced_set_up_then_second_step_at_360px(live_server, make, ctx, page):
    """Organization policy forces a set-up after the password: the QR code renders
    (its image has a size, so the CSP let the data: URI through), the key is there to
    type, the app's code finishes the login; the next login asks for a code."""
    user = make.user()
    org = orgs.create_org("browser-co", "Browser Co")
    org.mfa_required = True
    orgs.add_member(org, user)
    db.session.commit()

    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/mfa/enrol")

    qr = page.get_by_role("img", name="QR code to add this account to your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    box = qr.bounding_box()
    assert 120 <= box["width"] <= 360 - 2 * 16
    _fits(page)
    page.screenshot(path=SHOTS.format("enrol"), full_page=True)
    secret = page.locator("#manual-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Verify and turn on").click()

    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    _fits(page)
    page.screenshot(path=SHOTS.format("codes"), full_page=True)
    page.get_by_role("link", name="I saved them, continue").click()
    page.wait_for_url("**/account")

    page.context.clear_cookies()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/mfa")
    _fits(page)
    page.screenshot(path=SHOTS.format("step"), full_page=True)
    field = page.get_by_label("Code from your authenticator app")
    field_box = field.bounding_box()
    assert field_box["x"] + field_box["width"] <= 360
    assert field.get_attribute("autocomplete") == "one-time-code"
    page.get_by_role("button", name="Verify").first.click()  # empty: refused in place
    assert urlsplit(page.url).path == "/login/mfa"
    # The next step's code: the set-up used this one (each code works once).
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").first.click()
    page.wait_for_url("**/account")
