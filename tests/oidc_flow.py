"""A browser-like helper that signs in and walks the authorization endpoint over real
HTTP (requests), stopping at the redirect to the portal. Relying-party logic lives in
the tests, using Authlib's OAuth2Session."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


class Browser:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.http.get(urljoin(self.base_url, url), allow_redirects=False, **kwargs)

    def post(self, url: str, **kwargs) -> requests.Response:
        return self.http.post(urljoin(self.base_url, url), allow_redirects=False, **kwargs)

    def login(self, email: str, password: str, next_url: str = "") -> requests.Response:
        page = self.get("/login", params={"next": next_url} if next_url else None)
        return self.post(
            "/login",
            data={
                "csrf_token": csrf_token(page.text),
                "email": email,
                "password": password,
                "next": next_url,
            },
        )

    def authorize(
        self,
        url: str,
        email: str | None = None,
        password: str | None = None,
        consent: str | None = None,
    ) -> requests.Response:
        """Follow the authorization flow until a redirect leaves the server."""
        return self.follow(self.get(url), email, password, consent)

    def follow(
        self,
        response: requests.Response,
        email: str | None = None,
        password: str | None = None,
        consent: str | None = None,
    ) -> requests.Response:
        """Go on from `response` (a redirect, a login or consent page) until a
        redirect leaves the server, or a page that is neither comes."""
        for _ in range(10):
            location = response.headers.get("Location")
            if response.status_code == 200 and consent and "decision" in response.text:
                action = re.search(r'<form method="post" action="([^"]+)"', response.text)
                response = self.post(
                    action.group(1).replace("&amp;", "&"),
                    data={"csrf_token": csrf_token(response.text), "decision": consent},
                )
                continue
            if response.status_code not in (302, 303) or location is None:
                return response
            target = urljoin(self.base_url, location)
            if not target.startswith(self.base_url + "/"):
                return response
            path = urlsplit(target)
            if path.path == "/login" and email is not None:
                next_url = parse_qs(path.query)["next"][0]
                response = self.login(email, password, next_url)
                continue
            response = self.get(target)
        raise AssertionError("too many redirects")


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    query = urlsplit(response.headers["Location"]).query
    return {k: v[0] for k, v in parse_qs(query).items()}


def location(response: requests.Response):
    """The parts of a redirect's Location (asserting it is a redirect)."""
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return urlsplit(response.headers["Location"])


def second_step(browser: Browser, response: requests.Response, code: str, method: str = "totp"):
    """From a redirect to (or the page of) the login's second step, enter a code;
    returns the answer, a redirect back to where the login was going."""
    if response.status_code in (302, 303):
        assert urlsplit(response.headers["Location"]).path == "/login/mfa", response.headers
        response = browser.get(response.headers["Location"])
    assert response.status_code == 200 and "Two-step verification" in response.text
    return browser.post(
        "/login/mfa",
        data={"csrf_token": csrf_token(response.text), "method": method, "code": code},
    )
