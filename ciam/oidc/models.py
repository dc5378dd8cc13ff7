"""Portal register and OAuth records: codes, tokens, consents, signing keys."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model
from ciam.oidc.clients import PortalClientMixin


class PortalStatus(enum.StrEnum):
    onboarding = "onboarding"
    live = "live"
    retired = "retired"


class Portal(UUIDPrimaryKey, Timestamps, PortalClientMixin, Model):
    """An OIDC client in the portal register. OAuth behaviour lives in oidc.clients."""

    __tablename__ = "portals"

    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[PortalStatus] = mapped_column(
        Enum(PortalStatus, native_enum=False, length=20), default=PortalStatus.live
    )
    first_party: Mapped[bool] = mapped_column(default=False)
    require_pkce: Mapped[bool] = mapped_column(default=False)
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    app_roles: Mapped[list] = mapped_column(JSON, default=list)
    # Only people whose organization is entitled to it, holding one of its seats,
    # get a code (ciam.delegation.org_choice); False: open to everyone who signs in.
    requires_entitlement: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuthorizationCode(AuthorizationCodeMixin, Model):
    __tablename__ = "authorization_codes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the code
    client_id: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claims_request: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Authlib's AuthorizationCodeMixin (OIDC flavour)
    def get_redirect_uri(self) -> str | None:
        # Empty when the request omitted it (one registered URI); RFC 6749 §4.1.3
        # then does not require it at the token endpoint either.
        return self.redirect_uri or None

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list:
        return self.amr


class Token(UUIDPrimaryKey, Model):
    """One issued access token and, optionally, the refresh token issued with it.

    Tokens that descend from one authorization code (or one client-credentials
    request) share `family_id`; RFC 9700 §4.14.2: replaying a rotated refresh token
    revokes the whole family, and replaying a code revokes what it issued.
    """

    __tablename__ = "tokens"
    __table_args__ = (
        Index("ix_tokens_family_id", "family_id"),
        # Not client_id alone: a generic plan built on small-table statistics chose
        # such an index for `refresh_token_hash = $1 AND client_id = $2` and scanned
        # all of a portal's tokens (migration 0007). This one pins the hash too.
        Index("ix_tokens_client_id_refresh_token_hash", "client_id", "refresh_token_hash"),
    )

    jti: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    # The organization the sign-in was for (its `org` and `roles` claims).
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def get_scope(self) -> str:
        return self.scope


class RevokedAccessToken(Model):
    """A client_credentials access token revoked before it expired (RFC 7009).

    Those tokens have no `tokens` row: they carry no user, no refresh token and no
    family, so nothing needs writing when they are issued. What makes one inactive
    is a row here or its portal being retired, both checked on every
    introspection. Rows can be deleted once `expires_at` has passed.
    """

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Timestamps, Model):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(80))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SigningKey(Timestamps, Model):
    """A JWS signing key. Its state follows from its timestamps (see oidc.keys)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    # Starts signing at not_before; stops when a newer key of its alg starts; stays
    # in the JWKS until publish_until so tokens it signed keep validating.
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
