"""Relying-party helpers built on Authlib's OAuth client (requests integration) and
joserfc, the way a portal would use them: discovery first, then every URL from it."""

from __future__ import annotations

import secrets
import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.oidc_flow import Browser, redirect_params


def discover(issuer: str) -> dict:
    response = requests.get(issuer + "/.well-known/openid-configuration", timeout=5)
    response.raise_for_status()
    return response.json()


def validate_id_token(id_token: str, issuer: str, client_id: str, nonce: str | None) -> dict:
    """OIDC Core §3.1.3.7, as a strict RP does it: signature from JWKS, iss, aud, exp."""
    metadata = discover(issuer)
    key_set = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
    token = jwt.decode(id_token, key_set, algorithms=["RS256", "ES256"])
    claims = token.claims
    assert claims["iss"] == issuer
    assert claims["aud"] == client_id or client_id in claims["aud"]
    assert claims["exp"] > time.time()
    if nonce is not None:
        assert claims["nonce"] == nonce
    return claims


class Portal:
    """A portal (client) talking to the provider over real HTTP."""

    def __init__(
        self,
        issuer,
        client_id,
        client_secret=None,
        redirect_uri=None,
        scope="openid profile email",
        **session_kwargs,
    ):
        self.issuer = issuer
        self.metadata = discover(issuer)
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        kwargs = dict(session_kwargs)
        if client_secret is None:
            kwargs.setdefault("token_endpoint_auth_method", "none")
        self.session = OAuth2Session(
            client_id,
            client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            **kwargs,
        )

    def authorization_url(self, **params) -> tuple[str, str, str, str]:
        verifier = generate_token(64)
        nonce = secrets.token_urlsafe(16)
        url, state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=verifier,
            nonce=nonce,
            **params,
        )
        return url, state, verifier, nonce

    def login(self, email: str, password: str, browser: Browser | None = None, **params):
        """Whole code + PKCE flow; returns (token, id_token_claims, browser)."""
        browser = browser or Browser(self.issuer)
        url, state, verifier, nonce = self.authorization_url(**params)
        callback = redirect_params(browser.authorize(url, email, password, consent="allow"))
        assert callback["state"] == state
        assert callback["iss"] == self.issuer
        token = self.session.fetch_token(
            self.metadata["token_endpoint"], code=callback["code"], code_verifier=verifier
        )
        claims = validate_id_token(token["id_token"], self.issuer, self.client_id, nonce)
        return token, claims, browser

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(
            self.metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=5,
        )


def portal_rp(issuer: str, portal, secret: str | None, **kwargs) -> Portal:
    """A relying party for a portal made by the factories, on its first redirect URI."""
    return Portal(issuer, portal.client_id, secret, redirect_uri=portal.redirect_uris[0], **kwargs)


def redeem(rp: Portal, callback: dict, state: str, verifier: str, nonce: str | None):
    """Check an authorization response like an RP does (state, RFC 9207 iss), then
    exchange its code; returns (token, validated ID token claims)."""
    assert "error" not in callback, callback
    assert callback["state"] == state
    assert callback["iss"] == rp.issuer
    token = rp.session.fetch_token(
        rp.metadata["token_endpoint"], code=callback["code"], code_verifier=verifier
    )
    return token, validate_id_token(token["id_token"], rp.issuer, rp.client_id, nonce)


def login_with_second_factor(
    rp: Portal, browser: Browser, email: str | None, password: str | None, code_for, **params
):
    """The whole code + PKCE flow when the login asks for a second factor: `code_for()`
    gives the code when the second-step page shows. Returns (token, ID token claims)."""
    from tests.oidc_flow import second_step

    url, state, verifier, nonce = rp.authorization_url(**params)
    response = browser.authorize(url, email, password, consent="allow")
    response = second_step(browser, response, code_for())
    assert response.status_code == 303, (response.status_code, response.text[:300])
    # The second step answers with the code itself, or (a consent page due) goes
    # back to the authorization endpoint.
    callback = redirect_params(browser.follow(response, consent="allow"))
    return redeem(rp, callback, state, verifier, nonce)
