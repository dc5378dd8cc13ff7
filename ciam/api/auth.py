"""Bearer-token authentication of the REST API (RFC 6750), one decorator per scope.

    @bp.route("/things", methods=["POST"])
    @require_scope("things:write")
    @bp.arguments(ThingSchema)
    def create(data): caller = current_caller() ...

The token is an access token issued by our own token endpoint (client_credentials for
the CRM); `ciam.oidc.token_store.find_token` checks its signature and reads its row, so a
revoked token, or one of a retired portal, stops working at once. The decorator sits
above `arguments`, so an unauthenticated call is refused before its body is read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, jsonify, request
from flask_smorest import Blueprint

from ciam.accounts.models import GOOD_STANDING
from ciam.audit.services import ActorContext
from ciam.oidc.token_store import find_token

SECURITY_SCHEME = "oauth2"
# Lends require_scope flask-smorest's public `alt_response` decorator; never registered.
# The decorator keeps what it documents on the view function, which the view's own
# blueprint puts in the OpenAPI document when it is registered.
_DOCUMENTS = Blueprint("api_auth_documents", __name__)
# Every scope an API module checks, with what it allows (shown in the OpenAPI document).
# Give them only to machine clients the operator trusts platform-wide (the CRM):
# `ciam portals create ... --grant client_credentials --scope invitations:write`.
SCOPES = {
    "invitations:read": "Read invitations and invitation batches.",
    "invitations:write": "Create, resend and revoke invitations, in any organization.",
    # The operator tier of delegated administration (ciam.api.org_auth): every org.
    "orgs:read": "Read every organization: settings, members, roles, licences, audit.",
    "orgs:write": "Administer every organization's members, settings and licences.",
}
# A person's token (authorization code flow, first-party portal): the person acts
# with their own rights (org admin, user manager, support), never more.
PERSON_SCOPE = "ciam:admin"
PERSON_SCOPES = {PERSON_SCOPE: "Act as yourself on the organizations you administer."}


@dataclass(frozen=True)
class ApiCaller:
    """Who calls: the OAuth client, and the person when the token has one."""

    client_id: str
    user_id: uuid.UUID | None
    scopes: frozenset[str]

    def actor_context(self) -> ActorContext:
        return ActorContext(
            ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
            actor_id=self.user_id,
        )


class ApiAuthError(Exception):
    def __init__(self, status: int, error: str, message: str, scope: str | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.scope = status, error, message, scope

    def response(self):
        body = {"error": self.error, "message": self.message, "details": {}}
        if self.scope:
            body["details"] = {"scope": self.scope}
        response = jsonify(body)
        response.status_code = self.status
        response.headers["Cache-Control"] = "no-store"
        # RFC 6750 §3: no error code when the request carried no credentials at all.
        challenge = 'Bearer realm="ciam"'
        if self.error != "unauthorized":
            challenge += f', error="{self.error}", error_description="{self.message}"'
        if self.scope:
            challenge += f', scope="{self.scope}"'
        response.headers["WWW-Authenticate"] = challenge
        return response


def _bearer() -> str | None:
    # Header only: RFC 6750 §2.3 query tokens end up in logs, and a form body is not
    # how a JSON API is called.
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def insufficient_scope(scope: str) -> ApiAuthError:
    return ApiAuthError(403, "insufficient_scope", f"This call needs the scope {scope}.", scope)


def authenticate(scope: str) -> ApiCaller:
    """The caller of this request if its token is valid and carries `scope`."""
    caller = token_caller()
    if scope not in caller.scopes:
        raise insufficient_scope(scope)
    return caller


def token_caller() -> ApiCaller:
    """The caller of this request if its bearer token is valid, whatever its scope."""
    raw = _bearer()
    if raw is None:
        raise ApiAuthError(401, "unauthorized", "This API needs a bearer access token.")
    if len(raw) > 4096:
        raise ApiAuthError(401, "invalid_token", "The access token is not valid.")
    token = find_token(raw, "access_token")
    if token is None or token.kind != "access_token":
        raise ApiAuthError(401, "invalid_token", "The access token is not valid.")
    if token.claims.get("iss") != current_app.config["CIAM_ISSUER"]:
        raise ApiAuthError(401, "invalid_token", "The access token was not issued here.")
    if token.is_revoked():
        raise ApiAuthError(401, "invalid_token", "The access token has been revoked.")
    if token.is_expired():
        raise ApiAuthError(401, "invalid_token", "The access token has expired.")
    row = token.row
    # A person's token stops with their account (deactivated, suspended...).
    if row.user_id is not None and row.user_status not in GOOD_STANDING:
        raise ApiAuthError(401, "invalid_token", "The account behind this token is not active.")
    scopes = frozenset((row.scope or "").split())
    return ApiCaller(client_id=row.client_id, user_id=row.user_id, scopes=scopes)


def require_scope(scope: str):
    """Refuse the request unless it carries a valid access token with `scope`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                g.api_caller = authenticate(scope)
            except ApiAuthError as error:
                return error.response()
            return view(*args, **kwargs)

        return documented_auth(wrapper, [scope])

    return decorator


def documented_auth(wrapper, alternatives: list[str]):
    """Document the scopes a view accepts (any one of `alternatives`) and its
    refusals in the OpenAPI operation, and mark the view as checked."""
    security = [{SECURITY_SCHEME: [scope]} for scope in alternatives]
    documented = Blueprint.doc(security=security)(wrapper)
    documented = _DOCUMENTS.alt_response(401, response="UNAUTHORIZED")(documented)
    documented = _DOCUMENTS.alt_response(403, response="FORBIDDEN")(documented)
    # Read by tests/test_route_authentication.py: a route without it fails there.
    documented.ciam_auth = "scope:" + "|".join(alternatives)
    return documented


def current_caller() -> ApiCaller:
    return g.api_caller
