"""Portal behaviour as an Authlib OAuth client (ClientMixin)."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list

from ciam.crypto import secret_matches
from ciam.oidc.token_claims import ORG_SCOPE

LOOPBACK_IPS = ("127.0.0.1", "[::1]")


def _without_port(netloc: str) -> str:
    head, sep, tail = netloc.rpartition(":")
    return head if sep and tail.isdigit() and not head.endswith(":") else netloc


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact string match (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1).

    The one exception is RFC 8252 §7.3: for an http redirect to a loopback IP literal
    a native app picks a free port at run time, so only the port may differ. Every
    other part is still compared as the exact string that was sent.
    """
    if requested == registered:
        return True
    if not (registered.startswith("http://") and requested.startswith("http://")):
        return False
    try:
        reg, req = urlsplit(registered), urlsplit(requested)
        if req.port is None:
            return False
    except ValueError:
        return False
    if _without_port(reg.netloc) not in LOOPBACK_IPS:
        return False
    return (_without_port(req.netloc), req.path, req.query, req.fragment) == (
        _without_port(reg.netloc),
        reg.path,
        reg.query,
        reg.fragment,
    )


class PortalClientMixin(ClientMixin):
    """Mixed into the Portal model and its cached snapshot; attributes come from the
    portal's columns."""

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - an auth method name

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 9700 §2.1: the redirect_uri may be omitted only when exactly one is
        # registered, so there is nothing to guess.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # OIDC Core §3.1.2.1: unknown or unallowed scopes are ignored, not fatal.
        if not scope:
            return ""
        allowed = set(self.scopes)

        def is_allowed(item: str) -> bool:
            # `organization:<slug>` names one organization: allowed with `organization`.
            return item in allowed or (
                item.startswith(ORG_SCOPE + ":") and ORG_SCOPE in allowed and len(item) < 120
            )

        return " ".join(s for s in dict.fromkeys(scope_to_list(scope)) if is_allowed(s))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(redirect_uri_matches(r, redirect_uri) for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(client_secret, self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "introspection" and self.is_public:
            return False  # RFC 7662 §4: only authenticated callers may introspect
        # A confidential portal may send its secret either way (RFC 6749 §2.3.1);
        # a public one has no secret, and a confidential one may never skip it.
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types
