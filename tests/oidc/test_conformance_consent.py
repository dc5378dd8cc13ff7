"""Consent (OIDC Core §3.1.2.4): asked once per third-party portal and scope set,
remembered, asked again on prompt=consent, never for first-party portals."""

from __future__ import annotations

import re

from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp, redeem
from tests.oidc_flow import Browser, csrf_token, redirect_params

FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def _is_consent_page(response) -> bool:
    return response.status_code == 200 and 'name="decision"' in response.text


def _consent_action(page) -> str:
    return FORM_ACTION.search(page.text).group(1).replace("&amp;", "&")


def _third_party(live_server, make, **portal_kwargs):
    user = make.user()
    portal, secret = make.portal(first_party=False, **portal_kwargs)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)
    return user, portal, portal_rp(live_server, portal, secret), browser


def test_third_party_consent_asked_once_then_remembered(live_server, make):
    """The first authorization shows the consent page; allow issues a code; the next
    authorization for the same scopes goes straight back to the portal."""
    user, portal, rp, browser = _third_party(live_server, make)
    url, state, verifier, nonce = rp.authorization_url()

    page = browser.get(url)
    assert _is_consent_page(page)
    assert portal.name in page.text
    assert user.email in page.text

    allowed = browser.post(
        _consent_action(page), data={"csrf_token": csrf_token(page.text), "decision": "allow"}
    )
    _, claims = redeem(rp, redirect_params(allowed), state, verifier, nonce)
    assert claims["sub"] == str(user.id)

    url, state, verifier, nonce = rp.authorization_url()
    again = browser.get(url)
    assert not _is_consent_page(again)
    redeem(rp, redirect_params(again), state, verifier, nonce)


def test_consent_for_more_scopes_asks_again(live_server, make):
    """Consent covers the scopes that were shown: asking for more shows the page again."""
    _, _, rp, browser = _third_party(live_server, make)
    url, *_ = rp.authorization_url(scope="openid")
    browser.authorize(url, consent="allow")

    url, *_ = rp.authorization_url(scope="openid email")

    assert _is_consent_page(browser.get(url))


def test_consent_deny_is_access_denied(live_server, make):
    """Deny sends error=access_denied back with the state and iss (RFC 9207), no code,
    and nothing is remembered."""
    _, _, rp, browser = _third_party(live_server, make)
    url, state, *_ = rp.authorization_url()

    callback = redirect_params(browser.authorize(url, consent="deny"))

    assert callback["error"] == "access_denied"
    assert callback["state"] == state
    assert callback["iss"] == live_server
    assert "code" not in callback
    assert _is_consent_page(browser.get(rp.authorization_url()[0]))


def test_prompt_consent_asks_again(live_server, make):
    """prompt=consent shows the page even when consent is remembered."""
    _, _, rp, browser = _third_party(live_server, make)
    browser.authorize(rp.authorization_url()[0], consent="allow")

    url, state, verifier, nonce = rp.authorization_url(prompt="consent")
    page = browser.get(url)
    assert _is_consent_page(page)

    allowed = browser.post(
        _consent_action(page), data={"csrf_token": csrf_token(page.text), "decision": "allow"}
    )
    redeem(rp, redirect_params(allowed), state, verifier, nonce)


def test_first_party_portal_never_asks(live_server, make):
    """First-party portals (DESIGN §2) get no consent page, even with prompt=consent."""
    user = make.user()
    portal, secret = make.portal(first_party=True)
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)

    for prompt in (None, "consent"):
        url, state, verifier, nonce = rp.authorization_url(**({"prompt": prompt} if prompt else {}))
        response = browser.get(url)
        assert not _is_consent_page(response), prompt
        redeem(rp, redirect_params(response), state, verifier, nonce)


def test_consent_post_without_csrf_token_issues_no_code(live_server, make):
    """A forged consent POST (no csrf_token) neither issues a code nor records consent."""
    _, _, rp, browser = _third_party(live_server, make)
    url, state, *_ = rp.authorization_url()
    page = browser.get(url)
    assert _is_consent_page(page)

    forged = browser.post(_consent_action(page), data={"decision": "allow"})

    callback = redirect_params(forged)
    assert callback["error"] == "invalid_request"
    assert callback["state"] == state
    assert "code" not in callback
    assert _is_consent_page(browser.get(rp.authorization_url()[0]))


def test_consent_post_from_another_session_issues_no_code(live_server, make):
    """A csrf_token from someone else's page does not count for this browser."""
    _, _, rp, browser = _third_party(live_server, make)
    _, _, _, attacker = _third_party(live_server, make)
    url, *_ = rp.authorization_url()
    victim_page = browser.get(url)
    attacker_page = attacker.get(url)

    forged = browser.post(
        _consent_action(victim_page),
        data={"csrf_token": csrf_token(attacker_page.text), "decision": "allow"},
    )

    assert "code" not in redirect_params(forged)
