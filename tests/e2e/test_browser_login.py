"""A real browser (Playwright driving Debian's /usr/bin/chromium) signs in at the
authorization endpoint: labels, button name, errors, a 360 px screen, cookie flags.

The portal's redirect URI is never reached over the network: the page routes it and
records the URL the provider sent the browser to."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import PASSWORD
from tests.oidc.rp import Portal

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://portal.example.test/callback"
SCREENSHOT = "/tmp/ciam-login-360.png"  # noqa: S108 - a fixed path for a human to open


@pytest.fixture
def context(chromium):
    """A fresh browser profile per test (no cookies carried over)."""
    ctx = chromium.new_context(viewport={"width": 1024, "height": 768})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


class PortalStub:
    """Stands in for the portal's callback page: fulfils the redirect URI in the browser
    and remembers every URL the browser was sent to."""

    def __init__(self, page, redirect_uri: str = REDIRECT_URI):
        self.hits: list[str] = []
        page.route(redirect_uri + "*", self._fulfil)

    def _fulfil(self, route):
        self.hits.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>portal callback</h1>")

    def params(self) -> dict[str, str]:
        assert len(self.hits) == 1, self.hits
        return {k: v[0] for k, v in parse_qs(urlsplit(self.hits[0]).query).items()}


def _authorize(live_server, make, page):
    """Open the authorization URL of a fresh confidential portal; land on /login."""
    user = make.user()
    portal, secret = make.portal(redirect_uri=REDIRECT_URI)
    rp = Portal(live_server, portal.client_id, secret, redirect_uri=REDIRECT_URI)
    url, state, _, _ = rp.authorization_url()
    stub = PortalStub(page)
    page.goto(url)
    assert urlsplit(page.url).path == "/login"
    return user, state, stub


def _sign_in(page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_by_label_reaches_redirect_uri(live_server, make, context):
    """Filling the fields found by their labels and pressing "Sign in" brings the
    browser to the portal's redirect URI with code, the portal's state and iss."""
    page = context.new_page()
    user, state, stub = _authorize(live_server, make, page)

    _sign_in(page, user.email, PASSWORD)
    page.wait_for_url(REDIRECT_URI + "?*")

    params = stub.params()
    assert params["code"]
    assert params["state"] == state
    assert params["iss"] == live_server
    assert page.get_by_role("heading").inner_text() == "portal callback"


def test_wrong_password_shows_error_and_stays(live_server, make, context):
    """A wrong password keeps the browser on the login page with a readable alert, the
    email kept, the password cleared, and nothing sent to the portal."""
    page = context.new_page()
    user, _, stub = _authorize(live_server, make, page)

    _sign_in(page, user.email, "not the password")

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "The email or password is not right."
    assert urlsplit(page.url).path == "/login"
    assert page.get_by_label("Email").input_value() == user.email
    assert page.get_by_label("Password").input_value() == ""
    assert stub.hits == []
    # The form still works: the right password now completes the flow.
    _sign_in(page, user.email, PASSWORD)
    page.wait_for_url(REDIRECT_URI + "?*")
    assert stub.params()["code"]


def test_login_page_fits_360px(live_server, make, chromium):
    """At 360x740 the login form is visible without horizontal scrolling (screenshot
    saved to /tmp/ciam-login-360.png for a human look)."""
    ctx = chromium.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
    try:
        page = ctx.new_page()
        _authorize(live_server, make, page)

        for control in (
            page.get_by_label("Email"),
            page.get_by_label("Password"),
            page.get_by_role("button", name="Sign in"),
        ):
            assert control.is_visible()
            box = control.bounding_box()
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 360
            assert box["y"] + box["height"] <= 740  # above the fold
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        ctx.close()


def test_cookies_are_httponly_samesite_lax(live_server, make, context):
    """After signing in, the login-session and flow cookies are HttpOnly and
    SameSite=Lax, as the browser stored them."""
    page = context.new_page()
    user, _, _ = _authorize(live_server, make, page)
    _sign_in(page, user.email, PASSWORD)
    page.wait_for_url(REDIRECT_URI + "?*")

    cookies = {c["name"]: c for c in context.cookies(live_server)}

    assert "ciam_session" in cookies, sorted(cookies)
    for cookie in cookies.values():
        assert cookie["httpOnly"] is True, cookie["name"]
        assert cookie["sameSite"] == "Lax", cookie["name"]
        assert cookie["domain"] == "127.0.0.1", cookie["name"]
    # Nothing readable from page scripts on the provider's origin.
    page.goto(live_server + "/account")
    assert page.evaluate("document.cookie") == ""
