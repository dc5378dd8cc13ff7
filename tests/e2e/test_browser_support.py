"""A real browser (Playwright driving Debian's /usr/bin/chromium): a support engineer
signs in, finds a locked person by name, opens their page and unlocks them with a
reason, at desktop size and on a 360 px screen. The screenshots are the README's
(docs/screenshots/ops-*.png), so they show the console as it is."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ciam.audit.tags import AuditTag
from ciam.extensions import db
from tests.delegation.support_support import cast, events, lock
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 900}, "360": {"width": 360, "height": 740}}
REASON = "Locked out after a holiday; identity checked on a call, ticket 812"


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _shot(page, name: str, size: str) -> None:
    suffix = "" if size == "desktop" else "-360"
    page.screenshot(path=str(SCREENSHOTS / f"ops-{name}{suffix}.png"), full_page=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_support_engineer_finds_and_unlocks_a_locked_person(live_server, make, chromium, size):
    """Sign in on the way to /ops/, search "lovelace", see her marked locked, open her
    page, type a reason, press Unlock: the page says so, the account is unlocked and
    the audit trail names the engineer and the reason."""
    the_cast = cast()
    lock(the_cast.member)
    context = chromium.new_context(viewport=SIZES[size], device_scale_factor=1)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/ops/")
        assert urlsplit(page.url).path == "/login"
        page.get_by_label("Email").fill(the_cast.engineer.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/ops/")

        page.get_by_label("Email, name or organization").fill("lovelace")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url("**/ops/?q=lovelace")
        result = page.get_by_role("listitem").filter(has_text="ada@acme.test")
        assert "locked" in result.inner_text()
        _fits(page, SIZES[size]["width"])
        _shot(page, "search", size)

        page.get_by_role("link", name="ada@acme.test").click()
        page.get_by_role("heading", name="Ada Lovelace").wait_for()
        assert "Locked until" in page.get_by_role("definition").nth(2).inner_text()
        page.get_by_label("Reason for unlocking").fill(REASON)
        _fits(page, SIZES[size]["width"])
        _shot(page, "person-locked", size)

        page.get_by_role("button", name="Unlock").click()
        status = page.get_by_role("status")
        status.wait_for()
        assert status.inner_text() == "The account is unlocked: the person can sign in again."
        assert "Not locked" in page.get_by_role("definition").nth(2).inner_text()
        assert page.get_by_text(f"Reason: {REASON}").is_visible()
        _fits(page, SIZES[size]["width"])
        _shot(page, "unlocked", size)
    finally:
        context.close()

    db.session.refresh(the_cast.member)
    assert not the_cast.member.is_locked
    [event] = events(AuditTag.SUPPORT_ACCOUNT_ACTION, target=str(the_cast.member.id))
    assert (event.actor_id, event.data["reason"]) == (the_cast.engineer.id, REASON)
