"""Helpers for the negative (security) tests: raw authorization and token requests
over real HTTP, so each test controls exactly what is sent, and hand-built JWTs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.factories import PASSWORD
from tests.oidc_flow import Browser, redirect_params

DEFAULT_SCOPE = "openid profile email offline_access"


@dataclass
class Client:
    """A registered portal as an attacker or a legitimate caller sees it."""

    issuer: str
    client_id: str
    secret: str | None
    redirect_uri: str

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.client_id, self.secret) if self.secret else None

    def authorize_url(self, **params) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": DEFAULT_SCOPE,
            "state": "st-" + generate_token(8),
        }
        query.update(params)
        query = {k: v for k, v in query.items() if v is not None}
        return f"{self.issuer}/oauth/authorize?{urlencode(query)}"

    def get_code(
        self, email: str, *, pkce: bool = True, browser: Browser | None = None, **params
    ) -> tuple[str, str | None]:
        """Sign in and approve; return (code, code_verifier or None)."""
        verifier = generate_token(64) if pkce else None
        if verifier:
            params.setdefault("code_challenge", create_s256_code_challenge(verifier))
            params.setdefault("code_challenge_method", "S256")
        browser = browser or Browser(self.issuer)
        url = self.authorize_url(**params)
        callback = redirect_params(browser.authorize(url, email, PASSWORD, consent="allow"))
        assert "code" in callback, callback
        return callback["code"], verifier

    def token(self, auth: tuple[str, str] | str | None = "own", **data) -> requests.Response:
        """POST to the token endpoint; public clients identify with client_id."""
        if auth == "own":
            auth = self.auth
        if auth is None:
            data.setdefault("client_id", self.client_id)
        data = {k: v for k, v in data.items() if v is not None}
        return requests.post(f"{self.issuer}/oauth/token", data=data, auth=auth, timeout=5)

    def redeem(self, code: str, verifier: str | None, **extra) -> requests.Response:
        extra.setdefault("redirect_uri", self.redirect_uri)
        return self.token(
            grant_type="authorization_code", code=code, code_verifier=verifier, **extra
        )

    def login(self, email: str, **params) -> dict:
        """The whole happy path; returns the token response body."""
        code, verifier = self.get_code(email, **params)
        response = self.redeem(code, verifier)
        assert response.status_code == 200, response.text
        return response.json()

    def refresh(self, refresh_token: str, **extra) -> requests.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, **extra)

    def introspect(self, token: str) -> requests.Response:
        return requests.post(
            f"{self.issuer}/oauth/introspect", data={"token": token}, auth=self.auth, timeout=5
        )

    def is_active(self, token: str) -> bool:
        response = self.introspect(token)
        assert response.status_code == 200, response.text
        return response.json()["active"]


def client_for(issuer: str, portal, secret: str | None, redirect_uri: str | None = None):
    return Client(issuer, portal.client_id, secret, redirect_uri or portal.redirect_uris[0])


def userinfo(issuer: str, access_token: str) -> requests.Response:
    return requests.get(
        f"{issuer}/oauth/userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=5,
    )


def b64url(data: bytes | str | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_parts(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), signature
