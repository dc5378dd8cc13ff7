"""A real browser (Playwright driving Debian's /usr/bin/chromium) in the org console,
at desktop size and 360 px wide: an org admin invites someone, gives a role within
the seats, hits the seat limit (the message names the portal and the count) and
suspends a member. The screenshots land in docs/screenshots/ (README "Org console")."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.delegation.console_support import PORTAL, console_world
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 900}, "360": {"width": 360, "height": 780}}


@pytest.fixture(params=sorted(SIZES))
def sized_page(request, chromium):
    context = chromium.new_context(viewport=SIZES[request.param])
    context.set_default_timeout(10_000)
    yield request.param, context.new_page()
    context.close()


def _shot(page, name: str, size: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"org-{name}-{size}.png"), full_page=True)


def _fits(page) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def _sign_in(page, live_server: str) -> None:
    page.goto(f"{live_server}/org/acme/")
    assert urlsplit(page.url).path == "/login"
    page.get_by_label("Email").fill("admin@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/org/acme/")


def _open_member(page, email: str) -> None:
    page.get_by_role("link", name="Members", exact=True).click()
    page.get_by_role("link", name=email).click()
    page.get_by_role("heading", name=email).wait_for()


def _give_role(page, email: str) -> None:
    _open_member(page, email)
    page.get_by_label("Role", exact=True).select_option(label="Claims handler")
    page.get_by_role("button", name="Give role").click()


def test_an_org_admin_invites_assigns_hits_the_seat_limit_and_suspends(
    live_server, make, sized_page
):
    """Found by labels and button names, at both sizes with no sideways scrolling:
    the invitation is listed, the first role fits the one seat, the second is refused
    naming the portal and the count, and the suspended member can be reactivated."""
    size, page = sized_page
    console_world(seats=1)
    _sign_in(page, live_server)
    _fits(page)
    _shot(page, "members", size)

    page.get_by_role("link", name="Invitations").click()
    page.get_by_label("Email").fill("newcomer@example.test")
    page.get_by_label("Claims handler").check()
    page.get_by_role("button", name="Send invitation").click()
    assert page.get_by_role("status").inner_text() == "The invitation was sent."
    assert page.get_by_role("button", name="Resend to newcomer@example.test").is_visible()
    _fits(page)
    _shot(page, "invitations", size)

    _give_role(page, "member@acme.test")
    assert page.get_by_role("status").first.inner_text() == "The role was given."
    assert page.get_by_text(f"{PORTAL}: adjuster, reader").first.is_visible()

    _give_role(page, "manager@acme.test")
    alert = page.get_by_role("alert")
    assert f"No seat left on portal {PORTAL}: 1 of 1 seat(s)" in alert.inner_text()
    _fits(page)
    _shot(page, "seat-limit", size)

    _open_member(page, "member@acme.test")
    page.get_by_role("button", name="Suspend").click()
    assert "was suspended" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("button", name="Reactivate").is_visible()
    _fits(page)
    _shot(page, "member", size)
