"""The Authlib authorization server wired to our portals, grants and endpoints
(ciam.oidc.grants, ciam.oidc.id_token, ciam.oidc.endpoints)."""

from __future__ import annotations

import flask
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    UnsupportedResponseTypeError,
)
from flask import Flask, current_app, g

from ciam.oidc import token_store
from ciam.oidc.claims import (
    ClaimUser,
    active_claim_user,
)
from ciam.oidc.client_auth import client_secret_basic, refuse_conflicting_credentials
from ciam.oidc.endpoints import CiamIntrospectionEndpoint, CiamRevocationEndpoint
from ciam.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    StrictCodeChallenge,
)
from ciam.oidc.id_token import CiamOpenIDCode, RefreshIdToken
from ciam.oidc.models import PortalStatus
from ciam.oidc.oauth_request import CiamOAuth2Request
from ciam.oidc.portal_cache import PortalSnapshot, get_portal_snapshot


def query_client(client_id: str) -> PortalSnapshot | None:
    """A retired portal is no client at all: it can neither authorize nor get tokens.
    Read through the per-process portal cache (ciam.oidc.portal_cache)."""
    if not client_id or not isinstance(client_id, str) or len(client_id) > 80:
        return None
    portal = get_portal_snapshot(client_id)
    if portal is None or portal.status == PortalStatus.retired:
        return None
    return portal


def _active_user(user_id) -> ClaimUser | None:
    return active_claim_user(user_id)


class UnsupportedResponseType(UnsupportedResponseTypeError):
    """Names no request value in its description: RFC 6749 §4.1.2.1 limits
    error_description to printable ASCII without `"` or backslash, and Authlib, which
    echoes the response_type there, raises ValueError (a 500) on any other byte."""

    def get_error_description(self):
        return self.description


class CiamAuthorizationServer(AuthorizationServer):
    def query_client(self, client_id):
        return query_client(client_id)

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        if request is not None:
            # Authlib's Flask integration always reads flask.request and ignores the
            # one given; a finished sign-in answers the authorization request it was
            # for with the request it rebuilt (ciam.oidc.authorize).
            return CiamOAuth2Request(request)
        # One per HTTP request: Authlib asks for it again at each step (our
        # grant_type check, grant selection), and building one (the URL, the
        # headers) cost ~0.1 ms of CPU each time on the token endpoint.
        if request is None and "ciam_oauth2_request" in g:
            return g.ciam_oauth2_request
        built = CiamOAuth2Request(flask.request)
        if request is None:
            g.ciam_oauth2_request = built
        return built

    def authenticate_client(self, request, methods, endpoint="token"):
        # Every endpoint that authenticates portals (token, introspection,
        # revocation) comes through here.
        refuse_conflicting_credentials(request)
        return super().authenticate_client(request, methods, endpoint)

    def get_authorization_grant(self, request):
        for grant_cls, _ in self._authorization_grants:
            if grant_cls.check_authorization_endpoint(request):
                return super().get_authorization_grant(request)
        # As Authlib does: the error goes back to the portal only when the client
        # and its redirect URI are valid (RFC 6749 §4.1.2.1), else to an error page.
        redirect_uri = None
        client = self.query_client(request.payload.client_id)
        if client is not None:
            requested = request.payload.redirect_uri
            if not requested:
                redirect_uri = client.get_default_redirect_uri()
            elif client.check_redirect_uri(requested):
                redirect_uri = requested
        raise UnsupportedResponseType(
            request.payload.response_type,
            "Only response_type=code is supported.",
            redirect_uri=redirect_uri,
        )

    def save_token(self, token, request):
        if request.payload.grant_type == "client_credentials":
            # Nothing to write: the JWT is self-contained, and revoking it puts
            # its jti on a list (token_store.revoke_machine_token).
            return
        if request.successor is not None:
            return  # written by the statement that redeemed the code or rotated the token
        # Code and refresh grants marked a code or refresh token used in the
        # request's transaction, and the new row must commit with that.
        token_store.insert_token(request.token_values)

    def generate_token(self, grant_type, client, user=None, scope=None, **kwargs):
        raise RuntimeError("grants issue tokens through IssuingGrantMixin")

    def create_token_response(self, request=None):
        # RFC 6749 §5.2: a missing grant_type is a missing required parameter
        # (invalid_request); Authlib would call it an unsupported grant type.
        if not self.create_oauth2_request(request).payload.grant_type:
            error = InvalidRequestError("Missing 'grant_type' in request.")
            return self.handle_error_response(request, error)
        return super().create_token_response(request)


def get_server() -> CiamAuthorizationServer:
    return current_app.extensions["ciam.oauth"]


def setup_server(app: Flask) -> None:
    # Scopes are filtered per portal (unknown ones ignored, OIDC Core §3.1.2.1), so
    # the server-wide check that would reject them outright stays off.
    server = CiamAuthorizationServer()
    server.init_app(app)
    app.extensions["ciam.oauth"] = server
    server.register_client_auth_method("client_secret_basic", client_secret_basic)
    server.register_grant(AuthorizationCodeGrant, [CiamOpenIDCode(), StrictCodeChallenge()])
    server.register_grant(RefreshTokenGrant, [RefreshIdToken()])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(CiamIntrospectionEndpoint)
    server.register_endpoint(CiamRevocationEndpoint)
