"""Issuing, finding and revoking OAuth access and refresh tokens (the `tokens` table).

Access tokens are JWTs in the RFC 9068 profile so portals can validate them offline;
their `jti` is stored so that revocation and introspection stay authoritative.
Refresh tokens are random strings stored as SHA-256 hashes; their single use lives
in ciam.oidc.refresh_tokens, authorization codes in ciam.oidc.codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from authlib.oauth2.rfc6749 import TokenMixin, scope_to_list
from flask import current_app
from sqlalchemy import ColumnElement, CursorResult, Insert, Row, Table

from ciam import hotsql
from ciam.accounts.models import GOOD_STANDING, User
from ciam.crypto import hash_secret, random_token
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc import keys
from ciam.oidc.models import (
    Portal,
    PortalStatus,
    RevokedAccessToken,
    Token,
)
from ciam.oidc.token_claims import extra_claims

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - RFC 9068 §2.1 header type


@dataclass
class IssueContext:
    """What the grant knows about the authentication behind this token."""

    family_id: str
    user_id: uuid.UUID | None = None
    session_id: str | None = None
    auth_time: datetime | None = None
    amr: list | None = None
    org_id: uuid.UUID | None = None  # the organization the sign-in was for


def ttl(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def access_token_claims(client_id: str, sub: str, scope: str, jti: str, now, ctx) -> dict:
    claims = {
        "iss": current_app.config["CIAM_ISSUER"],
        "sub": sub,
        "aud": client_id,
        "client_id": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl("CIAM_ACCESS_TOKEN_TTL")).timestamp()),
        "jti": jti,
        "scope": scope,
    }
    if ctx.auth_time is not None:
        claims["auth_time"] = int(ctx.auth_time.timestamp())
    if ctx.org_id is not None:
        claims.update(extra_claims(ctx.user_id, ctx.org_id, client_id, scope))
    return claims


# A new token row, in two parts: the columns it takes from the grant behind it (the
# code redeemed, the refresh token rotated, or the issuing context), and those drawn
# for it (Successor.row_values). The one-statement grants build their INSERT from
# these lists (`insert_successor`), the session paths their values (`issue_values`).
GRANT_COLUMNS = (
    "family_id",
    "client_id",
    "user_id",
    "session_id",
    "scope",
    "auth_time",
    "amr",
    "org_id",
)
DRAWN_COLUMNS = (
    "id",
    "jti",
    "issued_at",
    "access_expires_at",
    "refresh_token_hash",
    "refresh_expires_at",
)
_TOKENS = cast(Table, Token.__table__)
_USERS = User.__table__


@dataclass(frozen=True)
class Successor:
    """The new token's random values, drawn before the one statement that writes
    its row: the rotation of a refresh token (`rotate_refresh_token`) or the
    redemption of a code (`redeem_code`)."""

    id: uuid.UUID
    jti: str
    refresh_token: str
    now: datetime

    @classmethod
    def draw(cls) -> Successor:
        return cls(uuid.uuid4(), random_token(16), random_token(32), utcnow())

    def row_values(self, include_refresh_token: bool) -> dict:
        """The DRAWN_COLUMNS of its row (no refresh token unless included)."""
        now, refresh = self.now, include_refresh_token
        return {
            "id": self.id,
            "jti": self.jti,
            "issued_at": now,
            "access_expires_at": now + ttl("CIAM_ACCESS_TOKEN_TTL"),
            "refresh_token_hash": hash_secret(self.refresh_token) if refresh else None,
            "refresh_expires_at": now + ttl("CIAM_REFRESH_TOKEN_TTL") if refresh else None,
        }


def grant_values(ctx: IssueContext, client_id: str, scope: str) -> dict:
    """The GRANT_COLUMNS of a token row issued in this context."""
    return {
        "family_id": ctx.family_id,
        "client_id": client_id,
        "user_id": ctx.user_id,
        "session_id": ctx.session_id,
        "scope": scope,
        "auth_time": ctx.auth_time,
        "amr": ctx.amr or [],
        "org_id": ctx.org_id,
    }


def insert_successor(grant: Mapping[str, ColumnElement]) -> Insert:
    """INSERT ... SELECT of a new token row for a one-statement grant: the
    GRANT_COLUMNS read from the claimed code or refresh token (`grant`, by column
    name), the DRAWN_COLUMNS bound as parameters of the same names."""
    values = {name: grant[name] for name in GRANT_COLUMNS}
    values |= {name: db.bindparam(name, type_=_TOKENS.c[name].type) for name in DRAWN_COLUMNS}
    select = db.select(*values.values())
    return _TOKENS.insert().from_select(list(values), select).returning(_TOKENS.c.id)


# Constants rendered into the SQL: ciam.hotsql prepares the statement as compiled,
# and an IN list of bound values would be left for SQLAlchemy to expand.
_GOOD_STANDING = [db.literal_column(f"'{status.value}'") for status in GOOD_STANDING]


def in_good_standing(status: ColumnElement) -> ColumnElement[bool]:
    """SQL for `status in GOOD_STANDING` (the account may use its tokens)."""
    return status.in_(_GOOD_STANDING)


def owner_in_good_standing(user_id: ColumnElement) -> ColumnElement[bool]:
    """SQL: the user `user_id` names exists and is in good standing."""
    owner = db.select(_USERS.c.id).where(_USERS.c.id == user_id, in_good_standing(_USERS.c.status))
    return owner.exists()


def issue_values(
    client,
    scope: str,
    ctx: IssueContext,
    include_refresh_token: bool,
    successor: Successor | None = None,
):
    """Build the token response body and the column values of the Token row behind
    it (from `successor`'s values when the row was already written with them)."""
    successor = successor or Successor.draw()
    sub = str(ctx.user_id) if ctx.user_id else client.client_id
    claims = access_token_claims(client.client_id, sub, scope, successor.jti, successor.now, ctx)
    access_token = keys.sign(claims, typ=ACCESS_TOKEN_TYP)
    refresh = include_refresh_token and ctx.user_id is not None
    values = {**successor.row_values(refresh), **grant_values(ctx, client.client_id, scope)}
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": current_app.config["CIAM_ACCESS_TOKEN_TTL"],
        "scope": scope,
    }
    if refresh:
        body["refresh_token"] = successor.refresh_token
    return body, values


def issue(client, scope: str, ctx: IssueContext, include_refresh_token: bool) -> tuple[dict, Token]:
    """As issue_values, with an (unsaved) Token row."""
    body, values = issue_values(client, scope, ctx, include_refresh_token)
    return body, Token(**values)


def insert_token(values: dict) -> None:
    """A Core INSERT on the session's connection: it commits with the code or
    refresh token the grant consumed in the same transaction, and the token
    endpoint never needs the row as an ORM object."""
    db.session.connection().execute(_INSERT_TOKEN, values)


_INSERT_TOKEN = _TOKENS.insert()


class TokenRecord:
    """A tokens row read with Core (no ORM object), read like the model."""

    __slots__ = ("_row",)

    def __init__(self, row: Row):
        self._row = row

    def __getattr__(self, name: str):
        return getattr(self._row, name)

    def get_scope(self) -> str:
        return self._row.scope


def _updated(statement) -> int:
    """How many rows an UPDATE on the request's session matched."""
    return cast(CursorResult, db.session.execute(statement)).rowcount


def revoke_family(family_id: str) -> int:
    return _updated(
        db.update(Token)
        .where(Token.family_id == family_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revoke_where(*criteria) -> int:
    return _updated(
        db.update(Token)
        .where(*criteria, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


class IssuedToken(TokenMixin):
    """A token row seen as one kind of token, for the introspection/revocation
    endpoints. The row carries the owner's `user_status` and `user_email` too."""

    def __init__(self, row: Row | MachineTokenRow, kind: str, claims: dict | None = None):
        self.row = row
        self.kind = kind
        self.claims = claims or {}

    def check_client(self, client) -> bool:
        return self.row.client_id == client.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_at(self) -> datetime:
        expires = self.row.refresh_expires_at if self.kind == "refresh_token" else None
        return expires or self.row.access_expires_at

    def get_expires_in(self) -> int:
        return max(0, int((self.get_expires_at() - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.get_expires_at() <= utcnow()

    def is_revoked(self) -> bool:
        if self.row.revoked_at is not None:
            return True
        return self.kind == "refresh_token" and self.row.refresh_used_at is not None


def _token_with_owner(criterion):
    """One prepared SELECT (ciam.hotsql): the token row, its user's status and email."""
    users = User.__table__
    return (
        db.select(
            *Token.__table__.c,
            users.c.status.label("user_status"),
            users.c.email.label("user_email"),
        )
        .outerjoin(users, users.c.id == Token.user_id)
        .where(criterion)
    )


_BY_JTI = _token_with_owner(Token.jti == db.bindparam("key"))
_BY_REFRESH_HASH = _token_with_owner(Token.refresh_token_hash == db.bindparam("key"))


def is_machine_token(claims: dict) -> bool:
    """A client_credentials access token: its subject is the portal itself and no
    person authenticated (every user's token carries auth_time). Only tokens we
    signed get here, so the claims are ours."""
    return claims.get("sub") == claims.get("client_id") and "auth_time" not in claims


@dataclass(frozen=True)
class MachineTokenRow:
    """A client_credentials token seen through the columns of a `tokens` row, read
    from its (verified) claims plus its portal's status and the revocation list."""

    jti: str
    client_id: str
    scope: str
    issued_at: datetime
    access_expires_at: datetime
    revoked_at: datetime | None
    id: None = None
    user_id: None = None
    user_status: None = None
    user_email: None = None
    family_id: None = None
    refresh_used_at: None = None
    refresh_expires_at: None = None
    org_id: None = None


_PORTALS = Portal.__table__
_REVOKED = RevokedAccessToken.__table__
# One prepared statement: the portal's status, and whether this jti was revoked.
_MACHINE_STATE = db.select(
    _PORTALS.c.status,
    db.select(_REVOKED.c.jti)
    .where(_REVOKED.c.jti == db.bindparam("jti"))
    .exists()
    .label("revoked"),
).where(_PORTALS.c.client_id == db.bindparam("client_id"))


def _machine_token(claims: dict) -> MachineTokenRow | None:
    jti, client_id = str(claims.get("jti")), str(claims.get("client_id"))
    state = hotsql.first(_MACHINE_STATE, {"jti": jti, "client_id": client_id})
    if state is None:
        return None  # its portal was deleted
    inactive = state.revoked or state.status == PortalStatus.retired
    return MachineTokenRow(
        jti=jti,
        client_id=client_id,
        scope=str(claims.get("scope", "")),
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        access_expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        revoked_at=utcnow() if inactive else None,
    )


def revoke_machine_token(row: MachineTokenRow) -> None:
    """Put a client_credentials token on the revocation list (RFC 7009 §2.2: a
    second revocation of the same token changes nothing and is not an error)."""
    if db.session.get(RevokedAccessToken, row.jti) is None:
        db.session.add(
            RevokedAccessToken(
                jti=row.jti, client_id=row.client_id, expires_at=row.access_expires_at
            )
        )


def find_token(raw: str, hint: str | None) -> IssuedToken | None:
    """Find an access token (a JWT we signed) or a refresh token by its value."""
    if raw.count(".") == 2:
        try:
            _, claims = keys.verify(raw, typ=ACCESS_TOKEN_TYP)
        except keys.InvalidJWT:
            return None
        if is_machine_token(claims):
            machine = _machine_token(claims)
            return IssuedToken(machine, "access_token", claims) if machine else None
        row = hotsql.first(_BY_JTI, {"key": str(claims.get("jti"))})
        return IssuedToken(row, "access_token", claims) if row else None
    row = hotsql.first(_BY_REFRESH_HASH, {"key": hash_secret(raw)})
    return IssuedToken(row, "refresh_token") if row else None


def scopes_within(requested: str, granted: str) -> bool:
    return set(scope_to_list(requested) or []) <= set(scope_to_list(granted) or [])
