"""Deactivation (DESIGN §3: `* -> deactivated`, removed from all organizations or by
an admin): the account can no longer sign in, its sessions end and its tokens are
revoked at once, on every node (each token use reads its row and its owner's
status). Reactivation gives the account back; the person signs in anew. No `request`."""

from __future__ import annotations

from ciam.accounts.models import User, UserStatus
from ciam.accounts.sessions.services import end_all_sessions
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.errors import Conflict
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import revoke_where


def deactivate(user: User, ctx: ActorContext, reason: str) -> tuple[int, int]:
    """Returns (sessions ended, tokens revoked); nothing if already deactivated."""
    if user.status == UserStatus.deactivated:
        return 0, 0
    if user.status == UserStatus.erased:
        raise Conflict("This account was erased.", code="erased")
    before = user.status
    user.status = UserStatus.deactivated
    db.session.flush()
    sessions, tokens = end_all_sessions(user.id), revoke_where(Token.user_id == user.id)
    record(
        AuditTag.ACCOUNT_DEACTIVATED,
        ctx,
        target=str(user.id),
        reason=reason[:500],
        before=before.value,
        sessions_ended=sessions,
        tokens_revoked=tokens,
    )
    return sessions, tokens


def reactivate(user: User, ctx: ActorContext) -> bool:
    if user.status != UserStatus.deactivated:
        return False
    user.status = UserStatus.active
    db.session.flush()
    record(AuditTag.ACCOUNT_REACTIVATED, ctx, target=str(user.id))
    return True
