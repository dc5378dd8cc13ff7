"""OpenID Connect client side of the benchmark: the login flow, token pools, checks.

Everything here speaks only the protocol (discovery, authorize, the login form, token,
userinfo, introspection), so the same code drives ciam and the node peer. Responses
are checked fully here (JSON, JWT signatures against the JWKS, iss/aud/nonce/state);
the load scripts check a cheap marker in every body on top of the status code.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

SCOPE = "openid profile email"
TIMEOUT = 30


class CheckFailed(Exception):
    """A response that is not what a correct OpenID provider sends."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass
class Target:
    """One OpenID provider under test, as a client registered with it sees it."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    email: str
    password: str
    metadata: dict = field(default_factory=dict)
    jwks: KeySet | None = None

    def endpoint(self, name: str) -> str:
        return self.metadata[name]

    def basic_auth(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def load_metadata(self, session: requests.Session | None = None) -> None:
        http = session or requests
        r = http.get(self.issuer + "/.well-known/openid-configuration", timeout=TIMEOUT)
        self.metadata = check_discovery(self, r)
        r = http.get(self.metadata["jwks_uri"], timeout=TIMEOUT)
        self.jwks = check_jwks(r)


def _json(r: requests.Response, what: str) -> dict:
    check(200 <= r.status_code < 300, f"{what}: HTTP {r.status_code}: {r.text[:300]}")
    try:
        body = r.json()
    except ValueError as exc:
        raise CheckFailed(f"{what}: body is not JSON: {r.text[:200]}") from exc
    check(isinstance(body, dict), f"{what}: body is not a JSON object")
    return body


def check_discovery(target: Target, r: requests.Response) -> dict:
    meta = _json(r, "discovery")
    check(meta.get("issuer") == target.issuer, f"discovery: issuer {meta.get('issuer')!r}")
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
    ):
        check(str(meta.get(name, "")).startswith(target.issuer), f"discovery: no {name}")
    check("RS256" in meta.get("id_token_signing_alg_values_supported", []), "discovery: no RS256")
    return meta


def check_jwks(r: requests.Response) -> KeySet:
    body = _json(r, "jwks")
    keys = body.get("keys")
    check(isinstance(keys, list) and keys, "jwks: no keys")
    check(any(k.get("kty") == "RSA" and k.get("kid") for k in keys), "jwks: no RSA key")
    check(all("d" not in k for k in keys), "jwks: a private key is published")
    return KeySet.import_key_set(body)


def verify_jwt(target: Target, token: str, *, typ: str | None = None) -> dict:
    """Verify an RS256 JWT against the target's JWKS; return its claims."""
    check(isinstance(token, str) and token.count(".") == 2, "not a compact JWT")
    try:
        decoded = jwt.decode(token, target.jwks, algorithms=["RS256"])
    except Exception as exc:  # joserfc raises several error types
        raise CheckFailed(f"JWT does not verify: {exc}") from exc
    check(decoded.header.get("alg") == "RS256", "JWT alg is not RS256")
    if typ is not None:
        check(str(decoded.header.get("typ", "")).lower() == typ, f"JWT typ is not {typ}")
    claims = decoded.claims
    check(claims.get("iss") == target.issuer, f"JWT iss {claims.get('iss')!r}")
    check(int(claims.get("exp", 0)) > time.time(), "JWT expired")
    return claims


def check_token_response(
    target: Target, r: requests.Response, *, refresh: bool, id_token: bool, nonce: str | None
) -> dict:
    body = _json(r, "token")
    check(str(body.get("token_type", "")).lower() == "bearer", "token: token_type is not Bearer")
    check(isinstance(body.get("access_token"), str) and body["access_token"], "no access_token")
    check(int(body.get("expires_in", 0)) > 0, "token: no expires_in")
    if refresh:
        check(isinstance(body.get("refresh_token"), str), "token: no refresh_token")
    if id_token:
        claims = verify_jwt(target, body.get("id_token"))
        check(claims.get("aud") in (target.client_id, [target.client_id]), "id_token: aud")
        check(bool(claims.get("sub")), "id_token: no sub")
        if nonce is not None:
            check(claims.get("nonce") == nonce, "id_token: nonce does not match")
        body["id_claims"] = claims
    if body["access_token"].count(".") == 2:  # JWT access tokens (RFC 9068)
        body["at_claims"] = verify_jwt(target, body["access_token"], typ="at+jwt")
    return body


class _Forms(HTMLParser):
    """The forms of a page: action, method and every named input's value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": a.get("action") or "", "method": a.get("method", "get"), "fields": {}}
            )
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def login_form(html: str) -> dict | None:
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if "password" in form["fields"]:
            return form
    return None


@dataclass
class Login:
    tokens: dict
    requests: int


def authorize_and_exchange(
    target: Target, session: requests.Session, *, expect_login: bool
) -> Login:
    """Run the authorization code flow in `session` (a browser with its cookies).

    Follows redirects by hand, fills the login form when one appears, and stops at
    the redirect to the client's redirect_uri; then redeems the code. With
    `expect_login` a login form must appear (a fresh browser); without it the
    browser's session must be enough.
    """
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": target.client_id,
            "redirect_uri": target.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
        }
    )
    url = f"{target.endpoint('authorization_endpoint')}?{query}"
    r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    count, logged_in = 1, False
    while True:
        check(count < 12, "authorize: too many steps")
        if r.status_code in (301, 302, 303, 307, 308):
            location = urljoin(url, r.headers["Location"])
            if location.startswith(target.redirect_uri + "?"):
                break
            url = location
            r = session.get(url, allow_redirects=False, timeout=TIMEOUT)
        elif r.status_code == 200 and (form := login_form(r.text)) is not None:
            check(expect_login and not logged_in, "authorize: unexpected login form")
            fields = dict(form["fields"])
            email_field = "email" if "email" in fields else "login"
            fields[email_field] = target.email
            fields["password"] = target.password
            url = urljoin(url, form["action"] or url)
            r = session.post(url, data=fields, allow_redirects=False, timeout=TIMEOUT)
            logged_in = True
        else:
            raise CheckFailed(f"authorize: HTTP {r.status_code} at {url}: {r.text[:200]}")
        count += 1
    check(logged_in == expect_login, "authorize: login form expected but not shown")
    params = parse_qs(urlsplit(location).query)
    check(params.get("state") == [state], "authorize: state does not match")
    check(params.get("iss", [target.issuer]) == [target.issuer], "authorize: wrong iss")
    check(bool(params.get("code")), f"authorize: no code in {location}")
    r = session.post(
        target.endpoint("token_endpoint"),
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": target.redirect_uri,
        },
        headers={"Authorization": target.basic_auth()},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    body = check_token_response(target, r, refresh=True, id_token=True, nonce=nonce)
    return Login(body, count + 1)


def password_login(target: Target, session: requests.Session) -> Login:
    """A fresh browser: authorize, login form, password, code, token."""
    session.cookies.clear()
    return authorize_and_exchange(target, session, expect_login=True)


def token_pool(target: Target, session: requests.Session, count: int) -> list[dict]:
    """`count` independent token sets (each from its own code), one login for all."""
    password_login(target, session)
    return [
        authorize_and_exchange(target, session, expect_login=False).tokens for _ in range(count)
    ]


# Samples checked in full before each load run.


def sample_discovery(target: Target) -> None:
    r = requests.get(target.issuer + "/.well-known/openid-configuration", timeout=TIMEOUT)
    check_discovery(target, r)


def sample_jwks(target: Target) -> None:
    check_jwks(requests.get(target.endpoint("jwks_uri"), timeout=TIMEOUT))


def sample_client_credentials(target: Target) -> None:
    r = requests.post(
        target.endpoint("token_endpoint"),
        data={"grant_type": "client_credentials"},
        headers={"Authorization": target.basic_auth()},
        timeout=TIMEOUT,
    )
    body = check_token_response(target, r, refresh=False, id_token=False, nonce=None)
    claims = body.get("at_claims")
    check(claims is not None, "client_credentials: access token is not a JWT")
    check(claims.get("client_id") == target.client_id, "client_credentials: client_id claim")


def sample_refresh(target: Target, refresh_token: str) -> str:
    r = requests.post(
        target.endpoint("token_endpoint"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": target.basic_auth()},
        timeout=TIMEOUT,
    )
    body = check_token_response(target, r, refresh=True, id_token=True, nonce=None)
    check(body["refresh_token"] != refresh_token, "refresh: the refresh token did not rotate")
    again = requests.post(
        target.endpoint("token_endpoint"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": target.basic_auth()},
        timeout=TIMEOUT,
    )
    check(again.status_code == 400, f"refresh: a used refresh token gave HTTP {again.status_code}")
    return body["refresh_token"]


def sample_userinfo(target: Target, tokens: dict) -> None:
    r = requests.get(
        target.endpoint("userinfo_endpoint"),
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=TIMEOUT,
    )
    body = _json(r, "userinfo")
    check(body.get("sub") == tokens["id_claims"]["sub"], "userinfo: sub does not match")
    check(body.get("email") == target.email, "userinfo: email does not match")


def sample_introspection(target: Target, tokens: dict) -> None:
    r = requests.post(
        target.endpoint("introspection_endpoint"),
        data={"token": tokens["access_token"]},
        headers={"Authorization": target.basic_auth()},
        timeout=TIMEOUT,
    )
    body = _json(r, "introspection")
    check(body.get("active") is True, f"introspection: not active: {body}")
    check(body.get("client_id") == target.client_id, "introspection: client_id")
    check(body.get("sub") == tokens["id_claims"]["sub"], "introspection: sub")
    r = requests.post(
        target.endpoint("introspection_endpoint"),
        data={"token": "not-a-token"},
        headers={"Authorization": target.basic_auth()},
        timeout=TIMEOUT,
    )
    check(_json(r, "introspection").get("active") is False, "introspection: junk is active")


def sample_login(target: Target) -> None:
    with requests.Session() as session:
        login = password_login(target, session)
    check(login.tokens["id_claims"].get("email") == target.email, "login: id_token email")
