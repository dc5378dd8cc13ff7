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
from datetime import UTC, datetime, timedelta

from authlib.oauth2.rfc6749 import TokenMixin, scope_to_list
from flask import current_app
from sqlalchemy import Row

from ciam import hotsql
from ciam.accounts.models import GOOD_STANDING, User
from ciam.audit.services import record
from ciam.crypto import hash_secret, random_token
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc import keys
from ciam.oidc.claims import CLAIM_FIELDS, OWNER_CLAIM_COLUMNS
from ciam.oidc.models import (
    AuthorizationCode,
    Portal,
    PortalStatus,
    RevokedAccessToken,
    Token,
)

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
    now = successor.now
    jti = successor.jti
    sub = str(ctx.user_id) if ctx.user_id else client.client_id
    claims = access_token_claims(client.client_id, sub, scope, jti, now, ctx)
    access_token = keys.sign(claims, typ=ACCESS_TOKEN_TYP)
    values = {
        "id": successor.id,
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
        refresh_token = successor.refresh_token
        values["refresh_token_hash"] = hash_secret(refresh_token)
        values["refresh_expires_at"] = now + _ttl("CIAM_REFRESH_TOKEN_TTL")
        body["refresh_token"] = refresh_token
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


_INSERT_TOKEN = Token.__table__.insert()


def save_code(code: str, **fields) -> None:
    """Store a new code (only its hash) with a Core INSERT in the request's
    transaction: the authorize step never needs it as an ORM object."""
    values = {"id": hash_secret(code), "expires_at": utcnow() + _ttl("CIAM_CODE_TTL")}
    db.session.connection().execute(_INSERT_CODE, {**values, **fields})


_INSERT_CODE = AuthorizationCode.__table__.insert()


class ClaimedCode:
    """An authorization code row claimed for this request (a Core or psycopg row,
    no ORM object), read by Authlib through AuthorizationCodeMixin's getters."""

    __slots__ = ("_row",)

    def __init__(self, row) -> None:
        self._row = row

    def __getattr__(self, name: str):
        return getattr(self._row, name)

    def get_redirect_uri(self) -> str | None:
        # Empty when the request omitted it (one registered URI); RFC 6749 §4.1.3
        # then does not require it at the token endpoint either.
        return self._row.redirect_uri or None

    def get_scope(self) -> str:
        return self._row.scope

    def get_nonce(self) -> str | None:
        return self._row.nonce

    def get_auth_time(self) -> int:
        return int(self._row.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self._row.acr

    def get_amr(self) -> list:
        return self._row.amr


def consume_code(code: str, client_id: str) -> ClaimedCode | None:
    """Return the code if it is valid for this client, marking it used.

    RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a code presented twice is refused and every
    token it produced is revoked.

    The usual case is one statement on the request's connection: a conditional
    UPDATE ... RETURNING claims an unused code of this client. Only when it claims
    nothing is the row read, to tell a replay (which revokes) from an unknown or
    another client's code (which does not).
    """
    code_hash = hash_secret(code)
    now = utcnow()
    claimed = (
        db.session.connection()
        .execute(
            _CLAIM_CODE,
            {"code_id": code_hash, "claimer": client_id, "now": now},
        )
        .first()
    )
    if claimed is None:
        row = db.session.connection().execute(_CODE_OWNER, {"code_id": code_hash}).first()
        if row is not None and row.client_id == client_id:
            revoked = revoke_family(code_hash)
            record(
                "oauth:code:replayed", client_id=client_id, actor_id=row.user_id, revoked=revoked
            )
        return None
    if claimed.expires_at <= now:
        return None
    return ClaimedCode(claimed)


_CODES = AuthorizationCode.__table__
_CLAIM_CODE = (
    db.update(_CODES)
    .where(
        _CODES.c.id == db.bindparam("code_id"),
        _CODES.c.client_id == db.bindparam("claimer"),
        _CODES.c.used_at.is_(None),
    )
    .values(used_at=db.bindparam("now", type_=_CODES.c.used_at.type))
    .returning(*_CODES.c)
)
_CODE_OWNER = db.select(_CODES.c.client_id, _CODES.c.user_id).where(
    _CODES.c.id == db.bindparam("code_id")
)


def _redeem_code_statement():
    """RFC 6749 §4.1.3 redemption in one statement (PostgreSQL, through ciam.hotsql):
    claim the code (this client's, unused, unexpired, its owner in good standing),
    return it with the owner's claim columns, and insert the token row it issues
    (family = the code's id, as `issue_values` writes it), atomically and in one
    round trip instead of BEGIN, UPDATE, SELECT, INSERT and COMMIT.

    When it claims nothing it changed nothing, and the session path
    (`consume_code`) then decides as before: a replay revokes, another client's
    code stays unburnt, an expired code or a suspended owner is refused.

    Writing the token row before redirect_uri and PKCE are checked is safe: should
    either check fail, the code is burnt (as on the session path, whose claim
    commits with the refusal) and the row holds a `jti` that was never signed and
    the hash of a refresh token that was never sent, so nobody can present
    either; a replay of the code revokes it with its family. Claim and insert
    commit together, so a racing replay that finds the code used also finds (and
    revokes) the row it issued.
    """
    users = User.__table__
    token_rows = Token.__table__
    now = db.bindparam("now", type_=_CODES.c.used_at.type)
    # Constants rendered into the SQL: ciam.hotsql prepares the statement as compiled,
    # and an IN list of bound values would be left for SQLAlchemy to expand.
    good_standing = [db.literal_column(f"'{status.value}'") for status in GOOD_STANDING]
    claimed = (
        db.update(_CODES)
        .where(
            _CODES.c.id == db.bindparam("code_id"),
            _CODES.c.client_id == db.bindparam("client_id"),
            _CODES.c.used_at.is_(None),
            _CODES.c.expires_at > now,
            users.c.id == _CODES.c.user_id,  # UPDATE ... FROM users
            users.c.status.in_(good_standing),
        )
        .values(used_at=now)
        .returning(*_CODES.c, *OWNER_CLAIM_COLUMNS)
        .cte("claimed")
    )

    def param(name: str, column: str):
        return db.bindparam(name, type_=token_rows.c[column].type)

    row_values = {
        "id": param("token_id", "id"),
        "jti": param("jti", "jti"),
        "family_id": claimed.c.id,
        "client_id": claimed.c.client_id,
        "user_id": claimed.c.user_id,
        "session_id": claimed.c.session_id,
        "scope": claimed.c.scope,
        "auth_time": claimed.c.auth_time,
        "amr": claimed.c.amr,
        "issued_at": now,
        "access_expires_at": param("access_expires_at", "access_expires_at"),
        "refresh_token_hash": param("refresh_hash", "refresh_token_hash"),
        "refresh_expires_at": param("refresh_expires_at", "refresh_expires_at"),
    }
    issued = (
        token_rows.insert()
        .from_select(list(row_values), db.select(*row_values.values()))
        .returning(token_rows.c.id)
        .cte("issued")
    )
    # The insert is referenced by nothing the SELECT reads: add_cte keeps it in the
    # statement, and PostgreSQL runs every data-modifying CTE exactly once.
    return db.select(*claimed.c).add_cte(issued)


_REDEEM_CODE = _redeem_code_statement()


def can_redeem_in_one_statement() -> bool:
    return hotsql.enabled()


def redeem_code(
    code: str, client_id: str, successor: Successor, include_refresh_token: bool
) -> ClaimedCode | None:
    """Claim this code and write the token row it issues (see _REDEEM_CODE); return
    the code, its row carrying the owner's claim columns too (for
    `claims.owner_claim_user`), or None when nothing was claimed. The refresh
    token is stored only when the client may refresh, as `issue_values` decides."""
    now = successor.now
    refresh = include_refresh_token
    row = hotsql.first(
        _REDEEM_CODE,
        {
            "now": now,
            "code_id": hash_secret(code),
            "client_id": client_id,
            "token_id": successor.id,
            "jti": successor.jti,
            "access_expires_at": now + _ttl("CIAM_ACCESS_TOKEN_TTL"),
            "refresh_hash": hash_secret(successor.refresh_token) if refresh else None,
            "refresh_expires_at": now + _ttl("CIAM_REFRESH_TOKEN_TTL") if refresh else None,
        },
    )
    return ClaimedCode(row) if row is not None else None


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

    `before_use` runs once the token is known to be valid, unused, this client's and
    its owner in good standing, and before it is marked used: it may refuse the
    request by raising (an invalid scope, say), and a refused request then leaves
    the token usable. A token that
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
    users = User.__table__
    row = db.session.execute(
        db.select(*Token.__table__.c, users.c.status.label("user_status"))
        .outerjoin(users, users.c.id == Token.user_id)
        .where(Token.refresh_token_hash == token_hash)
    ).first()
    if row is None or row.client_id != client_id:
        return None
    if row.revoked_at is not None or row.refresh_expires_at <= now:
        return None
    if row.refresh_used_at is None and row.user_status not in GOOD_STANDING:
        # Refused while its owner is not in good standing, and left unused: it
        # works again if the account does (no reuse alarm, no burnt family).
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
    users = User.__table__
    owner_in_good_standing = (
        db.select(users.c.id)
        .where(users.c.id == Token.user_id, users.c.status.in_(GOOD_STANDING))
        .exists()
    )
    claim = (
        db.update(Token.__table__)
        .where(
            which,
            Token.client_id == client_id,
            Token.refresh_used_at.is_(None),
            Token.revoked_at.is_(None),
            Token.refresh_expires_at > now,
            owner_in_good_standing,
        )
        .values(refresh_used_at=now)
        .returning(*Token.__table__.c)
    )
    # Core on the session's connection: same transaction, no ORM execution layer.
    row = db.session.connection().execute(claim).first()
    return TokenRecord(row) if row is not None else None


# RFC 9700 §4.14.2 rotation in one statement (PostgreSQL): claim the presented
# refresh token (unused, unrevoked, unexpired, this client's, its owner in good
# standing) and insert its successor in the same family, atomically and in one
# round trip instead of BEGIN, UPDATE, SELECT, INSERT and COMMIT. When it claims
# nothing it changed nothing, and `consume_refresh_token` then tells why (reuse
# revokes the family).
# Only constants are interpolated (the good-standing statuses, column names).
_GOOD_STANDING_SQL = ", ".join(f"'{status.value}'" for status in GOOD_STANDING)
_OWNER_COLUMNS_SQL = ", ".join(f"users.{name}" for name in CLAIM_FIELDS)
_ROTATE = db.text(
    f"""
    WITH claimed AS (
        UPDATE tokens SET refresh_used_at = :now
        WHERE refresh_token_hash = :old_hash
          AND client_id = :client_id
          AND refresh_used_at IS NULL
          AND revoked_at IS NULL
          AND refresh_expires_at > :now
          AND EXISTS (
              SELECT 1 FROM users
              WHERE users.id = tokens.user_id
                AND users.status IN ({_GOOD_STANDING_SQL})
          )
        RETURNING family_id, user_id, session_id, scope, auth_time, amr
    ), successor AS (
        INSERT INTO tokens (
            id, jti, family_id, client_id, user_id, session_id, scope, auth_time, amr,
            issued_at, access_expires_at, refresh_token_hash, refresh_expires_at
        )
        SELECT :id, :jti, family_id, :client_id, user_id, session_id, scope, auth_time,
               amr, :now, :access_expires_at, :new_hash, :refresh_expires_at
        FROM claimed
        RETURNING id
    )
    SELECT claimed.family_id, claimed.user_id, claimed.session_id, claimed.scope,
           claimed.auth_time, claimed.amr, {_OWNER_COLUMNS_SQL}
    FROM claimed JOIN users ON users.id = claimed.user_id
    """  # noqa: S608
)


def can_rotate_in_one_statement() -> bool:
    return hotsql.enabled()


def rotate_refresh_token(raw: str, client_id: str, successor: Successor):
    """Claim this refresh token and write its successor (see _ROTATE); return the
    claimed row (with the owner's claim columns), or None when nothing was claimed."""
    now = successor.now
    return hotsql.first(
        _ROTATE,
        {
            "now": now,
            "old_hash": hash_secret(raw),
            "client_id": client_id,
            "id": successor.id,
            "jti": successor.jti,
            "access_expires_at": now + _ttl("CIAM_ACCESS_TOKEN_TTL"),
            "new_hash": hash_secret(successor.refresh_token),
            "refresh_expires_at": now + _ttl("CIAM_REFRESH_TOKEN_TTL"),
        },
    )


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
