"""ID tokens (OpenID Connect Core §2, §3.1.3.6, §12.2) for code and refresh grants."""

from __future__ import annotations

import time

from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import is_openid_scope
from authlib.oidc.core.util import create_half_hash
from flask import current_app

from ciam.accounts.login import assurance
from ciam.crypto import hash_secret
from ciam.oidc import keys
from ciam.oidc.claims import (
    user_claims,
)
from ciam.oidc.token_claims import extra_claims


def session_sid(session_id: str | None) -> str | None:
    """The ID token's `sid` (OpenID Connect Front-/Back-Channel Logout 1.0 §2/§3):
    a stable, opaque name for the login session behind the token. Derived one way
    from the session's key (itself the SHA-256 of the cookie), so a portal holding
    it can neither use nor recover the cookie, and every token of one session,
    first or refreshed, names the same session."""
    return hash_secret("oidc-sid:" + session_id) if session_id else None


def build_id_token(
    client,
    user,
    scope,
    *,
    auth_time,
    amr,
    nonce=None,
    access_token=None,
    acr=None,
    sid=None,
    org_id=None,
):
    now = int(time.time())
    claims = user_claims(user, scope)
    claims.update(extra_claims(user.id, org_id, client.client_id, scope))
    claims.update(
        {
            "iss": current_app.config["CIAM_ISSUER"],
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now,
            "exp": now + current_app.config["CIAM_ID_TOKEN_TTL"],
            "auth_time": int(auth_time.timestamp()),
        }
    )
    if amr:
        claims["amr"] = amr
    # OIDC Core §2: acr names the assurance of this authentication. It follows from
    # the amr (a code's stored acr is derived the same way), so a refreshed ID token,
    # which has only its family's amr, says the same as the first one.
    acr = acr or assurance.acr_for(amr)
    if acr:
        claims["acr"] = acr
    if nonce:
        claims["nonce"] = nonce
    if sid:
        claims["sid"] = sid
    alg = client.id_token_signed_response_alg or keys.DEFAULT_ALG
    if access_token:
        claims["at_hash"] = create_half_hash(access_token, alg).decode()
    return keys.sign(claims, alg=alg)


class CiamOpenIDCode(OpenIDCode):
    """ID tokens from our key cache; nonce replay is bounded by single-use codes."""

    def exists_nonce(self, nonce, request):
        return False

    def encode_id_token(self, token, request):
        code = request.authorization_code
        return build_id_token(
            request.client,
            request.user,
            token["scope"],
            auth_time=code.auth_time,
            amr=code.amr,
            nonce=code.nonce,
            access_token=token.get("access_token"),
            sid=session_sid(code.session_id),
            org_id=code.org_id,
        )


def with_refresh_id_token(token: dict, client, user, parent) -> dict:
    """OIDC Core §12.2: a refresh of an `openid` grant returns a new ID token, with
    its parent's authentication (no nonce). `token` is the token response body."""
    scope = token.get("scope")
    if scope and is_openid_scope(scope):
        token["id_token"] = build_id_token(
            client,
            user,
            scope,
            auth_time=parent.auth_time,
            amr=parent.amr,
            access_token=token.get("access_token"),
            sid=session_sid(parent.session_id),
            org_id=parent.org_id,
        )
    return token


class RefreshIdToken(CiamOpenIDCode):
    """The refresh grant's ID token (`with_refresh_id_token`)."""

    def process_token(self, grant, response):
        _, token, _ = response
        request = grant.request
        return with_refresh_id_token(token, request.client, request.user, request.refresh_token)

    def __call__(self, grant):
        grant.register_hook("after_create_token_response", self.process_token)
