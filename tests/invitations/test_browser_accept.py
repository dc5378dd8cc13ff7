"""A real browser (Playwright driving Debian's /usr/bin/chromium) accepts an
invitation: the page found by its labels, the account created, then the normal
sign-in with the email prefilled, ending on the account page as a member."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import pytest

from ciam.accounts.models import User
from ciam.delegation.models import Membership
from ciam.extensions import db
from ciam.roles.assignments import role_keys_of
from tests.conftest import require_service
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

PASSWORD = "copper meadow signal 58"


def _in_own_thread(drive) -> None:
    """Run `drive(browser)` with its own Playwright in a thread of its own.

    Playwright's sync API refuses to start while another instance runs in the same
    thread, and the browser tests in tests/e2e keep theirs for the whole session; a
    thread has no running event loop, so this one starts cleanly beside it.
    """
    require_service(
        os.access(CHROMIUM, os.X_OK), "Debian chromium (/usr/bin/chromium) is not installed"
    )
    sync_api = pytest.importorskip("playwright.sync_api")
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    drive(browser)
                finally:
                    browser.close()
        except BaseException as exc:  # re-raised in the test's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the browser did not finish in 120 s"
    if failure:
        raise failure[0]


def test_accept_invitation_in_a_browser(live_server, make):
    """Open the emailed link, fill "Given name" and "Password", press "Create account
    and join": the login page says the account is ready with the email filled in;
    signing in lands on /account, and the person is a member with the roles."""
    org = make.org(slug="acme", name="Acme Insurance")
    make.role("claims-handler")
    _, link = make.invitation("browser.person@example.com", "acme", roles=["claims-handler"])
    assert link.startswith(live_server)

    def drive(browser) -> None:
        context = browser.new_context(viewport={"width": 360, "height": 740})
        context.set_default_timeout(10_000)
        try:
            page = context.new_page()
            page.goto(link)
            assert page.get_by_role("heading").inner_text() == "Join Acme Insurance"
            assert "browser.person@example.com" in page.content()
            page.get_by_label("Given name").fill("Bea")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Create account and join").click()

            page.wait_for_url(f"{live_server}/login?*")
            assert "Sign in to continue" in page.get_by_role("status").inner_text()
            assert page.get_by_label("Email").input_value() == "browser.person@example.com"
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server}/account")
            assert urlsplit(page.url).path == "/account"

            page.goto(link)  # the link is used up now
            assert "already been used" in page.content()
        finally:
            context.close()

    _in_own_thread(drive)

    db.session.expire_all()
    user = db.session.scalar(
        db.select(User).where(User.email_normalized == "browser.person@example.com")
    )
    assert user.given_name == "Bea" and user.email_verified
    membership = db.session.scalar(
        db.select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
    )
    assert role_keys_of(membership) == ["claims-handler"]
