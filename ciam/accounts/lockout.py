"""Account lockout after consecutive wrong passwords (NIST 800-63B §5.2.2, ASVS 2.2.1).

After CIAM_LOCKOUT_THRESHOLD consecutive failures (10 by default, never more than
100) the account is `locked` (DESIGN §3) until `locked_until`: CIAM_LOCKOUT_BASE_SECONDS
for the first lock, twice as long for each further lock in a row, at most
CIAM_LOCKOUT_MAX_SECONDS. The lock lifts by time at the next attempt after
`locked_until`, by a successful login or self-service password reset (`clear`), or by
an org admin or support engineer (`unlock`).

The counters are columns of `users`, changed with conditional UPDATEs, so every node
sees the same count and two nodes racing on one account cannot lose a failure.

A lockout is about guessing, not about a stolen session: the person's existing
sessions and tokens keep working while the account is locked (User.can_log_in).
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult

from ciam.accounts.models import User, UserStatus
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.extensions import db


def lock_period(lock_number: int) -> timedelta:
    """How long the n-th lock in a row lasts: base, doubled per lock, capped."""
    cfg = current_app.config
    base, cap = cfg["CIAM_LOCKOUT_BASE_SECONDS"], cfg["CIAM_LOCKOUT_MAX_SECONDS"]
    exponent = min(max(lock_number, 1) - 1, 32)  # 2**32 * base is past any sane cap
    return timedelta(seconds=min(base * 2**exponent, cap))


def is_locked(user: User) -> bool:
    return user.is_locked


def lift_expired(user: User) -> bool:
    """Unlock by time: a lock whose period has passed ends at the next attempt.
    `lock_count` stays, so the next lock lasts longer. Returns True if it lifted."""
    if user.status != UserStatus.locked or user.locked_until is None:
        return False
    if user.locked_until > utcnow():
        return False
    statement = (
        db.update(User)
        .where(User.id == user.id, User.status == UserStatus.locked, User.locked_until.is_not(None))
        .where(User.locked_until <= utcnow())
        .values(status=UserStatus.active, locked_until=None, failed_login_count=0)
        .execution_options(synchronize_session=False)
    )
    lifted = cast(CursorResult, db.session.execute(statement)).rowcount
    db.session.refresh(user)
    if lifted:
        record(AuditTag.ACCOUNT_UNLOCKED, SYSTEM, target=str(user.id), reason="expired")
    return bool(lifted)


def register_failure(user: User, ctx: ActorContext) -> bool:
    """Count one wrong password (or second-factor code); lock at the threshold.

    Returns True if this failure locked the account. Only active accounts lock: a
    suspended or deactivated account keeps its own status.
    """
    db.session.execute(
        db.update(User)
        .where(User.id == user.id)
        .values(failed_login_count=User.failed_login_count + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user)
    threshold = current_app.config["CIAM_LOCKOUT_THRESHOLD"]
    if user.status != UserStatus.active or user.failed_login_count < threshold:
        return False
    lock_number = user.lock_count + 1
    until = utcnow() + lock_period(lock_number)
    # Conditional on what we read, so of two nodes racing only one locks (and counts).
    statement = (
        db.update(User)
        .where(
            User.id == user.id,
            User.status == UserStatus.active,
            User.lock_count == user.lock_count,
            User.failed_login_count >= threshold,
        )
        .values(
            status=UserStatus.locked,
            locked_until=until,
            lock_count=lock_number,
            failed_login_count=0,
        )
        .execution_options(synchronize_session=False)
    )
    locked = cast(CursorResult, db.session.execute(statement)).rowcount
    db.session.refresh(user)
    if locked:
        record(
            AuditTag.ACCOUNT_LOCKED,
            ctx,
            actor_id=user.id,
            target=str(user.id),
            reason="failed_logins",
            failures=threshold,
            lock_number=lock_number,
            locked_until=until.isoformat(),
        )
    return bool(locked)


def clear(user: User) -> None:
    """Forget failures and locks: after a successful login, and after a self-service
    password reset (the reset proves control of the email, DESIGN §3 unlock)."""
    if user.status == UserStatus.locked:
        user.status = UserStatus.active
    # Only what changes: a login with nothing to clear leaves the user unmodified,
    # so the request's commit has no ORM flush to do for it.
    if user.failed_login_count:
        user.failed_login_count = 0
    if user.lock_count:
        user.lock_count = 0
    if user.locked_until is not None:
        user.locked_until = None


def unlock(user: User, ctx: ActorContext, reason: str = "admin") -> bool:
    """An org admin or support engineer unlocks the account (DESIGN §1, §3).

    Permission checks belong to the caller (the consoles and the API); the CLI is
    for operators. Returns True if the account was locked.
    """
    db.session.refresh(user)  # the lock may have been set by another node a moment ago
    was_locked = user.status == UserStatus.locked
    clear(user)
    db.session.flush()
    record(
        AuditTag.ACCOUNT_UNLOCKED, ctx, target=str(user.id), reason=reason, was_locked=was_locked
    )
    return was_locked
