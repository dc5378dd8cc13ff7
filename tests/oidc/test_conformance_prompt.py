"""OpenID certification, Basic OP plan: prompt and max_age (OIDC Core §3.1.2.1).

`prompt=login` and an exceeded `max_age` force a new login and a new auth_time even with
a live session; `prompt=none` never shows a page: it succeeds silently or returns
login_required / consent_required to the portal.
"""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs

import pytest

from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp, redeem
from tests.oidc_flow import Browser, csrf_token, location, redirect_params


def _signed_in(live_server, make, **portal_kwargs):
    """A user signed in at the provider through one full authorization."""
    user = make.user()
    portal, secret = make.portal(**portal_kwargs)
    rp = portal_rp(live_server, portal, secret)
    _, claims, browser = rp.login(user.email, PASSWORD)
    return user, rp, browser, claims


def test_prompt_login_forces_a_new_login_and_auth_time(live_server, make):
    """prompt=login with a live session shows the login page again; the new ID token
    carries the auth_time of that fresh login, not of the earlier one."""
    user, rp, browser, first = _signed_in(live_server, make)
    time.sleep(1.1)  # auth_time has one-second resolution
    url, state, verifier, nonce = rp.authorization_url(prompt="login")

    assert location(browser.get(url)).path == "/login"

    callback = redirect_params(browser.authorize(url, user.email, PASSWORD))
    _, second = redeem(rp, callback, state, verifier, nonce)
    assert second["auth_time"] > first["auth_time"]
    assert second["sub"] == first["sub"]


def test_prompt_login_cannot_be_skipped_by_returning_to_authorize(live_server, make):
    """Re-requesting the same prompt=login URL without logging in asks again; the
    login page is the only way through."""
    _, rp, browser, _ = _signed_in(live_server, make)
    url, *_ = rp.authorization_url(prompt="login")
    login = location(browser.get(url))
    assert login.path == "/login"

    assert location(browser.get(url)).path == "/login"


def test_max_age_exceeded_forces_login(live_server, make):
    """max_age=1 after 2 s: the session is too old, so login again, new auth_time."""
    user, rp, browser, first = _signed_in(live_server, make)
    time.sleep(2)
    url, state, verifier, nonce = rp.authorization_url(max_age="1")

    assert location(browser.get(url)).path == "/login"

    callback = redirect_params(browser.authorize(url, user.email, PASSWORD))
    _, second = redeem(rp, callback, state, verifier, nonce)
    assert second["auth_time"] > first["auth_time"]
    assert second["auth_time"] >= int(time.time()) - 5


def test_max_age_zero_forces_login_once(live_server, make):
    """max_age=0 acts like prompt=login (OIDC Core §3.1.2.1): one login page, then a
    code, not a loop back to the login page."""
    user, rp, browser, first = _signed_in(live_server, make)
    time.sleep(1.1)
    url, state, verifier, nonce = rp.authorization_url(max_age="0")

    assert location(browser.get(url)).path == "/login"

    callback = redirect_params(browser.authorize(url, user.email, PASSWORD))
    _, second = redeem(rp, callback, state, verifier, nonce)
    assert second["auth_time"] > first["auth_time"]


def test_max_age_not_exceeded_keeps_session(live_server, make):
    """A large max_age lets the live session through: no page, same auth_time."""
    _, rp, browser, first = _signed_in(live_server, make)
    url, state, verifier, nonce = rp.authorization_url(max_age="10000")

    response = browser.get(url)

    callback = redirect_params(response)  # straight back to the portal
    _, second = redeem(rp, callback, state, verifier, nonce)
    assert second["auth_time"] == first["auth_time"]


def test_max_age_must_be_a_number(live_server, make):
    """A malformed max_age is an invalid_request sent back to the portal."""
    _, rp, browser, _ = _signed_in(live_server, make)
    url, state, *_ = rp.authorization_url(max_age="soon")

    callback = redirect_params(browser.get(url))

    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert callback["iss"] == live_server
    assert "code" not in callback


@pytest.mark.parametrize("max_age", ["99999999999999", "\u0663", "\u00b2", "-1", "1.5"])
def test_max_age_out_of_range_or_not_ascii_digits(live_server, make, max_age):
    """A max_age that would overflow (14 digits), a non-ASCII digit (Arabic-Indic 3,
    superscript 2) or a non-integer is invalid_request at the portal, with state
    and iss, never a 500 and never read as a number."""
    _, rp, browser, _ = _signed_in(live_server, make)
    url, state, *_ = rp.authorization_url(max_age=max_age)

    callback = redirect_params(browser.get(url))

    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert callback["iss"] == live_server
    assert "code" not in callback


def test_max_age_is_checked_without_a_session(live_server, make):
    """Without a session a bad max_age is refused at once, not carried through the
    login page into a code."""
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    url, state, *_ = rp.authorization_url(max_age="\u0663")

    callback = redirect_params(Browser(live_server).get(url))

    assert callback["error"] == "invalid_request" and callback["state"] == state


def test_ten_digit_max_age_keeps_the_session(live_server, make):
    """The largest max_age accepted (ten digits) lets a live session through."""
    _, rp, browser, first = _signed_in(live_server, make)
    url, state, verifier, nonce = rp.authorization_url(max_age="9999999999")

    callback = redirect_params(browser.get(url))

    _, second = redeem(rp, callback, state, verifier, nonce)
    assert second["auth_time"] == first["auth_time"]


def test_prompt_none_with_live_session_is_silent(live_server, make):
    """prompt=none with a live session issues a code at once, with no page."""
    _, rp, browser, first = _signed_in(live_server, make)
    url, state, verifier, nonce = rp.authorization_url(prompt="none")

    response = browser.get(url)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    _, claims = redeem(rp, redirect_params(response), state, verifier, nonce)
    assert claims["sub"] == first["sub"]
    assert claims["auth_time"] == first["auth_time"]


def test_prompt_none_without_session_is_login_required(live_server, make):
    """prompt=none and nobody signed in: login_required back to the portal."""
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    url, state, *_ = rp.authorization_url(prompt="none")

    response = Browser(live_server).get(url)

    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    callback = redirect_params(response)
    assert callback["error"] == "login_required"
    assert callback["state"] == state
    assert callback["iss"] == live_server


def test_prompt_none_when_consent_is_needed(live_server, make):
    """prompt=none for a third-party portal the person has not yet allowed:
    consent_required, never a consent page."""
    user = make.user()
    portal, secret = make.portal(first_party=False)
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)
    url, state, *_ = rp.authorization_url(prompt="none")

    response = browser.get(url)

    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    callback = redirect_params(response)
    assert callback["error"] == "consent_required"
    assert callback["state"] == state
    assert callback["iss"] == live_server
    assert "code" not in callback


def test_prompt_none_with_remembered_consent_is_silent(live_server, make):
    """Once the person allowed a third-party portal, prompt=none succeeds silently."""
    _, rp, browser, first = _signed_in(live_server, make, first_party=False)
    url, state, verifier, nonce = rp.authorization_url(prompt="none")

    _, claims = redeem(rp, redirect_params(browser.get(url)), state, verifier, nonce)

    assert claims["sub"] == first["sub"]


def test_prompt_none_with_another_value_is_invalid(live_server, make):
    """OIDC Core §3.1.2.1: none combined with any other prompt value is an error."""
    _, rp, browser, _ = _signed_in(live_server, make)
    url, state, *_ = rp.authorization_url(prompt="none login")

    callback = redirect_params(browser.get(url))

    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert callback["iss"] == live_server


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "0"}, {"max_age": "1"}])
def test_forced_login_then_consent_page(live_server, make, extra):
    """A login forced by prompt=login or max_age counts for the rest of that request:
    the consent page that follows (even answered after max_age seconds) issues the
    code instead of sending the person back to the login page."""
    user = make.user()
    portal, secret = make.portal(first_party=False)
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)
    if extra.get("max_age") == "1":
        time.sleep(1.5)  # let the first login grow older than max_age
    url, state, verifier, nonce = rp.authorization_url(**extra)

    to_login = location(browser.get(url))
    assert to_login.path == "/login"
    back = browser.login(user.email, PASSWORD, parse_qs(to_login.query)["next"][0])
    page = browser.get(back.headers["Location"])
    assert 'name="decision"' in page.text
    time.sleep(1.1)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    allowed = browser.post(
        unescape(action), data={"csrf_token": csrf_token(page.text), "decision": "allow"}
    )

    _, claims = redeem(rp, redirect_params(allowed), state, verifier, nonce)
    assert claims["sub"] == str(user.id)
