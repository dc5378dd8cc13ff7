"""Refresh tokens (RFC 6749 §6): consuming one once, and rotating it (RFC 9700
§4.14.2) with reuse detection.

Single use is enforced with a conditional UPDATE (`... WHERE refresh_used_at IS
NULL`), so two nodes racing on the same refresh token cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable

from ciam import hotsql
from ciam.accounts.models import GOOD_STANDING, User
from ciam.audit.services import record
from ciam.crypto import hash_secret
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc.claims import CLAIM_FIELDS
from ciam.oidc.models import Token
from ciam.oidc.token_store import Successor, TokenRecord, revoke_family, ttl

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
            "access_expires_at": now + ttl("CIAM_ACCESS_TOKEN_TTL"),
            "new_hash": hash_secret(successor.refresh_token),
            "refresh_expires_at": now + ttl("CIAM_REFRESH_TOKEN_TTL"),
        },
    )


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
