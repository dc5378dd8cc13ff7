"""The Authlib authorization server, its grants and token endpoints, wired to our models."""

from __future__ import annotations

import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from flask import Flask, current_app, g

from ciam.accounts import assurance
from ciam.accounts.models import GOOD_STANDING
from ciam.audit.services import record
from ciam.crypto import hash_secret, random_token
from ciam.oidc import codes, keys, refresh_tokens, token_store
from ciam.oidc.claims import (
    ClaimUser,
    active_claim_user,
    claim_user,
    owner_claim_user,
    user_claims,
)
from ciam.oidc.models import PortalStatus, Token
from ciam.oidc.portal_cache import PortalSnapshot, get_portal_snapshot

SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


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
        # One per HTTP request: Authlib asks for it again at each step (our
        # grant_type check, grant selection), and building one (the URL, the
        # headers) cost ~0.1 ms of CPU each time on the token endpoint.
        if request is None and "ciam_oauth2_request" in g:
            return g.ciam_oauth2_request
        built = super().create_oauth2_request(request)
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
        if getattr(request, "ciam_successor", None) is not None:
            return  # written by the statement that redeemed the code or rotated the token
        # Code and refresh grants marked a code or refresh token used in the
        # request's transaction, and the new row must commit with that.
        token_store.insert_token(request.ciam_token_values)

    def generate_token(self, grant_type, client, user=None, scope=None, **kwargs):
        raise RuntimeError("grants issue tokens through IssuingGrantMixin")

    def create_token_response(self, request=None):
        # RFC 6749 §5.2: a missing grant_type is a missing required parameter
        # (invalid_request); Authlib would call it an unsupported grant type.
        if not self.create_oauth2_request(request).payload.grant_type:
            error = InvalidRequestError("Missing 'grant_type' in request.")
            return self.handle_error_response(request, error)
        return super().create_token_response(request)


def refuse_conflicting_credentials(request) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in
    a request, and §5.2 answers one that does with invalid_request. Authlib would
    take the first method that succeeds and ignore the other: HTTP Basic for one
    portal with a wrong client_secret in the body, or a body client_id naming
    another portal, would pass as the Basic portal. Which client is asking must
    never be ambiguous, so such a request is refused before any credential is
    checked."""
    try:
        basic_id, _ = extract_basic_authorization(request.headers)
    except UnicodeDecodeError:
        return  # not credentials at all: client_secret_basic answers invalid_client
    if not basic_id:
        return
    data = request.payload.data
    if data.get("client_secret") or data.get("client_assertion"):
        raise InvalidRequestError(
            "The client used more than one authentication method "
            "(HTTP Basic and credentials in the request body)."
        )
    body_id = data.get("client_id")
    if body_id and body_id != basic_id:
        raise InvalidRequestError("'client_id' does not match the HTTP Basic credentials.")


def _client_secret_basic(query_client, request):
    """Authlib's client_secret_basic, with undecodable credentials counted as no
    credentials: RFC 7617 §2.1 user-ids and passwords are UTF-8, and bytes that are
    not must end in invalid_client (RFC 6749 §5.2), not in a server error."""
    try:
        return authenticate_client_secret_basic(query_client, request)
    except UnicodeDecodeError:
        return None


class IssuingGrantMixin:
    """Builds the token from the grant's own context (family, auth_time, amr)."""

    def issue_context(self, user) -> token_store.IssueContext:
        raise NotImplementedError

    def generate_token(self, user=None, scope=None, include_refresh_token=True, **kwargs):
        ctx = self.issue_context(user)
        body, values = token_store.issue_values(
            self.request.client,
            scope or "",
            ctx,
            include_refresh_token,
            getattr(self.request, "ciam_successor", None),
        )
        self.request.ciam_token_values = values
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
        session = request.ciam_login_session
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
                self.request.ciam_successor = successor
                self.request.ciam_user = owner_claim_user(claimed)
                return claimed
        # Nothing claimed (a replay, another client's or an expired code, an owner
        # not in good standing) or no PostgreSQL: the session path decides as before.
        return codes.consume_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code):
        """Already marked used when it was consumed."""

    def authenticate_user(self, authorization_code):
        # Read with the code when one statement redeemed it (in good standing then).
        user = getattr(self.request, "ciam_user", None)
        return user or _active_user(authorization_code.user_id)

    def issue_context(self, user):
        code = self.request.authorization_code
        return token_store.IssueContext(
            family_id=code.id,
            user_id=user.id,
            session_id=code.session_id,
            auth_time=code.auth_time,
            amr=code.amr,
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
                self.request.ciam_successor = successor
                self.request.ciam_user = claim_user(row)
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
        user = getattr(self.request, "ciam_user", None) or _active_user(refresh_token.user_id)
        if user is None:
            raise InvalidGrantError("The account behind this refresh token is not active.")
        return user

    def revoke_old_credential(self, refresh_token):
        """Marked used when consumed; reuse then revokes the family."""

    def issue_context(self, user):
        parent = self.request.refresh_token
        return token_store.IssueContext(
            family_id=parent.family_id,
            user_id=user.id,
            session_id=parent.session_id,
            auth_time=parent.auth_time,
            amr=parent.amr,
        )


class ClientCredentialsGrant(IssuingGrantMixin, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS

    def validate_token_request(self):
        super().validate_token_request()
        # Per-client allowed scopes: asking for more is an error the caller can see
        # (RFC 6749 §5.2 invalid_scope); asking for nothing grants all it may have.
        requested = self.request.payload.scope
        allowed = " ".join(self.request.client.scopes)
        if requested and not token_store.scopes_within(requested, allowed):
            raise InvalidScopeError("The client may not request this scope.")
        self.request.ciam_scope = requested or allowed

    def generate_token(self, user=None, scope=None, include_refresh_token=True, **kwargs):
        return super().generate_token(None, self.request.ciam_scope, False)

    def issue_context(self, user):
        return token_store.IssueContext(family_id=random_token(16))


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


def session_sid(session_id: str | None) -> str | None:
    """The ID token's `sid` (OpenID Connect Front-/Back-Channel Logout 1.0 §2/§3):
    a stable, opaque name for the login session behind the token. Derived one way
    from the session's key (itself the SHA-256 of the cookie), so a portal holding
    it can neither use nor recover the cookie, and every token of one session,
    first or refreshed, names the same session."""
    return hash_secret("oidc-sid:" + session_id) if session_id else None


def build_id_token(
    client, user, scope, *, auth_time, amr, nonce=None, access_token=None, acr=None, sid=None
):
    now = int(time.time())
    claims = user_claims(user, scope)
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
        )


class RefreshIdToken(CiamOpenIDCode):
    """OIDC Core §12.2: a refresh may return a new ID token (no nonce)."""

    def encode_id_token(self, token, request):
        parent = request.refresh_token
        return build_id_token(
            request.client,
            request.user,
            token["scope"],
            auth_time=parent.auth_time,
            amr=parent.amr,
            access_token=token.get("access_token"),
            sid=session_sid(parent.session_id),
        )

    def __call__(self, grant):
        grant.register_hook("after_create_token_response", self.process_token)


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
            count = token_store.revoke_family(token.row.family_id)
        elif isinstance(token.row, token_store.MachineTokenRow):
            token_store.revoke_machine_token(token.row)
            count = 1
        else:
            token_store.revoke_where(Token.id == token.row.id)
            count = 1
        record(
            "oauth:token:revoked", client_id=request.client.client_id, kind=token.kind, count=count
        )


def get_server() -> CiamAuthorizationServer:
    return current_app.extensions["ciam.oauth"]


def setup_server(app: Flask) -> None:
    # Scopes are filtered per portal (unknown ones ignored, OIDC Core §3.1.2.1), so
    # the server-wide check that would reject them outright stays off.
    server = CiamAuthorizationServer()
    server.init_app(app)
    app.extensions["ciam.oauth"] = server
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)
    server.register_grant(AuthorizationCodeGrant, [CiamOpenIDCode(), StrictCodeChallenge()])
    server.register_grant(RefreshTokenGrant, [RefreshIdToken()])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(CiamIntrospectionEndpoint)
    server.register_endpoint(CiamRevocationEndpoint)
