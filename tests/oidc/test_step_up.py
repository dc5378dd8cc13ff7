"""Step-up: a portal asking `acr_values=mfa` (or a `claims` request for acr "mfa")
gets a login that used a second factor, and the ID token says so: `amr` lists the
methods (RFC 8176) and `acr` is "mfa". Over real HTTP with Authlib as the portal."""

from __future__ import annotations

import json

import pyotp
import pytest

from ciam.accounts.mfa import factors
from ciam.accounts.models import LoginSession
from ciam.delegation import services as orgs
from ciam.extensions import db
from tests.accounts.mfa_support import MANUAL_KEY, enrol_totp
from tests.factories import PASSWORD
from tests.oidc.rp import login_with_second_factor, portal_rp, redeem, validate_id_token
from tests.oidc_flow import Browser, csrf_token, location, redirect_params


def _totp(secret: str):
    return lambda: pyotp.TOTP(secret).now()


def test_step_up_from_a_password_session_asks_only_the_second_factor(live_server, make):
    """A live password-only session and a portal asking acr_values=mfa: the person is
    sent straight to the second step (no password again), and the ID token carries
    amr ["pwd", "otp", "mfa"] and acr "mfa"."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    _, first, _ = rp.login(user.email, PASSWORD, browser)
    assert first["amr"] == ["pwd"] and first["acr"] == "password"
    totp_secret = enrol_totp(user)

    url, *_ = rp.authorization_url(acr_values="mfa")
    asked = browser.get(url)

    assert location(asked).path == "/login/mfa"
    _, claims = login_with_second_factor(
        rp, browser, None, None, _totp(totp_secret), acr_values="mfa"
    )
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "mfa"
    assert claims["auth_time"] >= first["auth_time"]


def test_a_session_that_used_a_second_factor_needs_no_step_up(live_server, make):
    """Once the session has a second factor, acr_values=mfa goes straight through."""
    user = make.user()
    totp_secret = enrol_totp(user)
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    login_with_second_factor(rp, browser, user.email, PASSWORD, _totp(totp_secret))

    url, state, verifier, nonce = rp.authorization_url(acr_values="mfa")
    callback = redirect_params(browser.authorize(url))

    _, claims = redeem(rp, callback, state, verifier, nonce)
    assert claims["acr"] == "mfa" and "otp" in claims["amr"]


def test_fresh_login_with_acr_values_mfa(live_server, make):
    """No session: password, then the code, then the portal gets acr "mfa"."""
    user = make.user()
    totp_secret = enrol_totp(user)
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)

    _, claims = login_with_second_factor(
        rp, Browser(live_server), user.email, PASSWORD, _totp(totp_secret), acr_values="mfa"
    )

    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "mfa"


ESSENTIAL_MFA = json.dumps({"id_token": {"acr": {"essential": True, "values": ["mfa"]}}})


def test_password_only_login_claims_the_password_acr(live_server, make):
    """Without a second factor the ID token has amr ["pwd"] and acr "password", the
    weaker of the two values discovery advertises."""
    user = make.user()
    portal, secret = make.portal()
    _, claims, _ = portal_rp(live_server, portal, secret).login(user.email, PASSWORD)
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "password"


def test_discovery_advertises_every_acr_asserted(client):
    """acr_values_supported lists both values an ID token can carry."""
    body = client.get("/.well-known/openid-configuration").get_json()
    assert body["acr_values_supported"] == ["password", "mfa"]


@pytest.mark.parametrize("acr_values", ["mfa", "password mfa", "mfa password", "mfa urn:x:gold"])
def test_voluntary_mfa_without_a_factor_signs_in_with_password(live_server, make, acr_values):
    """acr_values is voluntary (OIDC Core §3.1.2.1): a person with no factor is not
    sent to set one up; the portal gets a code and acr "password" (the strongest
    this person can do now). Unknown values beside it are ignored."""
    user = make.user()
    portal, secret = make.portal()
    _, claims, _ = portal_rp(live_server, portal, secret).login(
        user.email, PASSWORD, acr_values=acr_values
    )
    assert claims["acr"] == "password" and claims["amr"] == ["pwd"]
    assert not factors.has_factor(user.id)


def test_voluntary_unknown_acr_is_ignored(live_server, make):
    """An acr value we do not know, asked voluntarily, changes nothing."""
    user = make.user()
    portal, secret = make.portal()
    _, claims, _ = portal_rp(live_server, portal, secret).login(
        user.email, PASSWORD, acr_values="urn:mace:incommon:iap:silver"
    )
    assert claims["acr"] == "password"


def test_voluntary_both_values_with_a_factor_asserts_mfa(live_server, make):
    """Both values asked voluntarily by a person who has a factor: the second factor
    is asked and the ID token says "mfa"."""
    user = make.user()
    totp_secret = enrol_totp(user)
    portal, secret = make.portal()
    _, claims = login_with_second_factor(
        portal_rp(live_server, portal, secret),
        Browser(live_server),
        user.email,
        PASSWORD,
        _totp(totp_secret),
        acr_values="password mfa",
    )
    assert claims["acr"] == "mfa"


@pytest.mark.parametrize(
    "acr", [{"essential": True, "values": ["urn:x:gold"]}, {"essential": True, "value": "gold"}]
)
def test_essential_unknown_acr_is_unmet(live_server, make, acr):
    """An essential acr naming no value we assert is answered at the redirect URI with
    unmet_authentication_requirements, state and iss; no login page."""
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    url, state, *_ = rp.authorization_url(claims=json.dumps({"id_token": {"acr": acr}}))

    callback = redirect_params(Browser(live_server).get(url))

    assert callback["error"] == "unmet_authentication_requirements"
    assert callback["state"] == state and callback["iss"] == live_server
    assert "code" not in callback


def test_essential_password_or_mfa_needs_no_enrolment(live_server, make):
    """An essential acr that "password" meets asks for no second factor."""
    user = make.user()
    portal, secret = make.portal()
    claims_request = json.dumps(
        {"id_token": {"acr": {"essential": True, "values": ["password", "mfa"]}}}
    )
    _, claims, _ = portal_rp(live_server, portal, secret).login(
        user.email, PASSWORD, claims=claims_request
    )
    assert claims["acr"] == "password"


def _forced_enrolment_page(live_server, make):
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    url, state, verifier, nonce = rp.authorization_url(claims=ESSENTIAL_MFA)
    return rp, browser, browser.authorize(url, user.email, PASSWORD), (state, verifier, nonce)


def test_cancel_forced_enrolment_answers_the_portal(live_server, make):
    """The enrolment page of an essential mfa request has a way out: Cancel answers
    the portal with unmet_authentication_requirements (with state and iss)."""
    _, browser, page, (state, *_) = _forced_enrolment_page(live_server, make)
    assert "Cancel" in page.text

    cancelled = browser.post("/login/mfa/enrol/cancel", data={"csrf_token": csrf_token(page.text)})
    callback = redirect_params(browser.get(location(cancelled).geturl()))

    assert callback["error"] == "unmet_authentication_requirements"
    assert callback["state"] == state and callback["iss"] == live_server


def test_essential_mfa_without_a_factor_sets_one_up(live_server, make):
    """A person with no factor meeting an essential acr of "mfa" (claims request) sets
    up an authenticator in the login; the portal then gets acr "mfa"."""
    rp, browser, response, (state, verifier, nonce) = _forced_enrolment_page(live_server, make)

    assert response.status_code == 200
    assert "The service you are signing in to asks for two-step verification." in response.text
    key = MANUAL_KEY.search(response.text).group(1).replace(" ", "")
    done = browser.post(
        "/login/mfa/enrol",
        data={
            "csrf_token": csrf_token(response.text),
            "method": "totp",
            "code": pyotp.TOTP(key).now(),
        },
    )
    assert done.status_code == 200 and "Save your recovery codes" in done.text
    onward = done.text.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    callback = redirect_params(browser.authorize(onward))
    _, claims = redeem(rp, callback, state, verifier, nonce)
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == "mfa"


def test_prompt_none_cannot_step_up(live_server, make):
    """prompt=none never shows a page: a password-only session meeting acr_values=mfa
    gets login_required back at the portal."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    rp.login(user.email, PASSWORD, browser)
    enrol_totp(user)

    url, *_ = rp.authorization_url(acr_values="mfa", prompt="none")
    callback = redirect_params(browser.get(url))

    assert callback["error"] == "login_required"


def test_claims_request_for_acr_mfa_steps_up(live_server, make):
    """A `claims` request (OIDC Core §5.5.1.1) for an essential acr of "mfa" asks for
    the second factor like acr_values does."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)
    rp.login(user.email, PASSWORD, browser)
    totp_secret = enrol_totp(user)
    claims_request = json.dumps({"id_token": {"acr": {"essential": True, "values": ["mfa"]}}})

    url, *_ = rp.authorization_url(claims=claims_request)
    assert location(browser.get(url)).path == "/login/mfa"

    _, claims = login_with_second_factor(
        rp, browser, None, None, _totp(totp_secret), claims=claims_request
    )
    assert claims["acr"] == "mfa"


def test_refreshed_id_token_keeps_amr_and_acr(live_server, make):
    """OIDC Core §12.2: the ID token from a refresh describes the same login."""
    user = make.user()
    totp_secret = enrol_totp(user)
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    token, _ = login_with_second_factor(
        rp, Browser(live_server), user.email, PASSWORD, _totp(totp_secret), acr_values="mfa"
    )

    refreshed = rp.session.refresh_token(rp.metadata["token_endpoint"], token["refresh_token"])

    claims = validate_id_token(refreshed["id_token"], live_server, portal.client_id, None)
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == "mfa"


def test_org_policy_applies_to_portal_logins(live_server, make, ctx):
    """A member of an MFA-requiring organization with a factor gets MFA at every
    portal login, acr_values or not."""
    user = make.user()
    totp_secret = enrol_totp(user)
    org = orgs.create_org("portal-policy", "Portal Policy")
    org.mfa_required = True
    orgs.add_member(org, user)
    db.session.commit()
    portal, secret = make.portal()

    _, claims = login_with_second_factor(
        portal_rp(live_server, portal, secret),
        Browser(live_server),
        user.email,
        PASSWORD,
        _totp(totp_secret),
    )

    assert claims["acr"] == "mfa"
    assert factors.has_factor(user.id)
    assert db.session.scalar(db.select(LoginSession.amr)) == ["pwd", "otp", "mfa"]
