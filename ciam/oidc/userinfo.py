"""The UserInfo endpoint (OIDC Core §5.3) and bearer token checks (RFC 6750)."""

from __future__ import annotations

import time

from flask import current_app, jsonify, request

from ciam import hotsql
from ciam.accounts.models import User
from ciam.extensions import db
from ciam.oidc import keys
from ciam.oidc.claims import CLAIM_USER_COLUMNS, ClaimUser, claim_user, user_claims
from ciam.oidc.http_rules import USERINFO_NO_STORE, bearer_from_header
from ciam.oidc.models import Token
from ciam.oidc.token_claims import extra_claims
from ciam.oidc.token_store import ACCESS_TOKEN_TYP


class BearerError(Exception):
    def __init__(self, error: str, description: str, status: int = 401):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def bearer_token() -> str | None:
    """RFC 6750 §2.1 header, or §2.2 form body; never the query string (§2.3 is
    refused because URLs end up in logs)."""
    header = bearer_from_header(request.headers.get("Authorization"))
    if header is not None:
        return header
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token") or None
    return None


_TOKEN_AND_OWNER = (
    db.select(Token.revoked_at, Token.user_id, *CLAIM_USER_COLUMNS)
    .outerjoin(User.__table__, User.__table__.c.id == Token.user_id)
    .where(Token.jti == db.bindparam("jti"))
)


def check_access_token(raw: str) -> tuple[dict, ClaimUser]:
    try:
        _, claims = keys.verify(raw, typ=ACCESS_TOKEN_TYP)
    except keys.InvalidJWT as exc:
        raise BearerError("invalid_token", "The access token is not valid.") from exc
    if claims.get("iss") != current_app.config["CIAM_ISSUER"]:
        raise BearerError("invalid_token", "The access token was not issued here.")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= time.time():
        raise BearerError("invalid_token", "The access token has expired.")
    # One prepared SELECT for the token's state and its owner's claims, outside
    # any transaction (DESIGN §7: no ORM session on this path). Reading the row
    # on every request keeps revocation exact on every node at once.
    row = hotsql.first(_TOKEN_AND_OWNER, {"jti": str(claims.get("jti"))})
    if row is None or row.revoked_at is not None or row.user_id is None:
        raise BearerError("invalid_token", "The access token has been revoked.")
    user = claim_user(row) if row.id is not None else None
    if user is None or not user.can_log_in:
        raise BearerError("invalid_token", "The account is not active.")
    return claims, user


def userinfo_claims(token_claims: dict, user: ClaimUser, scope: str) -> dict:
    """OIDC Core §5.3.2: the person's claims for the token's scope, and the
    organization's (`org`, `roles`), read now, when the token names one."""
    claims = user_claims(user, scope)
    org = token_claims.get("org")
    if isinstance(org, dict):
        client_id = str(token_claims.get("client_id", ""))
        claims.update(extra_claims(user.id, org.get("id"), client_id, scope))
    return claims


def _error(exc: BearerError):
    response = jsonify({"error": exc.error, "error_description": exc.description})
    response.status_code = exc.status
    response.headers["WWW-Authenticate"] = (
        f'Bearer error="{exc.error}", error_description="{exc.description}"'
    )
    return response


def userinfo():
    raw = bearer_token()
    if raw is None:
        response = jsonify({"error": "invalid_request", "error_description": "No bearer token."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        claims, user = check_access_token(raw)
        scope = str(claims.get("scope", ""))
        if "openid" not in scope.split():
            raise BearerError("insufficient_scope", "The token lacks the openid scope.", 403)
    except BearerError as exc:
        return _error(exc)
    response = jsonify(userinfo_claims(claims, user, scope))
    for name, value in USERINFO_NO_STORE:
        response.headers[name] = value
    return response
