"""The Authlib grants: authorization code (RFC 6749 §4.1, with PKCE per RFC 9700
§2.1.1), refresh token (§6, rotated per RFC 9700 §4.14.2), client credentials (§4.4)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc7636 import CodeChallenge

from ciam.accounts.login import assurance
from ciam.crypto import random_token
from ciam.oidc import codes, refresh_tokens, token_store
from ciam.oidc.claims import (
    ClaimUser,
    active_claim_user,
    claim_user,
    owner_claim_user,
)
from ciam.oidc.client_auth import SECRET_METHODS
from ciam.oidc.oauth_request import CiamOAuth2Request
from ciam.ops.metrics import count_token


def _active_user(user_id) -> ClaimUser | None:
    return active_claim_user(user_id)


class IssuingGrantMixin:
    """Builds the token from the grant's own context (family, auth_time, amr)."""

    request: CiamOAuth2Request  # set by Authlib's grant
    GRANT_TYPE: str  # each Authlib grant names its own

    def issue_context(self, user) -> token_store.IssueContext:
        raise NotImplementedError

    def generate_token(self, user=None, scope=None, include_refresh_token=True, **kwargs):
        ctx = self.issue_context(user)
        body, values = token_store.issue_values(
            self.request.client,
            scope or "",
            ctx,
            include_refresh_token,
            self.request.successor,
        )
        self.request.token_values = values
        count_token(self.GRANT_TYPE)  # ciam_tokens_issued_total{grant}
        return body


class AuthorizationCodeGrant(IssuingGrantMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        # Authlib's version echoes the requested URI into error_description, and a
        # `"`, backslash or non-ASCII byte in it (RFC 6749 §4.1.2.1 forbids them there)
        # turns the refusal into a 500. The URI is an attacker's string: not echoed.
        requested = request.payload.redirect_uri
        if requested:
            if not client.check_redirect_uri(requested):
                raise InvalidRequestError("The redirect_uri is not registered for this client.")
            return requested
        default = client.get_default_redirect_uri()
        if not default:
            raise InvalidRequestError(
                "Missing 'redirect_uri' in request.", state=request.payload.state
            )
        return default

    def generate_authorization_code(self) -> str:
        # 288 bits from the OS CSPRNG, as Authlib's 48 characters give, without
        # drawing them one character at a time (~0.1 ms per code).
        return random_token(36)

    def save_authorization_code(self, code, request):
        session = request.login_session
        data = request.payload.data
        codes.save_code(
            code,
            client_id=request.client.client_id,
            user_id=request.user.id,
            session_id=session.id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=session.auth_time,
            amr=session.amr,
            # "mfa" when the login used a second factor (acr_values=mfa asks for it).
            acr=assurance.acr_for(session.amr),
            # The organization chosen for this sign-in (AUTHORIZATION_STEPS).
            org_id=request.org_id,
        )

    def query_authorization_code(self, code, client):
        # Authlib calls this once the client is authenticated and before it checks
        # redirect_uri (RFC 6749 §4.1.3) and PKCE (RFC 7636 §4.6, our
        # StrictCodeChallenge hook); no token leaves before both pass.
        if codes.can_redeem_in_one_statement():
            # The usual redemption: one statement claims the code, reads its owner
            # and writes the token row (codes._REDEEM_CODE).
            successor = token_store.Successor.draw()
            include_refresh_token = client.check_grant_type("refresh_token")
            claimed = codes.redeem_code(code, client.client_id, successor, include_refresh_token)
            if claimed is not None:
                self.request.successor = successor
                self.request.claim_user = owner_claim_user(claimed)
                return claimed
        # Nothing claimed (a replay, another client's or an expired code, an owner
        # not in good standing) or no PostgreSQL: the session path decides as before.
        return codes.consume_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code):
        """Already marked used when it was consumed."""

    def authenticate_user(self, authorization_code):
        # Read with the code when one statement redeemed it (in good standing then).
        user = self.request.claim_user
        return user or _active_user(authorization_code.user_id)

    def issue_context(self, user):
        code = self.request.authorization_code
        return token_store.IssueContext(
            family_id=code.id,
            user_id=user.id,
            session_id=code.session_id,
            auth_time=code.auth_time,
            amr=code.amr,
            org_id=code.org_id,
        )


class RefreshTokenGrant(IssuingGrantMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def _validate_request_token(self, client):
        # Overridden so the client binding and the requested scope are checked
        # *before* the token is consumed: another client presenting a stolen token
        # must not burn it, and neither must a request refused for its scope (the
        # portal's retry with the same token would otherwise look like reuse and
        # revoke the whole family). Authlib checks the scope again afterwards.
        raw = self.request.form.get("refresh_token")
        if not raw:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        if not self.request.payload.scope and refresh_tokens.can_rotate_in_one_statement():
            # The usual refresh: nothing to check before the token is consumed, so
            # one statement claims it and writes its successor (refresh_tokens._ROTATE).
            successor = token_store.Successor.draw()
            row = refresh_tokens.rotate_refresh_token(raw, client.client_id, successor)
            if row is not None:
                self.request.successor = successor
                self.request.claim_user = claim_user(row)
                return token_store.TokenRecord(row)
        # Without a requested scope there is nothing to check before the token is
        # consumed, and consuming it is then a single conditional UPDATE.
        check = self._validate_token_scope if self.request.payload.scope else None
        row = refresh_tokens.consume_refresh_token(raw, client.client_id, check)
        if row is None:
            raise InvalidGrantError("The refresh token is invalid, expired or revoked.")
        return row

    def authenticate_refresh_token(self, refresh_token):
        raise NotImplementedError  # see _validate_request_token

    def authenticate_user(self, refresh_token: token_store.TokenRecord):
        # Read with the token when one statement rotated it (in good standing then).
        user = self.request.claim_user or _active_user(refresh_token.user_id)
        if user is None:
            raise InvalidGrantError("The account behind this refresh token is not active.")
        return user

    def revoke_old_credential(self, refresh_token):
        """Marked used when consumed; reuse then revokes the family."""

    def issue_context(self, user):
        return refresh_context(self.request.refresh_token, user)

    def create_token_response(self):
        try:
            return super().create_token_response()
        except Exception:
            # A rotation one statement committed, with no answer to show for it (no
            # signing key, say): taken back, so the portal's retry is no reuse
            # (RFC 9700 §4.14.2 would revoke the family).
            successor = self.request.successor
            if successor is not None:
                refresh_tokens.undo_rotation(self.request.refresh_token, successor)
            raise


def refresh_context(parent, user) -> token_store.IssueContext:
    """RFC 6749 §6: the refreshed token continues its parent's grant (family,
    session, authentication time and methods)."""
    return token_store.IssueContext(
        family_id=parent.family_id,
        user_id=user.id,
        session_id=parent.session_id,
        auth_time=parent.auth_time,
        amr=parent.amr,
        org_id=parent.org_id,
    )


class ClientCredentialsGrant(IssuingGrantMixin, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS

    def validate_token_request(self):
        super().validate_token_request()
        scope = client_credentials_scope(self.request.client, self.request.payload.scope)
        self.request.granted_scope = scope

    def generate_token(self, user=None, scope=None, include_refresh_token=True, **kwargs):
        return super().generate_token(None, self.request.granted_scope, False)

    def issue_context(self, user):
        return token_store.IssueContext(family_id=random_token(16))


def client_credentials_scope(client, requested: str | None) -> str:
    """The scope of a client_credentials token: per-client allowed scopes. Asking
    for more is an error the caller can see (RFC 6749 §5.2 invalid_scope); asking
    for nothing grants all it may have (§3.3 lets the server pick a default)."""
    allowed = " ".join(client.scopes)
    if requested and not token_store.scopes_within(requested, allowed):
        raise InvalidScopeError("The client may not request this scope.")
    return requested or allowed


class StrictCodeChallenge(CodeChallenge):
    """PKCE per RFC 9700 §2.1.1: S256 only; required for public clients and for
    portals set to require it; a verifier without a challenge is refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        client = grant.request.client
        if not data.get("code_challenge"):
            if client.is_public or client.require_pkce:
                raise InvalidRequestError("PKCE is required: send code_challenge with S256.")
            if data.get("code_challenge_method"):
                raise InvalidRequestError("Missing 'code_challenge'")
            return
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)
