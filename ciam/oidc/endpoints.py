"""The token introspection (RFC 7662) and revocation (RFC 7009) endpoints."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import current_app

from ciam.accounts.models import GOOD_STANDING
from ciam.audit.services import record
from ciam.audit.tags import AuditTag
from ciam.oidc import token_store
from ciam.oidc.client_auth import SECRET_METHODS
from ciam.oidc.models import Token
from ciam.oidc.token_claims import extra_claims


def require_token_param(request) -> None:
    """The parameter check of introspection and revocation, without Authlib's
    refusal of an unknown token_type_hint (401 unsupported_token_type). RFC 7009
    §2.1: "An invalid token type hint value is ignored by the authorization server";
    RFC 7662 §2.1 lets the server ignore the hint too. find_token tells an access
    token from a refresh token by its shape, so no hint is needed."""
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token' in request.")


class CiamIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = SECRET_METHODS

    def check_params(self, request, client):
        require_token_param(request)

    def query_token(self, token_string, token_type_hint):
        return token_store.find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        # A portal may introspect only its own tokens; others read as inactive.
        return token.check_client(client)

    def introspect_token(self, token: token_store.IssuedToken):
        row = token.row  # carries the owner's status and email (token_store.find_token)
        if row.user_id and row.user_status not in GOOD_STANDING:
            return {"active": False}
        payload = {
            "active": True,
            "scope": row.scope,
            "client_id": row.client_id,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "exp": int(token.get_expires_at().timestamp()),
            "iat": int(row.issued_at.timestamp()),
            "iss": current_app.config["CIAM_ISSUER"],
            "sub": str(row.user_id) if row.user_id else row.client_id,
            "aud": row.client_id,
        }
        if token.kind == "access_token":
            payload["jti"] = row.jti
        if row.user_id:
            payload["username"] = row.user_email
        if getattr(row, "org_id", None) is not None:
            payload.update(extra_claims(row.user_id, row.org_id, row.client_id, row.scope))
        return payload


class CiamRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*SECRET_METHODS, "none"]

    def check_params(self, request, client):
        require_token_param(request)

    def query_token(self, token_string, token_type_hint):
        return token_store.find_token(token_string, token_type_hint)

    def revoke_token(self, token: token_store.IssuedToken, request):
        # RFC 7009 §2.1: revoking a refresh token also revokes the access tokens of
        # the same grant, so the whole family goes.
        if token.kind == "refresh_token":
            count = token_store.revoke_family(str(token.row.family_id))
        elif isinstance(token.row, token_store.MachineTokenRow):
            token_store.revoke_machine_token(token.row)
            count = 1
        else:
            token_store.revoke_where(Token.id == token.row.id)
            count = 1
        record(
            AuditTag.OAUTH_TOKEN_REVOKED,
            client_id=request.client.client_id,
            kind=token.kind,
            count=count,
        )
