"""Refresh tokens (RFC 6749 §6): consuming one once, and rotating it (RFC 9700
§4.14.2) with reuse detection.

Single use is enforced with a conditional UPDATE (`... WHERE refresh_used_at IS
NULL`), so two nodes racing on the same refresh token cannot both win. What makes
a refresh token usable is written once, as SQL (USABLE), for the session path and
the one-statement rotation alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import Table

from ciam import hotsql
from ciam.accounts.models import User
from ciam.audit.services import record
from ciam.audit.tags import AuditTag
from ciam.crypto import hash_secret
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc.claims import CLAIM_USER_COLUMNS
from ciam.oidc.models import Token
from ciam.oidc.token_store import (
    GRANT_COLUMNS,
    Successor,
    TokenRecord,
    insert_successor,
    owner_in_good_standing,
    revoke_family,
)

_TOKENS = cast(Table, Token.__table__)
_USERS = User.__table__
_NOW = db.bindparam("now", type_=_TOKENS.c.refresh_used_at.type)

# "This refresh token is usable now", in the parts the session path tells apart
# when a claim fails. Parameters: `client` (the authenticated client's id) and
# `now`; none is named as a column, which SQLAlchemy would read as a SET value.
THIS_CLIENT = _TOKENS.c.client_id == db.bindparam("client")
UNUSED = _TOKENS.c.refresh_used_at.is_(None)
LIVE = db.and_(_TOKENS.c.revoked_at.is_(None), _TOKENS.c.refresh_expires_at > _NOW)
OWNER_IN_GOOD_STANDING = owner_in_good_standing(_TOKENS.c.user_id)
USABLE = db.and_(THIS_CLIENT, UNUSED, LIVE, OWNER_IN_GOOD_STANDING)

_BY_HASH = _TOKENS.c.refresh_token_hash == db.bindparam("token_hash")


def _claim(which):
    """Mark one usable refresh token used: the WHERE clause makes two racing
    requests unable to both claim it."""
    return (
        db.update(_TOKENS).where(which, USABLE).values(refresh_used_at=_NOW).returning(*_TOKENS.c)
    )


_CLAIM_BY_HASH = _claim(_BY_HASH)
_CLAIM_BY_ID = _claim(_TOKENS.c.id == db.bindparam("token_id"))
# The presented token with each part of USABLE, to tell why it was not claimed.
_INSPECT = db.select(
    *_TOKENS.c,
    THIS_CLIENT.label("this_client"),
    LIVE.label("live"),
    OWNER_IN_GOOD_STANDING.label("owner_in_good_standing"),
).where(_BY_HASH)


def _rotated(source):
    """What a rotation returns: the claimed token's id and grant columns, and its
    owner's claim columns (for `claims.claim_user`)."""
    grant = [source.c[name] for name in GRANT_COLUMNS if name != "client_id"]
    return db.select(source.c.id.label("token_id"), *grant, *CLAIM_USER_COLUMNS).join_from(
        source, _USERS, _USERS.c.id == source.c.user_id
    )


def _rotate_statement():
    """RFC 9700 §4.14.2 rotation in one statement (PostgreSQL, through ciam.hotsql):
    claim the presented refresh token if USABLE and insert its successor in the
    same family, atomically and in one round trip instead of BEGIN, UPDATE,
    SELECT, INSERT and COMMIT. When it claims nothing it changed nothing, and
    `consume_refresh_token` then tells why (reuse revokes the family)."""
    claimed = _CLAIM_BY_HASH.cte("claimed")
    successor = insert_successor({name: claimed.c[name] for name in GRANT_COLUMNS})
    # Referenced by nothing the SELECT reads: add_cte keeps it in the statement,
    # and PostgreSQL runs every data-modifying CTE exactly once.
    return _rotated(claimed).add_cte(successor.cte("successor"))


_ROTATE = _rotate_statement()
_ROTATED_BY_ID = _rotated(_TOKENS).where(_TOKENS.c.id == db.bindparam("token_id"))
_INSERT_TOKEN = _TOKENS.insert()
_DELETE_SUCCESSOR = db.delete(_TOKENS).where(_TOKENS.c.id == db.bindparam("successor_id"))
_UNCLAIM = (
    db.update(_TOKENS)
    .where(_TOKENS.c.id == db.bindparam("token_id"), _TOKENS.c.refresh_used_at == _NOW)
    .values(refresh_used_at=None)
)


def can_rotate_in_one_statement() -> bool:
    return hotsql.enabled()


def rotate_refresh_token(raw: str, client_id: str, successor: Successor):
    """Claim this refresh token and write its successor; return the claimed row (see
    `_rotated`), or None when nothing was claimed (and nothing changed).

    On PostgreSQL one statement (_ROTATE); elsewhere (SQLite has no data-modifying
    CTE) the same claim and insert as one transaction of three statements."""
    claim = {"token_hash": hash_secret(raw), "client": client_id, "now": successor.now}
    drawn = successor.row_values(include_refresh_token=True)
    if hotsql.enabled():
        return hotsql.first(_ROTATE, {**claim, **drawn})
    with db.engine.begin() as connection:
        claimed = connection.execute(_CLAIM_BY_HASH, claim).first()
        if claimed is None:
            return None
        grant = {name: getattr(claimed, name) for name in GRANT_COLUMNS}
        connection.execute(_INSERT_TOKEN, {**grant, **drawn})
        return connection.execute(_ROTATED_BY_ID, {"token_id": claimed.id}).first()


def undo_rotation(rotated, successor: Successor) -> None:
    """Take back a committed rotation whose answer could not be built (no signing
    key, say): the successor's row goes and the presented token is unused again,
    so the portal's retry is not a reuse that revokes the family (RFC 9700
    §4.14.2). The successor's refresh token was never sent, so nobody holds it; a
    reuse detected meanwhile has revoked the family, which stays revoked."""
    with db.engine.begin() as connection:
        connection.execute(_DELETE_SUCCESSOR, {"successor_id": successor.id})
        connection.execute(_UNCLAIM, {"token_id": rotated.token_id, "now": successor.now})


def consume_refresh_token(
    raw: str, client_id: str, before_use: Callable[[TokenRecord], None] | None = None
) -> TokenRecord | None:
    """Return the token row if this refresh token may be used now, marking it used.

    RFC 9700 §4.14.2: rotation with reuse detection. A used refresh token presented
    again means it leaked: the whole family is revoked.

    `before_use` runs once the token is known to be valid, unused, this client's and
    its owner in good standing, and before it is marked used: it may refuse the
    request by raising (an invalid scope, say), and a refused request then leaves
    the token usable. A token that was already used is a reuse whatever else is
    wrong with the request.

    Without `before_use` the usual case is one statement: a conditional UPDATE ...
    RETURNING claims the token (PostgreSQL, SQLite >= 3.35). Only when it claims
    nothing is the row read to tell an unknown, foreign, expired or revoked token
    from a reuse.
    """
    params = {"token_hash": hash_secret(raw), "client": client_id, "now": utcnow()}
    # Core on the session's connection: same transaction, no ORM execution layer.
    connection = db.session.connection()
    if before_use is None:
        claimed = connection.execute(_CLAIM_BY_HASH, params).first()
        if claimed is not None:
            return TokenRecord(claimed)
    row = connection.execute(_INSPECT, params).first()
    if row is None or not row.this_client or not row.live:
        return None
    if row.refresh_used_at is None and not row.owner_in_good_standing:
        # Refused while its owner is not in good standing, and left unused: it
        # works again if the account does (no reuse alarm, no burnt family).
        return None
    if row.refresh_used_at is None and before_use is not None:
        before_use(TokenRecord(row))
        claimed = connection.execute(_CLAIM_BY_ID, {**params, "token_id": row.id}).first()
        if claimed is not None:
            return TokenRecord(claimed)
    revoked = revoke_family(row.family_id)
    record(
        AuditTag.OAUTH_REFRESH_REUSED, client_id=client_id, actor_id=row.user_id, revoked=revoked
    )
    return None
