"""Self-service: profile, email verification and change, password change and reset.

No `request` here (DESIGN §5.2): views pass an ActorContext. Emails leave through the
outbox (DESIGN §5.3), so a rolled-back change sends nothing. Links are built from
CIAM_ISSUER, never from the request's Host header (a forged Host would otherwise
send a working reset link to the attacker's site: OWASP Forgot Password Cheat Sheet).

Signed links (ciam.tokens) carry the row they act on and a piece of its current
state; the link dies when that state changes (DESIGN §5.4):

- password reset: a fingerprint of the password hash and email, so the link works
  once, and dies as soon as the password (or the address) changes;
- email verification: the address it was sent to, so it dies if the address changes;
- email change: the old and the pending address, so it works once, and a newer
  request (a new pending address) kills the older link.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ciam.accounts import lockout, passwords
from ciam.accounts.models import User, UserStatus
from ciam.accounts.services import find_by_email, get_user, normalize_email, validate_email
from ciam.accounts.sessions.services import end_all_sessions
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.errors import CiamError, Conflict
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import revoke_where
from ciam.outbox.services import enqueue
from ciam.tokens import LinkInvalid, Purpose, make_token, read_token

# OWASP Forgot Password Cheat Sheet: short-lived reset links. Ours last 30 minutes.
RESET_LINK_MAX_AGE = 30 * 60
# Verification links go to an inbox the person may open later in the day.
EMAIL_LINK_MAX_AGE = 24 * 3600
# Who may reset: a locked account too, since a reset is the self-service unlock
# (DESIGN §3). Invited, suspended, deactivated... accounts get no email.
RESETTABLE = frozenset({UserStatus.active, UserStatus.locked})
_USED = "This link has already been used or is no longer valid. Ask for a new one."


def _link(path: str) -> str:
    return current_app.config["CIAM_ISSUER"] + path


def _send(to: str, subject: str, text: str, user: User | None = None) -> None:
    enqueue(
        "email",
        {"to": to, "subject": subject, "text": text},
        aggregate_id=str(user.id) if user else None,
    )


def _mask(email: str) -> str:
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


# --- profile ----------------------------------------------------------------------


def update_profile(
    user: User,
    given_name: str | None,
    family_name: str | None,
    phone_number: str | None,
    ctx: ActorContext,
    address: dict[str, str | None] | None = None,
) -> list[str]:
    """Save name, phone and (when given) address. Returns the names of the fields
    that changed (audited)."""
    values: dict[str, str | dict[str, str] | None] = {
        "given_name": (given_name or "").strip() or None,
        "family_name": (family_name or "").strip() or None,
        "phone_number": (phone_number or "").strip() or None,
    }
    if address is not None:
        parts = {key: value.strip() for key, value in address.items() if value and value.strip()}
        values["address"] = parts or None
    changed = [field for field, value in values.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, values[field])
    if changed:
        record(
            AuditTag.ACCOUNT_PROFILE_UPDATED,
            ctx,
            actor_id=user.id,
            target=str(user.id),
            fields=changed,
        )
    return changed


# --- password reset ---------------------------------------------------------------


def _fingerprint(user: User) -> str:
    # The argon2 hash has a fresh salt on every change, so any new password (even the
    # same one typed again) gives a new fingerprint. The email is in it too: a link
    # sent to an address the account no longer has must stop working.
    material = f"{user.password_hash or ''}\0{user.email_normalized}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def _reset_email(user_email: str, token: str) -> tuple[str, str]:
    text = (
        f"Someone, hopefully you, asked to reset the password for {user_email}.\n\n"
        f"To choose a new password, open this link within 30 minutes:\n\n"
        f"{_link('/reset-password/' + token)}\n\n"
        "The link works once. If you did not ask for it, ignore this email: "
        "your password stays as it is.\n"
    )
    return "Reset your password", text


def request_password_reset(email: str, ctx: ActorContext) -> None:
    """Email a reset link if the account exists and may reset; otherwise do the same
    work and send nothing. The caller shows the same page either way, so the answer
    does not tell whether an account exists (ASVS 2.5.1, NIST 800-63B §5.1.1.2)."""
    user = find_by_email(email) if email else None
    eligible = user is not None and user.status in RESETTABLE
    # Comparable work for unknown emails: sign a token and build the message too.
    uid = str(user.id) if user else str(uuid.uuid4())
    fingerprint = _fingerprint(user) if user else hashlib.sha256(b"unknown").hexdigest()[:32]
    token = make_token(Purpose.password_reset, {"uid": uid, "fp": fingerprint})
    subject, text = _reset_email(user.email if user else email, token)
    if eligible and user is not None:
        _send(user.email, subject, text, user)
    details: dict[str, Any] = {"sent": eligible}
    if not eligible:  # why nothing was sent
        details["reason"] = "unknown_email" if user is None else f"status_{user.status}"
    record(
        AuditTag.ACCOUNT_PASSWORD_RESET_REQUESTED,
        ctx,
        actor_id=user.id if user else None,
        target=str(user.id) if user else None,
        **details,
    )


def user_for_reset(token: str) -> User:
    """The user a reset link is for, if the link is still good (LinkExpired/Invalid)."""
    payload = read_token(Purpose.password_reset, token, max_age=RESET_LINK_MAX_AGE)
    user = get_user(str(payload.get("uid", "")))
    if (
        user is None
        or user.status not in RESETTABLE
        or not hmac.compare_digest(str(payload.get("fp", "")), _fingerprint(user))
    ):
        raise LinkInvalid(_USED)
    return user


def _revoke_everything(user: User) -> tuple[int, int]:
    """End every login session and portal token of the person (ASVS 3.3.3)."""
    return end_all_sessions(user.id), revoke_where(Token.user_id == user.id)


def _password_changed_notice(user: User) -> None:
    # ASVS 2.2.3 / 2.5.5: tell the person when their password changes.
    _send(
        user.email,
        "Your password was changed",
        f"The password for {user.email} was changed at "
        f"{utcnow().strftime('%Y-%m-%d %H:%M UTC')}.\n\n"
        "If this was you, there is nothing to do. If it was not, reset your password "
        f"now at {_link('/reset-password')} and contact support.\n",
        user,
    )


def reset_password(token: str, new_password: str, ctx: ActorContext) -> User:
    """Set a new password from a reset link, then end every session and token.

    It does not sign the person in: they sign in with the new password (and their
    second factor, if they have one), so a reset never bypasses MFA."""
    user = user_for_reset(token)
    passwords.check_policy(new_password, user.email)
    user.password_hash = passwords.hash_password(new_password)
    # Receiving the link proved the person reads this inbox.
    user.email_verified = True
    # A self-service reset is also the unlock (DESIGN §3): it proves control of the inbox.
    was_locked = user.status == UserStatus.locked
    lockout.clear(user)
    if was_locked:
        record(
            AuditTag.ACCOUNT_UNLOCKED, ctx, actor_id=user.id, target=str(user.id), reason="reset"
        )
    sessions, tokens = _revoke_everything(user)
    record(
        AuditTag.ACCOUNT_PASSWORD_RESET,
        ctx,
        actor_id=user.id,
        target=str(user.id),
        sessions_ended=sessions,
        tokens_revoked=tokens,
    )
    _password_changed_notice(user)
    return user


# --- password change --------------------------------------------------------------


def change_password(
    user: User,
    current_password: str,
    new_password: str,
    ctx: ActorContext,
    keep_session_id: str | None = None,
) -> None:
    """Change the password of a signed-in person who knows the current one (ASVS
    2.1.6), then end their other sessions and revoke their portal tokens (ASVS 3.3.3)."""
    if not passwords.verify_password(user.password_hash, current_password):
        record(AuditTag.ACCOUNT_PASSWORD_CHANGE_FAILED, ctx, actor_id=user.id, target=str(user.id))
        raise passwords.PasswordRejected(
            "Your current password is not right.", code="wrong_current_password"
        )
    passwords.check_policy(new_password, user.email)
    user.password_hash = passwords.hash_password(new_password)
    ended = end_all_sessions(user.id, except_id=keep_session_id)
    revoked = revoke_where(Token.user_id == user.id)
    record(
        AuditTag.ACCOUNT_PASSWORD_CHANGED,
        ctx,
        actor_id=user.id,
        target=str(user.id),
        sessions_ended=ended,
        tokens_revoked=revoked,
    )
    _password_changed_notice(user)


# --- email verification and change --------------------------------------------------


def send_email_verification(user: User, ctx: ActorContext) -> None:
    """Email a link that proves the person reads their (unverified) address."""
    if user.email_verified:
        return
    token = make_token(
        Purpose.email_verification, {"uid": str(user.id), "email": user.email_normalized}
    )
    _send(
        user.email,
        "Confirm your email address",
        "Please confirm that this is your email address by opening this link within "
        f"24 hours:\n\n{_link('/verify-email/' + token)}\n\n"
        "If you did not create an account, ignore this email.\n",
        user,
    )
    record(AuditTag.ACCOUNT_EMAIL_VERIFICATION_SENT, ctx, actor_id=user.id, target=str(user.id))


def request_email_change(user: User, new_email: str, ctx: ActorContext) -> str:
    """Remember the new address and email it a link; nothing changes until it is
    clicked. Returns the address. An address that another account already uses gets a
    notice instead of a link, and this page says the same, so the form does not tell
    which addresses have accounts (ASVS 2.5.1 spirit)."""
    new_email = validate_email(new_email)
    normalized = normalize_email(new_email)
    if normalized == user.email_normalized:
        raise CiamError("This is already your email address.", code="same_email")
    user.pending_email = new_email
    taken = find_by_email(new_email) is not None
    if taken:
        _send(
            new_email,
            "Someone tried to use your email address",
            "Someone asked to move another account to this email address. An account "
            "already uses it, so nothing was changed. If this was you, sign in with "
            "this address instead; otherwise you can ignore this email.\n",
        )
    else:
        token = make_token(
            Purpose.email_change,
            {"uid": str(user.id), "from": user.email_normalized, "to": normalized},
        )
        _send(
            new_email,
            "Confirm your new email address",
            f"Someone, hopefully you, asked to use {new_email} to sign in instead of "
            f"{_mask(user.email)}. To confirm, open this link within 24 hours:\n\n"
            f"{_link('/verify-email/' + token)}\n\n"
            "If you did not ask for this, ignore this email: nothing changes.\n",
            user,
        )
    record(AuditTag.ACCOUNT_EMAIL_CHANGE_REQUESTED, ctx, actor_id=user.id, target=str(user.id))
    return new_email


@dataclass(frozen=True)
class EmailLink:
    kind: str  # "verification" or "change"
    user: User
    email: str  # the address being verified, or the new address


def read_email_link(token: str) -> EmailLink:
    """Check a /verify-email link (either kind) against the account's current state."""
    try:
        payload = read_token(Purpose.email_change, token, max_age=EMAIL_LINK_MAX_AGE)
        kind = "change"
    except LinkInvalid:
        payload = read_token(Purpose.email_verification, token, max_age=EMAIL_LINK_MAX_AGE)
        kind = "verification"
    user = get_user(str(payload.get("uid", "")))
    if user is None or not user.can_log_in:
        raise LinkInvalid(_USED)
    if kind == "verification":
        if payload.get("email") != user.email_normalized:
            raise LinkInvalid(_USED)
        return EmailLink(kind, user, user.email)
    pending = user.pending_email
    if pending is None:  # no change asked for, or it was already made
        raise LinkInvalid(_USED)
    to = normalize_email(pending)
    if payload.get("from") != user.email_normalized or payload.get("to") != to:
        raise LinkInvalid(_USED)
    return EmailLink(kind, user, pending)


def confirm_email_link(token: str, ctx: ActorContext) -> EmailLink:
    """Apply a /verify-email link: mark the address verified, or switch to the new
    address and tell the old one (ASVS 2.2.3)."""
    link = read_email_link(token)
    user = link.user
    if link.kind == "verification":
        user.email_verified = True
        record(AuditTag.ACCOUNT_EMAIL_VERIFIED, ctx, actor_id=user.id, target=str(user.id))
        return link
    if find_by_email(link.email) is not None:
        raise Conflict("Another account now uses this address.", code="email_taken")
    old_email = user.email
    user.email = link.email
    user.email_normalized = normalize_email(link.email)
    user.email_verified = True
    user.pending_email = None
    db.session.flush()
    record(AuditTag.ACCOUNT_EMAIL_CHANGED, ctx, actor_id=user.id, target=str(user.id))
    _send(
        old_email,
        "Your email address was changed",
        f"The account that used {old_email} now signs in with {_mask(link.email)}.\n\n"
        "If this was you, there is nothing to do. If it was not, contact support at "
        "once: someone may have access to your account.\n",
        user,
    )
    return link
