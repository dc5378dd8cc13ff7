"""Negative tests for the authorization endpoint (DESIGN §8, RFC 9700, RFC 6749 §4.1.2.1).

Until the client and its redirect URI are validated, an error is shown to the person
(status 400, no Location header): redirecting to an unvalidated URI would be an open
redirect. Once both are valid, errors go back to the portal with `error`, `state` and
`iss` (RFC 9207).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ciam.extensions import db
from ciam.oidc import portals
from tests.factories import PASSWORD
from tests.oidc.attacker import client_for
from tests.oidc_flow import Browser

REGISTERED = "https://portal.example.test/callback"


def get(url: str) -> requests.Response:
    return requests.get(url, allow_redirects=False, timeout=5)


def assert_error_page(response: requests.Response, code: str) -> None:
    assert response.status_code == 400, (response.status_code, response.headers)
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"<code>{code}</code>" in response.text


def assert_error_redirect(response: requests.Response, redirect_uri: str, error: str, state: str):
    """An RFC 6749 §4.1.2.1 error response with RFC 9207 `iss`, to the given URI."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = urlsplit(response.headers["Location"])
    assert location._replace(query="").geturl() == redirect_uri
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["error"] == error
    assert params["state"] == state
    assert params["iss"] == response.url.split("/oauth/")[0]
    assert "code" not in params


@pytest.mark.parametrize(
    "mutated",
    [
        pytest.param("https://portal.example.test/callback/extra", id="extra-path-segment"),
        pytest.param("https://portal.example.test/callback?next=x", id="extra-query"),
        pytest.param("https://portal.example.test/callback/", id="trailing-slash"),
        pytest.param("https://PORTAL.example.test/callback", id="host-case"),
        pytest.param("https://portal.example.test/Callback", id="path-case"),
        pytest.param("https://portal.example.test/callback/../evil", id="dot-dot"),
        pytest.param("https://portal.example.test/callback/%2e%2e/evil", id="encoded-dot-dot"),
        pytest.param("https://portal.example.test@evil.test/callback", id="userinfo-trick"),
        pytest.param("http://portal.example.test/callback", id="http-scheme"),
        pytest.param("https://evil.test/callback", id="other-host"),
        pytest.param("https://portal.example.test.evil.test/callback", id="host-suffix"),
        pytest.param("https://portal.example.test:8443/callback", id="other-port"),
        pytest.param("https://portal.example.test/callback#frag", id="fragment"),
    ],
)
def test_mutated_redirect_uri_is_refused_without_redirect(live_server, make, mutated):
    """RFC 9700 §4.1.3: redirect URIs match as exact strings. Any mutation of the
    registered URI gets an error page (400) and never a Location header, even for a
    signed-in person, so the endpoint cannot be used as an open redirector."""
    user = make.user()
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    # Control: the registered URI itself is accepted (sent on to the login page).
    accepted = get(client.authorize_url())
    assert accepted.status_code == 302
    assert urlsplit(accepted.headers["Location"]).path == "/login"

    assert_error_page(get(client.authorize_url(redirect_uri=mutated)), "invalid_request")

    signed_in = Browser(live_server)
    assert signed_in.login(user.email, PASSWORD).status_code in (302, 303)
    assert_error_page(signed_in.get(client.authorize_url(redirect_uri=mutated)), "invalid_request")
    # Control: the same session gets a code at the registered URI.
    issued = signed_in.get(client.authorize_url())
    assert issued.headers["Location"].startswith(REGISTERED + "?code=")


@pytest.mark.parametrize(
    "mutated",
    [
        pytest.param('https://portal.example.test/callback"', id="double-quote"),
        pytest.param("https://portal.example.test/callback\\", id="backslash"),
        pytest.param("https://portal.example.test/callbäck", id="non-ascii"),
        pytest.param("https://portal.example.test/callback\x00", id="nul"),
        pytest.param("https://portal.example.test/callback\r\nX-Evil: 1", id="crlf"),
    ],
)
def test_redirect_uri_with_odd_characters_is_refused_without_redirect(live_server, make, mutated):
    """A redirect URI with characters RFC 6749 §4.1.2.1 forbids in error_description
    is refused like any other mismatch (400 page), not with a server error, and is
    not echoed back."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    response = get(client_for(live_server, portal, secret).authorize_url(redirect_uri=mutated))
    assert_error_page(response, "invalid_request")
    message = re.search(r'<p role="alert">(.*?)</p>', response.text, re.S).group(1)
    assert "portal.example.test" not in message


@pytest.mark.parametrize("response_type", ["token", "code token", 'code"', "cöde"])
def test_unsupported_response_type_goes_back_to_the_portal(live_server, make, response_type):
    """RFC 6749 §4.1.2.1: with a valid client and redirect URI, an unsupported
    response_type (whatever its characters) is an error redirect with state and iss."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    response = get(client.authorize_url(state="s-7", response_type=response_type))
    assert_error_redirect(response, REGISTERED, "unsupported_response_type", "s-7")


def test_unsupported_response_type_with_bad_redirect_uri_is_an_error_page(live_server, make):
    """The redirect URI is still checked first: a bad one with a bad response_type is
    an error page, not a redirect to the unvalidated URI."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    response = get(client.authorize_url(response_type="token", redirect_uri="https://evil.test/"))
    assert_error_page(response, "unsupported_response_type")


@pytest.mark.parametrize("name", ['"', "ä"])
def test_repeated_odd_parameter_name_is_invalid_request(live_server, make, name):
    """RFC 6749 §3.1: a repeated parameter is invalid_request whatever its name; an
    odd name must not turn that into a server error."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    url = client.authorize_url(state="s-8") + "&" + urlencode([(name, "1"), (name, "2")])
    assert_error_redirect(get(url), REGISTERED, "invalid_request", "s-8")


def test_duplicate_redirect_uri_is_refused_without_redirect(live_server, make):
    """RFC 6749 §3.1: parameters must not repeat. A good and an evil redirect_uri
    side by side get an error page, not a redirect to either."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    url = client_for(live_server, portal, secret).authorize_url()
    assert_error_page(get(url + "&redirect_uri=https%3A%2F%2Fevil.test%2Fcb"), "invalid_request")


def test_missing_redirect_uri_with_several_registered_is_refused(live_server, make):
    """RFC 6749 §3.1.2.3: with more than one registered URI the request must name
    one; nothing is guessed and nothing is redirected."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    portal.redirect_uris = [REGISTERED, "https://portal.example.test/other"]
    db.session.commit()
    url = client_for(live_server, portal, secret).authorize_url(redirect_uri=None)
    assert_error_page(get(url), "invalid_request")


def test_loopback_redirect_uri_may_change_port(live_server, make):
    """RFC 8252 §7.3: for an http loopback IP literal only the port may differ from
    the registered URI; the code is issued to, and redeemed with, the requested one."""
    user = make.user()
    portal, _ = make.portal(public=True, redirect_uri="http://127.0.0.1/cb")
    client = client_for(live_server, portal, None, redirect_uri="http://127.0.0.1:53124/cb")

    code, verifier = client.get_code(user.email)
    response = client.redeem(code, verifier)

    assert response.status_code == 200, response.text
    assert "access_token" in response.json()


@pytest.mark.parametrize(
    "mutated",
    [
        pytest.param("http://127.0.0.1:53124/cb/../x", id="dot-dot"),
        pytest.param("http://127.0.0.1:53124/cb?x=1", id="extra-query"),
        pytest.param("http://localhost:53124/cb", id="localhost-name"),
        pytest.param("http://127.0.0.2:53124/cb", id="other-loopback-ip"),
        pytest.param("http://evil.test@127.0.0.1:53124/cb", id="userinfo"),
        pytest.param("http://127.0.0.1:53124@evil.test/cb", id="userinfo-host-trick"),
        pytest.param("https://127.0.0.1:53124/cb", id="https-scheme"),
        pytest.param("http://127.0.0.1:99999/cb", id="port-out-of-range"),
    ],
)
def test_loopback_port_exception_allows_nothing_else(live_server, make, mutated):
    """The RFC 8252 port exception is only about the port: every other part of a
    loopback redirect URI must still match exactly."""
    portal, _ = make.portal(public=True, redirect_uri="http://127.0.0.1/cb")
    client = client_for(live_server, portal, None)
    assert_error_page(get(client.authorize_url(redirect_uri=mutated)), "invalid_request")


def test_port_exception_is_only_for_loopback_ip_literals(live_server, make):
    """RFC 8252 §7.3 names loopback IP literals; `localhost` may resolve elsewhere
    (§8.3), so a portal registered with http://localhost gets exact matching."""
    portal, _ = make.portal(public=True, redirect_uri="http://localhost/cb")
    client = client_for(live_server, portal, None)
    response = get(client.authorize_url(redirect_uri="http://localhost:53124/cb"))
    assert_error_page(response, "invalid_request")


def test_unknown_client_id_is_refused_without_redirect(live_server, make):
    """RFC 6749 §4.1.2.1: an unknown client_id gets an error page; the redirect_uri it
    names is not trusted."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    url = client_for(live_server, portal, secret).authorize_url(client_id="no-such-portal")
    assert_error_page(get(url), "invalid_client")


def test_missing_client_id_is_refused_without_redirect(live_server, make):
    """Without a client_id there is no client to redirect to: an error page."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    url = client_for(live_server, portal, secret).authorize_url(client_id=None)
    assert_error_page(get(url), "invalid_client")


def test_retired_portal_cannot_authorize(live_server, make):
    """A retired portal is no client: its users see an error page, not a redirect."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    assert get(client.authorize_url()).status_code == 302  # control: live portal works

    portals.retire_portal(portal.client_id)
    db.session.commit()

    assert_error_page(get(client.authorize_url()), "invalid_client")


def test_public_client_without_code_challenge_gets_error(live_server, make):
    """RFC 9700 §2.1.1: a public client must use PKCE; without code_challenge the
    request is refused back to the (valid) redirect URI with invalid_request."""
    portal, _ = make.portal(public=True, redirect_uri=REGISTERED)
    client = client_for(live_server, portal, None)
    response = get(client.authorize_url(state="s-1"))
    assert_error_redirect(response, REGISTERED, "invalid_request", "s-1")


def test_require_pkce_portal_without_code_challenge_gets_error(live_server, make):
    """A confidential portal set to require PKCE is held to it like a public one."""
    portal, secret = make.portal(require_pkce=True, redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    response = get(client.authorize_url(state="s-2"))
    assert_error_redirect(response, REGISTERED, "invalid_request", "s-2")


def test_plain_code_challenge_method_is_refused(live_server, make):
    """RFC 9700 §2.1.1: `plain` lets a stolen authorization request be replayed; only
    S256 is accepted."""
    portal, _ = make.portal(public=True, redirect_uri=REGISTERED)
    client = client_for(live_server, portal, None)
    verifier = generate_token(64)
    response = get(
        client.authorize_url(state="s-3", code_challenge=verifier, code_challenge_method="plain")
    )
    assert_error_redirect(response, REGISTERED, "invalid_request", "s-3")


def test_code_challenge_without_method_is_refused(live_server, make):
    """RFC 7636 §4.3: a missing method means `plain`, so it is refused as `plain` is."""
    portal, _ = make.portal(public=True, redirect_uri=REGISTERED)
    client = client_for(live_server, portal, None)
    challenge = create_s256_code_challenge(generate_token(64))
    response = get(client.authorize_url(state="s-4", code_challenge=challenge))
    assert_error_redirect(response, REGISTERED, "invalid_request", "s-4")


def test_code_challenge_method_without_challenge_is_refused(live_server, make):
    """A method without a challenge is a malformed request even for a confidential
    portal that may skip PKCE."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    response = get(client.authorize_url(state="s-5", code_challenge_method="S256"))
    assert_error_redirect(response, REGISTERED, "invalid_request", "s-5")


def test_prompt_none_without_session_returns_login_required(live_server, make):
    """OIDC Core §3.1.2.6: prompt=none never shows a page; without a session the
    portal gets login_required with its state and our iss."""
    portal, secret = make.portal(redirect_uri=REGISTERED)
    client = client_for(live_server, portal, secret)
    response = get(client.authorize_url(state="s-6", prompt="none"))
    assert_error_redirect(response, REGISTERED, "login_required", "s-6")
