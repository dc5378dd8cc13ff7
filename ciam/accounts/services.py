"""Account logic: creating users and checking passwords. No `request` here."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ciam.accounts import lockout, passwords
from ciam.accounts.models import User, UserStatus
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.errors import CiamError, Conflict
from ciam.extensions import db


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = email.strip()
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise CiamError(f"{email!r} is not a valid email address.", code="invalid_email")
    return email


# Built once: on the login path, composing a statement costs as much as running it.
_BY_EMAIL = db.select(User).where(User.email_normalized == db.bindparam("email"))


def find_by_email(email: str) -> User | None:
    return db.session.scalar(_BY_EMAIL, {"email": normalize_email(email)})


def get_user(user_id: uuid.UUID | str) -> User | None:
    if isinstance(user_id, str):
        try:
            user_id = uuid.UUID(user_id)
        except ValueError:
            return None
    return db.session.get(User, user_id)


def create_user(
    email: str,
    password: str | None,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
    email_verified: bool = False,
    status: UserStatus = UserStatus.active,
    ctx: ActorContext = SYSTEM,
) -> User:
    email = validate_email(email)
    if find_by_email(email):
        raise Conflict(f"A user with email {email} already exists.", code="email_taken")
    password_hash = None
    if password is not None:
        passwords.check_policy(password, email)
        password_hash = passwords.hash_password(password)
    user = User(
        email=email,
        email_normalized=normalize_email(email),
        email_verified=email_verified,
        password_hash=password_hash,
        given_name=given_name,
        family_name=family_name,
        status=status,
    )
    db.session.add(user)
    db.session.flush()
    record(AuditTag.ACCOUNT_CREATED, ctx, target=str(user.id))
    return user


def authenticate(
    email: str,
    password: str,
    ctx: ActorContext,
    lookup: Callable[[str], User | None] = find_by_email,
) -> User | None:
    """Check email and password. Unknown, locked, inactive and wrong all look the same.

    No enumeration (ASVS 2.2.1, NIST 800-63B §5.2.2): every path hashes the password
    once, the unknown email against a dummy hash, and the caller shows one message.
    A locked account checks the password too but refuses even the right one.
    `lookup` finds the person by email: find_by_email, or a caller's variant that
    reads more in the same query (ciam.accounts.login.facts.LoginLookup).
    """
    user = lookup(email) if email else None
    if user is None:
        passwords.burn_time(password)
        record(AuditTag.ACCOUNT_LOGIN_FAILURE, ctx, reason="unknown_email")
        return None
    password_ok = passwords.verify_password(user.password_hash, password)
    lockout.lift_expired(user)
    if user.is_locked:
        record(AuditTag.ACCOUNT_LOGIN_FAILURE, ctx, actor_id=user.id, reason="locked")
        return None
    if not user.can_log_in:
        record(
            AuditTag.ACCOUNT_LOGIN_FAILURE,
            ctx,
            actor_id=user.id,
            reason=f"status_{user.status.value}",
        )
        return None
    if not password_ok:
        record(AuditTag.ACCOUNT_LOGIN_FAILURE, ctx, actor_id=user.id, reason="bad_password")
        lockout.register_failure(user, ctx)
        return None
    lockout.clear(user)
    # The password was right, so there is a hash (verify_password refuses None).
    if user.password_hash is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    # Not yet a login: a second factor may follow. start_session records the login.
    record(AuditTag.ACCOUNT_PASSWORD_VERIFIED, ctx, actor_id=user.id)
    return user
