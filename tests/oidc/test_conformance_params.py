"""Authorization request parameters (OIDC Core §3.1.2.1, §6; RFC 6749 §3.1, §4.1.2.1).

Optional parameters the provider does not act on are accepted and never break the
flow; request objects are refused with their own error codes, never ignored; malformed
requests get an error, back at the portal once its redirect URI is known.
"""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlencode

import pytest
import requests

from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp, redeem, validate_id_token
from tests.oidc_flow import Browser, csrf_token, location, redirect_params

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")

# An unsigned request object (alg none): what the certification suite sends.
REQUEST_OBJECT = "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6ImZyb20tb2JqZWN0In0."


def _setup(live_server, make, **portal_kwargs):
    user = make.user()
    portal, secret = make.portal(**portal_kwargs)
    return user, portal, portal_rp(live_server, portal, secret)


def _authorize_url(live_server, params) -> str:
    return live_server + "/oauth/authorize?" + urlencode(params)


def _base_params(portal, **extra) -> list[tuple[str, str]]:
    params = [
        ("response_type", "code"),
        ("client_id", portal.client_id),
        ("redirect_uri", portal.redirect_uris[0]),
        ("scope", "openid"),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ]
    return params + list(extra.items())


def _assert_error_at_portal(response, portal, live_server, error: str, state="st-1") -> None:
    assert response.headers["Location"].startswith(portal.redirect_uris[0] + "?")
    callback = redirect_params(response)
    assert callback["error"] == error
    assert callback["state"] == state
    assert callback["iss"] == live_server  # RFC 9207 §2: on errors too
    assert "code" not in callback


def test_login_hint_prefills_the_login_page(live_server, make):
    """login_hint reaches the login page as the prefilled Email, and the flow completes."""
    user, _, rp = _setup(live_server, make)
    browser = Browser(live_server)
    url, state, verifier, nonce = rp.authorization_url(login_hint=user.email)

    to_login = browser.get(url)
    assert location(to_login).path == "/login"
    page = browser.get(to_login.headers["Location"])
    email_input = re.search(r'<input[^>]*id="email"[^>]*>', page.text).group(0)
    assert f'value="{user.email}"' in unescape(email_input)

    callback = redirect_params(browser.authorize(url, user.email, PASSWORD))
    redeem(rp, callback, state, verifier, nonce)


def test_id_token_hint_for_the_current_user_is_accepted(live_server, make):
    """A valid id_token_hint naming the signed-in user: silent success, also with
    prompt=none (the certification's oidcc-id-token-hint test)."""
    user, _, rp = _setup(live_server, make)
    token, first, browser = rp.login(user.email, PASSWORD)

    for extra in ({}, {"prompt": "none"}):
        url, state, verifier, nonce = rp.authorization_url(id_token_hint=token["id_token"], **extra)
        _, claims = redeem(rp, redirect_params(browser.get(url)), state, verifier, nonce)
        assert claims["sub"] == first["sub"]


def test_id_token_hint_for_another_user_is_login_required(live_server, make):
    """A hint naming someone else than the signed-in person is not silently ignored."""
    user, _, rp = _setup(live_server, make)
    other = make.user()
    other_token, _, _ = rp.login(other.email, PASSWORD)
    _, _, browser = rp.login(user.email, PASSWORD)
    url, state, *_ = rp.authorization_url(id_token_hint=other_token["id_token"], prompt="none")

    callback = redirect_params(browser.get(url))

    assert callback["error"] == "login_required"
    assert callback["state"] == state


@pytest.mark.parametrize(
    "extra",
    [
        {"claims": json.dumps({"id_token": {"email": {"essential": True}}, "userinfo": {}})},
        {"ui_locales": "fr-CA fr en"},
        {"claims_locales": "de en"},
        {"acr_values": "urn:mace:incommon:iap:silver"},
        {"display": "page"},
        {"display": "popup"},
        {"response_mode": "query"},
        {"extra_unknown_parameter": "ignored", "another": ""},
    ],
    ids=lambda extra: next(iter(extra)) + "=" + next(iter(extra.values()))[:12],
)
def test_optional_parameters_do_not_break_the_flow(live_server, make, extra):
    """OIDC Core §3.1.2.1 optional parameters, and unknown ones (RFC 6749 §3.1),
    are accepted: the flow ends with a code and a valid ID token."""
    user, _, rp = _setup(live_server, make)

    _, claims, _ = rp.login(user.email, PASSWORD, **extra)

    assert claims["sub"] == str(user.id)


@pytest.mark.parametrize(
    ("param", "error"),
    [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")],
)
def test_request_objects_are_refused(live_server, make, param, error):
    """OIDC Core §6.1/§6.2: request and request_uri are refused with their own error,
    carrying state and iss, before any login page."""
    _, portal, _ = _setup(live_server, make)
    value = REQUEST_OBJECT if param == "request" else "https://portal.example.test/req.jwt"
    url = _authorize_url(live_server, _base_params(portal, **{param: value}))

    response = Browser(live_server).get(url)

    _assert_error_at_portal(response, portal, live_server, error)


@pytest.mark.parametrize(
    "response_type", ["token", "id_token", "code id_token", "code token", "id_token token"]
)
def test_unsupported_response_type(live_server, make, response_type):
    """Only the code flow is offered (Basic OP): other response types, for a valid
    client and redirect URI, go back as unsupported_response_type."""
    _, portal, _ = _setup(live_server, make)
    params = [(k, response_type if k == "response_type" else v) for k, v in _base_params(portal)]

    response = Browser(live_server).get(_authorize_url(live_server, params))

    _assert_error_at_portal(response, portal, live_server, "unsupported_response_type")


def test_missing_response_type(live_server, make):
    """RFC 6749 §4.1.2.1: a missing required parameter is invalid_request."""
    _, portal, _ = _setup(live_server, make)
    params = [(k, v) for k, v in _base_params(portal) if k != "response_type"]

    response = Browser(live_server).get(_authorize_url(live_server, params))

    _assert_error_at_portal(response, portal, live_server, "invalid_request")


def test_unsupported_response_type_with_unregistered_redirect_is_not_redirected(live_server, make):
    """RFC 6749 §4.1.2.1: an error is never sent to a redirect URI not registered."""
    _, portal, _ = _setup(live_server, make)
    params = _base_params(portal)
    params = [
        (k, {"response_type": "token", "redirect_uri": "https://evil.test/cb"}.get(k, v))
        for k, v in params
    ]

    response = Browser(live_server).get(_authorize_url(live_server, params))

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_duplicate_state_is_an_error(live_server, make):
    """RFC 6749 §3.1: parameters must not repeat. Two states are refused on an error
    page, since either one could be the portal's."""
    _, portal, _ = _setup(live_server, make)
    params = [*_base_params(portal), ("state", "st-2")]

    response = Browser(live_server).get(_authorize_url(live_server, params))

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize("param", ["nonce", "prompt", "max_age", "code_challenge"])
def test_other_duplicate_parameters_are_an_error(live_server, make, param):
    """RFC 6749 §3.1: any repeated parameter is invalid_request; a repeated prompt or
    nonce must not be read one way by one check and another way by the next."""
    user, portal, _ = _setup(live_server, make)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)
    values = {"nonce": "n-2", "prompt": "none", "max_age": "0", "code_challenge": "x" * 43}
    params = [*_base_params(portal), (param, values[param]), (param, values[param])]
    if param == "code_challenge":
        params.append(("code_challenge_method", "S256"))  # valid apart from the repeat

    response = browser.get(_authorize_url(live_server, params))

    _assert_error_at_portal(response, portal, live_server, "invalid_request")


def test_state_and_nonce_are_echoed(live_server, make):
    """State comes back unchanged in the redirect, nonce in the ID token, with iss."""
    user, _, rp = _setup(live_server, make)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)
    state, nonce = "a state/with+odd=chars&more", "nonce.with-odd_chars~"
    url, _ = rp.session.create_authorization_url(
        rp.metadata["authorization_endpoint"],
        state=state,
        nonce=nonce,
        code_verifier="v" * 64,
    )

    callback = redirect_params(browser.get(url))

    assert callback["state"] == state
    assert callback["iss"] == live_server
    _, claims = redeem(rp, callback, state, "v" * 64, nonce)
    assert claims["nonce"] == nonce


def test_request_without_nonce_succeeds(live_server, make):
    """The code flow does not require a nonce (OIDC Core §3.1.2.1); none is echoed."""
    user, portal, rp = _setup(live_server, make)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)
    params = [(k, v) for k, v in _base_params(portal) if k != "nonce"]

    callback = redirect_params(browser.get(_authorize_url(live_server, params)))
    token = rp.session.fetch_token(rp.metadata["token_endpoint"], code=callback["code"])

    claims = validate_id_token(token["id_token"], live_server, portal.client_id, None)
    assert "nonce" not in claims


def test_authorization_by_post_with_a_live_session(live_server, make):
    """OIDC Core §3.1.2.1: the endpoint accepts POST form parameters (no CSRF error:
    the portal's own page posts them)."""
    user, portal, _ = _setup(live_server, make)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)

    response = browser.post("/oauth/authorize", data=dict(_base_params(portal)))

    callback = redirect_params(response)
    assert callback["code"]
    assert callback["state"] == "st-1"
    assert callback["iss"] == live_server


def test_authorization_by_post_through_login(live_server, make):
    """A POSTed authorization request survives the detour through the login page."""
    user, portal, _ = _setup(live_server, make)
    browser = Browser(live_server)

    to_login = location(browser.post("/oauth/authorize", data=dict(_base_params(portal))))
    assert to_login.path == "/login"
    next_url = parse_qs(to_login.query)["next"][0]
    response = browser.login(user.email, PASSWORD, next_url)

    # The login answers the authorization request itself (flow.continue_to).
    callback = redirect_params(response)
    assert callback["code"]
    assert callback["state"] == "st-1"


def test_authorization_by_post_through_consent(live_server, make):
    """A POSTed request for a third-party portal: the consent form carries the
    request on, and allowing it issues the code for that request."""
    user, portal, _ = _setup(live_server, make, first_party=False)
    browser = Browser(live_server)
    browser.login(user.email, PASSWORD)

    page = browser.post("/oauth/authorize", data=dict(_base_params(portal)))
    assert 'name="decision"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    allowed = browser.post(
        unescape(action), data={"csrf_token": csrf_token(page.text), "decision": "allow"}
    )

    callback = redirect_params(allowed)
    assert callback["code"]
    assert callback["state"] == "st-1"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oauth/token", "grant_type=client_credentials&grant_type=client_credentials"),
        ("/oauth/token", "grant_type=client_credentials&scope=openid&scope=profile"),
        ("/oauth/introspect", "token=a&token=b"),
        ("/oauth/revoke", "token=a&token=b"),
    ],
)
def test_repeated_parameters_at_portal_endpoints_are_refused(live_server, make, path, body):
    """RFC 6749 §3.2: parameters MUST NOT be sent more than once. Refused with
    invalid_request (Authlib alone would use the first value), the name not echoed."""
    portal, secret = make.portal(scopes=["openid", "profile"])
    response = requests.post(
        live_server + path,
        data=body,
        auth=(portal.client_id, secret),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"
