"""The success path of the busiest machine endpoints, answered before Flask.

Which: the client_credentials and refresh_token grants at /oauth/token,
/oauth/userinfo with a bearer header, and /oauth/introspect. A portal's backend
calls one of them on nearly every API request it serves, so together they are most
of a deployment's traffic.

Why by hand: measured in one process, Flask's request context and after-request
hooks and Authlib's request wrapping and endpoint dispatch cost 140-310 µs of CPU of
the 390-820 µs those requests took (the third round of optimizations, 2026-11-22, in
the git history of docs/benchmarks.md), as much as an
RS256 signature. Like
MetadataFastPath (discovery.py), this WSGI middleware answers before Flask, but
only a request that is well formed and succeeds. It applies no protocol rule of its
own: it calls the functions the Authlib server and the views call (client_auth for
HTTP Basic and the one-method rule of RFC 6749 §2.3, grants for the
client_credentials scope and the refresh context, id_token for the refreshed ID
token, http_rules for repeated parameters, bearer headers and answer headers,
userinfo.check_access_token, the introspection endpoint's own payload).

Everything else goes on to Flask untouched: a parameter it does not expect, a
client that does not authenticate, a token that does not verify, a throttled
caller. The views and Authlib then give the RFC 6749 / 6750 / 7662 answer, so every
refusal still has one source of truth.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Flask

from ciam.crypto import random_token
from ciam.oidc import refresh_tokens, token_store
from ciam.oidc import userinfo as userinfo_flow
from ciam.oidc.claims import claim_user, user_claims
from ciam.oidc.client_auth import basic_client, basic_credentials, credential_conflict
from ciam.oidc.endpoints import CiamIntrospectionEndpoint
from ciam.oidc.grants import client_credentials_scope, refresh_context
from ciam.oidc.http_rules import (
    CORS_HEADERS,
    NO_STORE,
    USERINFO_NO_STORE,
    bearer_from_header,
    repeats_a_parameter,
)
from ciam.oidc.id_token import with_refresh_id_token
from ciam.oidc.portal_cache import PortalSnapshot
from ciam.oidc.server import get_server, query_client
from ciam.oidc.token_claims import asks_for_org
from ciam.ops.metrics import count_token
from ciam.ratelimit import count_token_request
from ciam.request_hooks import HSTS, SECURITY_HEADERS

log = logging.getLogger(__name__)

# A well-formed request here is a few hundred bytes; anything larger is left to
# Flask, which applies MAX_CONTENT_LENGTH and reports errors.
MAX_BODY = 4096
FORM = "application/x-www-form-urlencoded"

Answer = tuple[dict, tuple[tuple[str, str], ...]]  # JSON body, extra headers
# RFC 6749 §5.2 names no error for this; server_error is §4.1.2.1's, as Authlib uses.
SERVER_ERROR = (
    {"error": "server_error", "error_description": "The token could not be issued."},
    NO_STORE,
    "500 INTERNAL SERVER ERROR",
)


def read_form(environ: dict, allowed: frozenset[str]) -> dict[str, str] | None:
    """The urlencoded body as a dict, or None to leave the request to Flask.

    The body is put back into `wsgi.input` either way, so Flask reads it again.
    RFC 6749 §3.2: a parameter sent twice is an error, which Flask reports; so
    is any encoding problem. Parameters outside `allowed` are also left to Flask.
    """
    if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    if repeats_a_parameter(pairs):
        return None
    form = dict(pairs)
    return form if form.keys() <= allowed else None


def authenticated_client(environ: dict, form: dict[str, str], endpoint: str):
    """The portal authenticated by HTTP Basic as the Authlib server would
    authenticate it (ciam.oidc.client_auth), or None for anything else."""
    basic = basic_credentials(environ.get("HTTP_AUTHORIZATION"))
    if basic is None or credential_conflict(basic, form) is not None:
        return None
    try:
        client = basic_client(query_client, basic)
    except OAuth2Error:
        return None
    if client is None or not client.check_endpoint_auth_method("client_secret_basic", endpoint):
        return None
    return client


class PastReturn(Exception):
    """A failure after the request changed state that a retry through Flask would
    misread (a refresh token already rotated would look reused): answered as a
    server_error, never handed on."""


def token(environ: dict) -> Answer | None:
    form = read_form(environ, frozenset({"grant_type", "scope", "refresh_token"}))
    if form is None:
        return None
    if form.get("grant_type") == "client_credentials" and "refresh_token" not in form:
        return client_credentials(environ, form)
    if form.get("grant_type") == "refresh_token" and "scope" not in form:
        return refresh(environ, form)
    return None


def _within_token_limit(environ: dict) -> bool:
    # Counted once the request is known to be answerable here, so a request Flask
    # will answer is not counted twice, except a throttled one, which Flask counts
    # again and refuses (RFC 6585 §4).
    return count_token_request(environ.get("REMOTE_ADDR") or "127.0.0.1")


def client_credentials(environ: dict, form: dict[str, str]) -> Answer | None:
    """RFC 6749 §4.4, as ClientCredentialsGrant issues it (ciam.oidc.grants)."""
    client = authenticated_client(environ, form, "token")
    if client is None or not client.check_grant_type("client_credentials"):
        return None
    try:
        scope = client_credentials_scope(client, form.get("scope"))
    except OAuth2Error:
        return None
    if not _within_token_limit(environ):
        return None
    context = token_store.IssueContext(family_id=random_token(16))
    body, _ = token_store.issue_values(client, scope, context, False)
    count_token("client_credentials")
    return body, NO_STORE + CORS_HEADERS


def refresh(environ: dict, form: dict[str, str]) -> Answer | None:
    """RFC 6749 §6 with rotation (RFC 9700 §4.14.2), as RefreshTokenGrant does it
    without a requested scope: the token is claimed and its successor written
    together (one statement on PostgreSQL). When nothing is claimed (unknown,
    expired, another client's, reused...) Flask takes the request and decides; a
    reuse then revokes the family there."""
    raw = form.get("refresh_token")
    if not raw:
        return None
    client = authenticated_client(environ, form, "token")
    if client is None or not client.check_grant_type("refresh_token"):
        return None
    if not _within_token_limit(environ):
        return None
    successor = token_store.Successor.draw()
    row = refresh_tokens.rotate_refresh_token(raw, client.client_id, successor)
    if row is None:
        return None
    if row.org_id is not None and asks_for_org(row.scope):
        # Its `org` and `roles` claims are read through the ORM (ciam.roles.claims):
        # Flask's grant answers, with the rotation taken back first.
        refresh_tokens.undo_rotation(row, successor)
        return None
    try:
        body = _refreshed(client, row, successor)
        count_token("refresh_token")
        return body, NO_STORE + CORS_HEADERS
    except Exception:
        # The answer could not be built (no signing key, say): the rotation is taken
        # back, and Flask, handed the request, gives its answer to the same fault.
        # Were it not taken back, the token would look reused there.
        try:
            refresh_tokens.undo_rotation(row, successor)
        except Exception as exc:
            raise PastReturn from exc
        raise


def _refreshed(client: PortalSnapshot, parent, successor: token_store.Successor) -> dict:
    user = claim_user(parent)  # in good standing: the rotating statement checked
    context = refresh_context(parent, user)
    body, _ = token_store.issue_values(client, parent.scope, context, True, successor)
    return with_refresh_id_token(body, client, user, parent)


def userinfo(environ: dict) -> Answer | None:
    """OIDC Core §5.3 with an RFC 6750 §2.1 bearer header, as userinfo.userinfo."""
    raw = bearer_from_header(environ.get("HTTP_AUTHORIZATION"))
    if raw is None:
        return None
    try:
        claims, user = userinfo_flow.check_access_token(raw)
    except userinfo_flow.BearerError:
        return None
    scope = str(claims.get("scope", ""))
    if "openid" not in scope.split() or "org" in claims:
        return None  # an organization's claims are read by Flask's userinfo
    return user_claims(user, scope), USERINFO_NO_STORE + CORS_HEADERS


class Introspection:
    """RFC 7662 §2 through CiamIntrospectionEndpoint's own lookup and payload."""

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.endpoint = CiamIntrospectionEndpoint(get_server())

    def __call__(self, environ: dict) -> Answer | None:
        form = read_form(environ, frozenset({"token", "token_type_hint"}))
        if form is None or not form.get("token"):
            return None
        client = authenticated_client(environ, form, "introspection")
        if client is None:
            return None
        token = self.endpoint.query_token(form["token"], form.get("token_type_hint"))
        if token is not None and not self.endpoint.check_permission(token, client, None):
            token = None
        if token is not None and getattr(token.row, "org_id", None) is not None:
            return None  # an organization's claims are read by Flask's introspection
        return self.endpoint.create_introspection_payload(token), NO_STORE


class MachineFastPath:
    """WSGI middleware: see the module docstring. `enabled` is for tests that must
    reach the Flask path with a request the fast path would answer."""

    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.enabled = True
        self.routes: dict[tuple[str | None, str | None], Callable[[dict], Answer | None]] = {
            ("POST", "/oauth/token"): token,
            ("GET", "/oauth/userinfo"): userinfo,
            ("POST", "/oauth/introspect"): Introspection(app),
        }

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        handler = self.routes.get((environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")))
        if handler is None or not self.enabled:
            return self.wsgi_app(environ, start_response)
        try:
            with self.app.app_context():
                answer = handler(environ)
        except PastReturn:
            log.exception("fast path failed after a refresh token was rotated")
            return self._respond(environ, start_response, *SERVER_ERROR)
        except Exception:  # Flask meets the same fault and answers it (ciam.errors)
            log.exception("fast path failed; the request goes on to Flask")
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        return self._respond(environ, start_response, *answer)

    @staticmethod
    def _respond(environ, start_response, payload: dict, extra, status="200 OK") -> list[bytes]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *extra,
            *SECURITY_HEADERS,
        ]
        if environ.get("wsgi.url_scheme") == "https":
            headers.append(HSTS)
        start_response(status, headers)
        return [body]


def setup_fastpath(app: Flask) -> None:
    middleware = MachineFastPath(app.wsgi_app, app)
    app.extensions["ciam.fastpath"] = middleware
    app.wsgi_app = middleware  # type: ignore[method-assign]
