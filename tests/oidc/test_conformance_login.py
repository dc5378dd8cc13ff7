"""The login page's `next` parameter: only local paths (RFC 9700 §4.11, DESIGN §8
"no open redirects anywhere")."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest

from tests.factories import PASSWORD
from tests.oidc_flow import Browser

ATTEMPTS = [
    "//evil.test",
    "//evil.test/account",
    "https://evil.test",
    "http://evil.test/",
    "/\\evil.test",
    "\\\\evil.test",
    "/\\/evil.test",
    "/\t/evil.test",
    "/%0a/evil.test\r\nLocation: https://evil.test",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "http:evil.test",
    "https:/evil.test",
    " //evil.test",
    "evil.test",
]


@pytest.mark.parametrize("next_url", ATTEMPTS)
def test_login_next_never_leaves_the_site(live_server, make, next_url):
    """Whatever `next` says, the redirect after a successful login stays on this
    site, and off-site attempts fall back to /account."""
    user = make.user()
    browser = Browser(live_server)

    response = browser.login(user.email, PASSWORD, next_url)

    assert response.status_code == 303
    target = response.headers["Location"]
    assert target == "/account"
    resolved = urlsplit(urljoin(live_server + "/login", target))
    assert (resolved.scheme, resolved.netloc) == tuple(urlsplit(live_server)[:2])


def test_login_next_keeps_a_local_path(live_server, make):
    """A local next (the authorization request) is followed: the fallback above is a
    real check, not an unconditional /account."""
    user = make.user()

    response = Browser(live_server).login(user.email, PASSWORD, "/oauth/authorize?x=1&y=2")

    assert response.headers["Location"] == "/oauth/authorize?x=1&y=2"


def test_login_next_from_query_reaches_the_form(live_server):
    """GET /login?next=... puts next in the form's hidden field, which is how the
    authorization endpoint gets the person back after the login."""
    page = Browser(live_server).get("/login", params={"next": "/oauth/authorize?x=1&y=2"})

    assert page.status_code == 200
    hidden = re.search(r'<input[^>]*name="next"[^>]*>', page.text).group(0)
    assert 'value="/oauth/authorize?x=1&y=2"' in unescape(hidden)
