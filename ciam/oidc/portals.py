"""The portal register: creating, listing and retiring OIDC clients."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.config import is_loopback_host
from ciam.crypto import hash_secret
from ciam.errors import CiamError, NotFound
from ciam.extensions import db
from ciam.oidc import token_store
from ciam.oidc.keys import DEFAULT_ALG, SUPPORTED_ALGS
from ciam.oidc.models import Portal, PortalStatus, Token

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_SCOPES = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
    "organization",
]


def validate_redirect_uri(uri: str, public: bool) -> str:
    """Registered redirect URIs are absolute, have no fragment (RFC 6749 §3.1.2) and
    use https; http only for loopback, custom schemes only for public native apps."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise CiamError(f"Redirect URI {uri!r} is not a valid URL.") from exc
    if not parts.scheme or parts.fragment or "*" in uri or any(c.isspace() for c in uri):
        raise CiamError(f"Redirect URI {uri!r} must be absolute, without fragment or wildcard.")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return uri
    if public and parts.scheme not in ("http", "https", "javascript", "data", "file"):
        return uri  # RFC 8252 §7.1 private-use scheme, e.g. com.example.app:/cb
    raise CiamError(f"Redirect URI {uri!r} must use https (http only on loopback).")


def create_portal(
    name: str,
    redirect_uris: list[str],
    *,
    public: bool = False,
    first_party: bool = False,
    grant_types: list[str] | None = None,
    scopes: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    owner: str | None = None,
    require_pkce: bool = False,
    status: PortalStatus = PortalStatus.live,
    client_id: str | None = None,
    id_token_alg: str = DEFAULT_ALG,
    ctx: ActorContext = SYSTEM,
) -> tuple[Portal, str | None]:
    """Register a portal. Returns it and its client secret (shown once, never stored)."""
    grant_types = list(grant_types or ["authorization_code", "refresh_token"])
    unknown = set(grant_types) - set(GRANT_TYPES)
    if unknown:
        raise CiamError(f"Unknown grant type(s): {', '.join(sorted(unknown))}.")
    if public and "client_credentials" in grant_types:
        raise CiamError("A public portal cannot use client_credentials.")
    if "authorization_code" in grant_types and not redirect_uris:
        raise CiamError("A portal using authorization_code needs a redirect URI.")
    if id_token_alg not in SUPPORTED_ALGS:
        raise CiamError(f"ID tokens can be signed with {', '.join(SUPPORTED_ALGS)} only.")
    redirect_uris = [validate_redirect_uri(u, public) for u in redirect_uris]
    logout_uris = [validate_redirect_uri(u, public) for u in post_logout_redirect_uris or []]
    secret = None if public else secrets.token_urlsafe(32)
    portal = Portal(
        client_id=client_id or new_client_id(),
        client_secret_hash=hash_secret(secret) if secret else None,
        name=name,
        owner=owner,
        status=status,
        first_party=first_party,
        require_pkce=require_pkce or public,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=logout_uris,
        grant_types=grant_types,
        scopes=list(scopes or DEFAULT_SCOPES),
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        id_token_signed_response_alg=id_token_alg,
    )
    db.session.add(portal)
    db.session.flush()
    record(AuditTag.PORTAL_CREATED, ctx, client_id=portal.client_id, target=name)
    return portal, secret


def new_client_id() -> str:
    """128 random bits as 32 hex digits. Not base64url: an id starting with "-" is
    read as an option by every CLI it is pasted into (`ciam portals disable -x...`
    failed one time in 64), and `_` or `-` break double-click selection."""
    return secrets.token_hex(16)


def get_portal(client_id: str) -> Portal:
    portal = db.session.scalar(db.select(Portal).where(Portal.client_id == client_id))
    if portal is None:
        raise NotFound(f"No portal with client id {client_id}.")
    return portal


def list_portals() -> list[Portal]:
    return list(db.session.scalars(db.select(Portal).order_by(Portal.name)))


def retire_portal(client_id: str, ctx: ActorContext = SYSTEM) -> int:
    """Retire a portal and revoke every token it holds. Returns the count revoked."""
    portal = get_portal(client_id)
    portal.status = PortalStatus.retired
    revoked = token_store.revoke_where(Token.client_id == client_id)
    record(AuditTag.PORTAL_RETIRED, ctx, client_id=client_id, revoked=revoked)
    return revoked


def portal_summary(portal: Portal) -> dict:
    return {
        "client_id": portal.client_id,
        "name": portal.name,
        "owner": portal.owner,
        "status": portal.status.value,
        "public": portal.is_public,
        "first_party": portal.first_party,
        "require_pkce": portal.require_pkce,
        "token_endpoint_auth_method": portal.token_endpoint_auth_method,
        "redirect_uris": portal.redirect_uris,
        "post_logout_redirect_uris": portal.post_logout_redirect_uris,
        "grant_types": portal.grant_types,
        "scopes": portal.scopes,
        "id_token_signed_response_alg": portal.id_token_signed_response_alg,
    }
