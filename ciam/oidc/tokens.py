"""Issuing, finding, consuming and revoking OAuth tokens and codes.

Access tokens are JWTs in the RFC 9068 profile so portals can validate them offline;
their `jti` is stored so that revocation and introspection stay authoritative.
Refresh tokens and codes are random strings stored as SHA-256 hashes. Single use is
enforced with a conditional UPDATE (`... WHERE used_at IS NULL`), so two nodes racing
on the same code or refresh token cannot both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.oauth2.rfc6749 import TokenMixin, scope_to_list
from flask import current_app
from sqlalchemy import Row

from ciam.accounts.models import User
from ciam.audit.services import record
from ciam.crypto import hash_secret, random_token
from ciam.db import utcnow
from ciam.extensions import autocommit_first, db
from ciam.oidc import keys
from ciam.oidc.models import AuthorizationCode, Token

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - RFC 9068 §2.1 header type


@dataclass
class IssueContext:
    """What the grant knows about the authentication behind this token."""

    family_id: str
    user_id: uuid.UUID | None = None
    session_id: str | None = None
    auth_time: datetime | None = None
    amr: list | None = None


def _ttl(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def access_token_claims(client_id: str, sub: str, scope: str, jti: str, now, ctx) -> dict:
    claims = {
        "iss": current_app.config["CIAM_ISSUER"],
        "sub": sub,
        "aud": client_id,
        "client_id": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + _ttl("CIAM_ACCESS_TOKEN_TTL")).timestamp()),
        "jti": jti,
        "scope": scope,
    }
    if ctx.auth_time is not None:
        claims["auth_time"] = int(ctx.auth_time.timestamp())
    return claims


def issue_values(client, scope: str, ctx: IssueContext, include_refresh_token: bool):
    """Build the token response body and the column values of the Token row behind it."""
    now = utcnow()
    jti = random_token(16)
    sub = str(ctx.user_id) if ctx.user_id else client.client_id
    claims = access_token_claims(client.client_id, sub, scope, jti, now, ctx)
    access_token = keys.sign(claims, typ=ACCESS_TOKEN_TYP)
    values = {
        "id": uuid.uuid4(),
        "jti": jti,
        "family_id": ctx.family_id,
        "client_id": client.client_id,
        "user_id": ctx.user_id,
        "session_id": ctx.session_id,
        "scope": scope,
        "auth_time": ctx.auth_time,
        "amr": ctx.amr or [],
        "issued_at": now,
        "access_expires_at": now + _ttl("CIAM_ACCESS_TOKEN_TTL"),
    }
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": current_app.config["CIAM_ACCESS_TOKEN_TTL"],
        "scope": scope,
    }
    if include_refresh_token and ctx.user_id is not None:
        refresh_token = random_token(32)
        values["refresh_token_hash"] = hash_secret(refresh_token)
        values["refresh_expires_at"] = now + _ttl("CIAM_REFRESH_TOKEN_TTL")
        body["refresh_token"] = refresh_token
    return body, values


def issue(client, scope: str, ctx: IssueContext, include_refresh_token: bool) -> tuple[dict, Token]:
    """As issue_values, with an (unsaved) Token row."""
    body, values = issue_values(client, scope, ctx, include_refresh_token)
    return body, Token(**values)


def insert_token(values: dict, standalone: bool = False) -> None:
    """A Core INSERT: the token endpoint never needs the row as an ORM object.
    `standalone`: the grant wrote nothing else, so the row is committed on its own
    (one round trip); otherwise it joins the request's transaction."""
    if standalone:
        autocommit_first(_INSERT_TOKEN, values)
    else:
        # Core on the session's connection: same transaction, no ORM execution layer.
        db.session.connection().execute(_INSERT_TOKEN, values)


_INSERT_TOKEN = Token.__table__.insert()


def save_code(code: str, **fields) -> AuthorizationCode:
    row = AuthorizationCode(
        id=hash_secret(code), expires_at=utcnow() + _ttl("CIAM_CODE_TTL"), **fields
    )
    db.session.add(row)
    return row


def consume_code(code: str, client_id: str) -> AuthorizationCode | None:
    """Return the code if it is valid for this client, marking it used.

    RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a code presented twice is refused and every
    token it produced is revoked.
    """
    row = db.session.get(AuthorizationCode, hash_secret(code))
    if row is None or row.client_id != client_id:
        return None
    now = utcnow()
    claimed = db.session.execute(
        db.update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        revoked = revoke_family(row.id)
        record("oauth:code:replayed", client_id=client_id, actor_id=row.user_id, revoked=revoked)
        return None
    if row.expires_at <= now:
        return None
    return row


class TokenRecord:
    """A tokens row read with Core (no ORM object), read like the model."""

    __slots__ = ("_row",)

    def __init__(self, row: Row):
        self._row = row

    def __getattr__(self, name: str):
        return getattr(self._row, name)

    def get_scope(self) -> str:
        return self._row.scope


def consume_refresh_token(
    raw: str, client_id: str, before_use: Callable[[TokenRecord], None] | None = None
) -> TokenRecord | None:
    """Return the token row if this refresh token may be used now, marking it used.

    RFC 9700 §4.14.2: rotation with reuse detection. A used refresh token presented
    again means it leaked: the whole family is revoked.

    `before_use` runs once the token is known to be valid, unused and this client's,
    and before it is marked used: it may refuse the request by raising (an invalid
    scope, say), and a refused request then leaves the token usable. A token that
    was already used is a reuse whatever else is wrong with the request.

    Without `before_use` the usual case is one statement: a conditional UPDATE ...
    RETURNING claims the token (PostgreSQL, SQLite >= 3.35). Only when it claims
    nothing is the row read to tell an unknown, foreign, expired or revoked token
    from a reuse.
    """
    token_hash = hash_secret(raw)
    now = utcnow()
    if before_use is None:
        claimed = _claim_refresh(Token.refresh_token_hash == token_hash, client_id, now)
        if claimed is not None:
            return claimed
    row = db.session.execute(
        db.select(*Token.__table__.c).where(Token.refresh_token_hash == token_hash)
    ).first()
    if row is None or row.client_id != client_id:
        return None
    if row.revoked_at is not None or row.refresh_expires_at <= now:
        return None
    if row.refresh_used_at is None and before_use is not None:
        before_use(TokenRecord(row))
        claimed = _claim_refresh(Token.id == row.id, client_id, now)
        if claimed is not None:
            return claimed
    revoked = revoke_family(row.family_id)
    record("oauth:refresh:reused", client_id=client_id, actor_id=row.user_id, revoked=revoked)
    return None


def _claim_refresh(which, client_id: str, now) -> TokenRecord | None:
    """Mark one unused, unrevoked, unexpired refresh token of this client used; the
    WHERE clause makes two racing requests unable to both claim it."""
    claim = (
        db.update(Token.__table__)
        .where(
            which,
            Token.client_id == client_id,
            Token.refresh_used_at.is_(None),
            Token.revoked_at.is_(None),
            Token.refresh_expires_at > now,
        )
        .values(refresh_used_at=now)
        .returning(*Token.__table__.c)
    )
    # Core on the session's connection: same transaction, no ORM execution layer.
    row = db.session.connection().execute(claim).first()
    return TokenRecord(row) if row is not None else None


def revoke_family(family_id: str) -> int:
    return db.session.execute(
        db.update(Token)
        .where(Token.family_id == family_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def revoke_where(*criteria) -> int:
    return db.session.execute(
        db.update(Token)
        .where(*criteria, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


class IssuedToken(TokenMixin):
    """A token row seen as one kind of token, for the introspection/revocation
    endpoints. The row carries the owner's `user_status` and `user_email` too."""

    def __init__(self, row: Row, kind: str, claims: dict | None = None):
        self.row = row
        self.kind = kind
        self.claims = claims or {}

    def check_client(self, client) -> bool:
        return self.row.client_id == client.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_at(self) -> datetime:
        if self.kind == "refresh_token":
            return self.row.refresh_expires_at
        return self.row.access_expires_at

    def get_expires_in(self) -> int:
        return max(0, int((self.get_expires_at() - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.get_expires_at() <= utcnow()

    def is_revoked(self) -> bool:
        if self.row.revoked_at is not None:
            return True
        return self.kind == "refresh_token" and self.row.refresh_used_at is not None


def _token_with_owner(*criteria):
    """One Core SELECT: the token row and its user's status and email."""
    users = User.__table__
    return autocommit_first(
        db.select(
            *Token.__table__.c,
            users.c.status.label("user_status"),
            users.c.email.label("user_email"),
        )
        .outerjoin(users, users.c.id == Token.user_id)
        .where(*criteria)
    )


def find_token(raw: str, hint: str | None) -> IssuedToken | None:
    """Find an access token (a JWT we signed) or a refresh token by its value."""
    if raw.count(".") == 2:
        try:
            _, claims = keys.verify(raw, typ=ACCESS_TOKEN_TYP)
        except keys.InvalidJWT:
            return None
        row = _token_with_owner(Token.jti == str(claims.get("jti")))
        return IssuedToken(row, "access_token", claims) if row else None
    row = _token_with_owner(Token.refresh_token_hash == hash_secret(raw))
    return IssuedToken(row, "refresh_token") if row else None


def scopes_within(requested: str, granted: str) -> bool:
    return set(scope_to_list(requested) or []) <= set(scope_to_list(granted) or [])
