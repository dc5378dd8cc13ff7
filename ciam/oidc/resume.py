"""Answer the authorization request a login was for in the login's own response.

A finished login sends the browser back (303) to the authorization endpoint, which
at once sends it on to the portal with a code. Like Keycloak, ciam answers that
authorization request in the login POST itself: the browser goes from the login
form straight to the portal. That is one HTTP request fewer per sign-in, and the
login session and the code are committed in one transaction (docs/benchmarks.md).

The authorization endpoint runs exactly as the browser's GET would have run it: the
same view, the same checks (portal, redirect URI, prompt, max_age, consent, second
factor), the same flow cookie, and the login session just opened, on a request
built from the `next` URL the login form carried. Only its redirects are taken
over; a page (the consent page, an error shown to the person) is left to the
browser's own GET, so it is shown at its own URL and reloading it never re-posts a
password.

Why by hand: neither Flask nor Authlib can run a view for another URL inside a
request. Authlib reads the request from Flask's `request` proxy, so the request
object of the current context is swapped for the time of the call; the flow cookie
(`session`), `g` (the new login session) and the database transaction stay those
of the login request, and no request hooks run twice.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import current_app, request, url_for
from flask.globals import request_ctx
from werkzeug.wrappers import Response

from ciam.accounts.sessions import current_session

REDIRECTS = (301, 302, 303, 307, 308)


def _authorization_query(response: Response) -> str | None:
    """The query of our authorization endpoint when `response` sends the browser
    there (a path of our own, as safe_next made it), else None."""
    if response.status_code != 303 or not response.location:
        return None
    target = urlsplit(response.location)
    if target.scheme or target.netloc or target.path != url_for("oauth.authorize"):
        return None
    return target.query


def _get_environ(path: str, query: str) -> dict:
    """This browser's request (same address, headers and cookies) as a GET of path."""
    environ = dict(request.environ)
    script_root = environ.get("SCRIPT_NAME", "")
    environ.update(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path.removeprefix(script_root),
            "QUERY_STRING": query,
            "CONTENT_LENGTH": "0",
            "wsgi.input": io.BytesIO(b""),
        }
    )
    environ.pop("CONTENT_TYPE", None)
    environ.pop("werkzeug.request", None)
    return environ


@contextmanager
def _as_get(path: str, query: str) -> Iterator[None]:
    context = request_ctx._get_current_object()
    login_request = context.request
    context.request = current_app.request_class(_get_environ(path, query))
    try:
        yield
    finally:
        context.request = login_request


def resume_authorization(response: Response) -> Response:
    """`response` is where a finished login sends the browser. When the login was
    for an authorization request and its endpoint answers it with a redirect (a
    code or an error for the portal, the second-factor step), that redirect is the
    answer, as 303: it answers a POST that carried a password, and RFC 9700 §4.12
    rules out 307, which would resend it. Anything else: `response` unchanged."""
    query = _authorization_query(response)
    if query is None or current_session() is None:
        return response
    with _as_get(url_for("oauth.authorize"), query):
        answer = current_app.view_functions["oauth.authorize"]()
    # A page comes back as a string or a (body, status) tuple, not a Response.
    if not isinstance(answer, Response) or answer.status_code not in REDIRECTS:
        return response
    answer.status_code = 303
    return answer
