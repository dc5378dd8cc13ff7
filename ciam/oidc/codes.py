"""Authorization codes (RFC 6749 §4.1): saving one, and redeeming it once.

Codes are random strings stored as SHA-256 hashes. Single use is enforced with a
conditional UPDATE (`... WHERE used_at IS NULL`), so two nodes racing on the same
code cannot both win.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from ciam import hotsql
from ciam.accounts.models import User
from ciam.audit.services import record
from ciam.audit.tags import AuditTag
from ciam.crypto import hash_secret
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc.claims import OWNER_CLAIM_COLUMNS
from ciam.oidc.models import AuthorizationCode
from ciam.oidc.token_store import (
    GRANT_COLUMNS,
    Successor,
    in_good_standing,
    insert_successor,
    revoke_family,
    ttl,
)


def save_code(code: str, **fields) -> None:
    """Store a new code (only its hash) with a Core INSERT in the request's
    transaction: the authorize step never needs it as an ORM object."""
    values = {"id": hash_secret(code), "expires_at": utcnow() + ttl("CIAM_CODE_TTL")}
    db.session.connection().execute(_INSERT_CODE, {**values, **fields})


_INSERT_CODE = cast(Table, AuthorizationCode.__table__).insert()


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


_CODES = cast(Table, AuthorizationCode.__table__)
_NOW = db.bindparam("now", type_=_CODES.c.used_at.type)
# A code's redemption (RFC 6749 §4.1.3), in the parts both paths share: this
# client's unused code is claimed (`code_id`, `client`); it issues tokens only if
# also unexpired and its owner is in good standing.
CLAIMABLE = db.and_(
    _CODES.c.id == db.bindparam("code_id"),
    _CODES.c.client_id == db.bindparam("client"),
    _CODES.c.used_at.is_(None),
)
UNEXPIRED = _CODES.c.expires_at > _NOW

_CLAIM_CODE = (
    db.update(_CODES)
    .where(CLAIMABLE)
    .values(used_at=_NOW)
    .returning(*_CODES.c, UNEXPIRED.label("unexpired"))
)
_CODE_OWNER = db.select(_CODES.c.client_id, _CODES.c.user_id).where(
    _CODES.c.id == db.bindparam("code_id")
)


def consume_code(code: str, client_id: str) -> ClaimedCode | None:
    """Return the code if it is valid for this client, marking it used.

    RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a code presented twice is refused and every
    token it produced is revoked. An expired code is burnt and refused.

    The usual case is one statement on the request's connection: a conditional
    UPDATE ... RETURNING claims an unused code of this client. Only when it claims
    nothing is the row read, to tell a replay (which revokes) from an unknown or
    another client's code (which does not). Its owner's standing is checked when
    the grant reads the owner (`grants.AuthorizationCodeGrant.authenticate_user`).
    """
    code_id = hash_secret(code)
    params = {"code_id": code_id, "client": client_id, "now": utcnow()}
    connection = db.session.connection()
    claimed = connection.execute(_CLAIM_CODE, params).first()
    if claimed is None:
        row = connection.execute(_CODE_OWNER, params).first()
        if row is not None and row.client_id == client_id:
            revoked = revoke_family(code_id)
            record(
                AuditTag.OAUTH_CODE_REPLAYED,
                client_id=client_id,
                actor_id=row.user_id,
                revoked=revoked,
            )
        return None
    return ClaimedCode(claimed) if claimed.unexpired else None


def _redeem_code_statement():
    """RFC 6749 §4.1.3 redemption in one statement (PostgreSQL, through ciam.hotsql):
    claim the code (CLAIMABLE, UNEXPIRED, its owner in good standing), return it
    with the owner's claim columns, and insert the token row it issues (family =
    the code's id, as the session path's `issue_values` writes it), atomically and
    in one round trip instead of BEGIN, UPDATE, SELECT, INSERT and COMMIT.

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
    claimed = (
        db.update(_CODES)
        .where(
            CLAIMABLE,
            UNEXPIRED,
            users.c.id == _CODES.c.user_id,  # UPDATE ... FROM users
            in_good_standing(users.c.status),
        )
        .values(used_at=_NOW)
        .returning(*_CODES.c, *OWNER_CLAIM_COLUMNS)
        .cte("claimed")
    )
    grant = {name: claimed.c[name] for name in GRANT_COLUMNS if name != "family_id"}
    issued = insert_successor({**grant, "family_id": claimed.c.id}).cte("issued")
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
    params = {
        **successor.row_values(include_refresh_token),
        "now": successor.now,
        "code_id": hash_secret(code),
        "client": client_id,
    }
    row = hotsql.first(_REDEEM_CODE, params)
    return ClaimedCode(row) if row is not None else None
