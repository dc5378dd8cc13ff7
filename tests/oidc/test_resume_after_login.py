"""The login answers the authorization request it was for (flow.continue_to calls
ciam.oidc.authorize.answer_after_sign_in): the browser goes from the login form
straight to the portal, and the authorization endpoint's decisions are the ones it
takes on its own. Over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp, redeem
from tests.oidc_flow import Browser, location, redirect_params


def _setup(live_server, make, **portal_kwargs):
    user = make.user()
    portal, secret = make.portal(**portal_kwargs)
    return user, portal, portal_rp(live_server, portal, secret)


def _login_next(browser: Browser, url: str) -> str:
    """The `next` of the login page the authorization endpoint sends a browser to."""
    to_login = location(browser.get(url))
    assert to_login.path == "/login"
    return parse_qs(to_login.query)["next"][0]


def _authorize_path(portal, **extra) -> str:
    params = {
        "response_type": "code",
        "client_id": portal.client_id,
        "redirect_uri": portal.redirect_uris[0],
        "scope": "openid",
        "state": "st-1",
        **extra,
    }
    return "/oauth/authorize?" + urlencode(params)


def test_the_login_answers_with_the_code(live_server, make):
    user, portal, rp = _setup(live_server, make)
    browser = Browser(live_server)
    url, state, verifier, nonce = rp.authorization_url()

    response = browser.login(user.email, PASSWORD, _login_next(browser, url))

    # 303, never 307: the POST carried a password (RFC 9700 §4.12).
    assert response.status_code == 303
    assert response.headers["Location"].startswith(portal.redirect_uris[0] + "?")
    assert "no-store" in response.headers["Cache-Control"]
    _, claims = redeem(rp, redirect_params(response), state, verifier, nonce)
    assert claims["sub"] == str(user.id)
    assert claims["amr"] == ["pwd"]


def test_the_same_response_opens_the_login_session(live_server, make):
    """The session cookie comes with the code: the next request needs no login."""
    user, _, rp = _setup(live_server, make)
    browser = Browser(live_server)
    url, *_ = rp.authorization_url()
    browser.login(user.email, PASSWORD, _login_next(browser, url))

    url, state, verifier, nonce = rp.authorization_url(prompt="none")
    silent = browser.get(url)

    redeem(rp, redirect_params(silent), state, verifier, nonce)
    assert browser.get("/account").status_code == 200


def test_a_consent_page_is_left_to_the_browser(live_server, make):
    """A third-party portal without consent: the login sends the browser back to the
    authorization endpoint (the page shows at its own URL); no code yet."""
    user, _, rp = _setup(live_server, make, first_party=False)
    browser = Browser(live_server)
    url, state, verifier, nonce = rp.authorization_url()
    next_url = _login_next(browser, url)

    response = browser.login(user.email, PASSWORD, next_url)

    assert response.status_code == 303
    assert response.headers["Location"] == next_url
    page = browser.get(next_url)
    assert 'name="decision"' in page.text
    callback = redirect_params(browser.follow(page, consent="allow"))
    redeem(rp, callback, state, verifier, nonce)


def test_a_decision_smuggled_into_next_is_not_consent(live_server, make):
    """`decision=allow` in the login's next URL grants nothing: only the consent
    form's POST, with its CSRF token, decides."""
    user, portal, _ = _setup(live_server, make, first_party=False)
    browser = Browser(live_server)
    next_url = _authorize_path(portal, decision="allow")

    response = browser.login(user.email, PASSWORD, next_url)

    assert location(response).path == "/oauth/authorize"
    assert 'name="decision"' in browser.get(response.headers["Location"]).text


def test_an_error_for_the_portal_comes_from_the_login(live_server, make):
    """What the endpoint sends to the portal, an error included, comes as the
    login's answer (with state and RFC 9207 iss)."""
    user, portal, _ = _setup(live_server, make)
    browser = Browser(live_server)

    response = browser.login(user.email, PASSWORD, _authorize_path(portal, request="x.y.z"))

    assert response.status_code == 303
    callback = redirect_params(response)
    assert callback == {"error": "request_not_supported", "state": "st-1", "iss": live_server}


def test_an_error_page_is_left_to_the_browser(live_server, make):
    """An unknown redirect URI is never redirected to: the login sends the browser
    to the endpoint, which shows the person an error page."""
    user, portal, _ = _setup(live_server, make)
    browser = Browser(live_server)
    next_url = _authorize_path(portal, redirect_uri="https://attacker.example/cb")

    response = browser.login(user.email, PASSWORD, next_url)

    assert response.status_code == 303
    assert response.headers["Location"] == next_url
    page = browser.get(next_url)
    assert page.status_code == 400
    assert "attacker.example" not in page.headers.get("Location", "")


def test_other_destinations_are_unchanged(live_server, make):
    """Only our authorization endpoint is resumed; a look-alike path is not."""
    user, portal, _ = _setup(live_server, make)
    query = urlsplit(_authorize_path(portal)).query
    for next_url in ("/account", f"/oauth/authorize/x?{query}", f"/oauth//authorize?{query}"):
        browser = Browser(live_server)
        response = browser.login(user.email, PASSWORD, next_url)
        assert response.status_code == 303
        assert response.headers["Location"] == next_url
