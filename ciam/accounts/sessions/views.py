"""The person's sessions and devices, and their own activity (audit) page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ciam.accounts.login.recent import (
    MarkedView,
    is_recent,
    login_required,
    mark_auth,
    signed_in_session,
    signed_in_user,
)
from ciam.accounts.sessions import services as sessions
from ciam.accounts.sessions.devices import describe
from ciam.accounts.sessions.forms import EndOtherSessionsForm, EndSessionForm
from ciam.accounts.sessions.services import current_session
from ciam.audit.actor import actor_context
from ciam.audit.models import AuditEvent
from ciam.audit.services import events_about_person
from ciam.audit.tags import AuditTag

bp = Blueprint("security", __name__)

ACTIVITY_PAGE_SIZE = 50
MAX_ACTIVITY_PAGE = 200

# What a person reads for each audit tag; tags not listed are shown as they are. Keyed
# by str: AuditEvent.tag is the stored string, which an AuditTag equals and hashes as.
EVENT_WORDS: dict[str, str] = {
    AuditTag.ACCOUNT_CREATED: "Account created",
    AuditTag.MEMBERSHIP_CREATED: "Added to an organization",
    AuditTag.ACCOUNT_LOGIN_SUCCESS: "Signed in",
    AuditTag.ACCOUNT_LOGIN_FAILURE: "Sign-in failed",
    AuditTag.ACCOUNT_PASSWORD_VERIFIED: "Password accepted",
    AuditTag.ACCOUNT_LOGOUT: "Signed out",
    AuditTag.ACCOUNT_LOCKED: "Account locked after too many failed sign-ins",
    AuditTag.ACCOUNT_UNLOCKED: "Account unlocked",
    AuditTag.ACCOUNT_DEVICE_NEW: "Signed in from a new device",
    AuditTag.ACCOUNT_SESSION_ENDED: "Sessions ended",
    AuditTag.ACCOUNT_PASSWORD_RESET_REQUESTED: "Password reset requested",
    AuditTag.ACCOUNT_PASSWORD_RESET: "Password reset",
    AuditTag.ACCOUNT_PASSWORD_CHANGED: "Password changed",
    AuditTag.ACCOUNT_PASSWORD_CHANGE_FAILED: "Password change failed",
    AuditTag.ACCOUNT_EMAIL_CHANGE_REQUESTED: "Email address change requested",
    AuditTag.ACCOUNT_EMAIL_CHANGED: "Email address changed",
    AuditTag.ACCOUNT_EMAIL_VERIFICATION_SENT: "Verification email sent",
    AuditTag.ACCOUNT_EMAIL_VERIFIED: "Email address confirmed",
    AuditTag.ACCOUNT_PROFILE_UPDATED: "Profile updated",
    AuditTag.ACCOUNT_MFA_ENROLLED: "Two-step verification method added",
    AuditTag.ACCOUNT_MFA_REMOVED: "Two-step verification method removed",
    AuditTag.ACCOUNT_MFA_ENROLMENT_REQUIRED: "Asked to set up two-step verification",
    AuditTag.ACCOUNT_MFA_VERIFIED: "Two-step verification passed",
    AuditTag.ACCOUNT_MFA_FAILURE: "Two-step verification failed",
    AuditTag.ACCOUNT_MFA_SMS_SENT: "Sign-in code sent by SMS",
    AuditTag.ACCOUNT_MFA_SMS_THROTTLED: "Sign-in code by SMS held back (too many requests)",
    AuditTag.ACCOUNT_RECOVERY_CODES_GENERATED: "New recovery codes created",
    AuditTag.ACCOUNT_RECOVERY_CODES_USED: "Recovery code used",
    AuditTag.OAUTH_CONSENT_GRANTED: "Access granted to an application",
    AuditTag.OAUTH_CODE_REPLAYED: "A sign-in code was used twice; the tokens it gave were revoked",
    AuditTag.OAUTH_REFRESH_REUSED: "A refresh token was used twice; its tokens were revoked",
    AuditTag.OAUTH_TOKEN_REVOKED: "Application access revoked",
    AuditTag.ACCOUNT_DEACTIVATED: "Account deactivated",
    AuditTag.ACCOUNT_REACTIVATED: "Account reactivated",
    AuditTag.ORG_MEMBER_ACTION: "Changed by your organization's administrator or support",
    AuditTag.ORG_MEMBER_REMOVED: "Removed from an organization",
    AuditTag.ORG_MEMBER_RIGHT_CHANGED: "Administration right changed",
    AuditTag.SUPPORT_ACCOUNT_ACTION: "Changed by support",
    AuditTag.MEMBERSHIP_SUSPENDED: "Membership suspended",
    AuditTag.MEMBERSHIP_REACTIVATED: "Membership reactivated",
}
UNLOCK_WORDS = {
    "expired": "Account unlocked: the lock period ended",
    "reset": "Account unlocked by a password reset",
}


@dataclass(frozen=True)
class SessionRow:
    handle: str
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


@dataclass(frozen=True)
class ActivityRow:
    what: str
    at: datetime
    ip: str | None
    device: str | None
    by_someone_else: bool


def _session_rows() -> list[SessionRow]:
    user, current = signed_in_user(), signed_in_session()
    return [
        SessionRow(
            handle=sessions.session_handle(row),
            device=describe(row.user_agent),
            ip=row.ip,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            current=row.id == current.id,
        )
        for row in sessions.live_sessions(user.id)
    ]


def recent_login_required(view: Callable[..., ResponseReturnValue]) -> MarkedView:
    """ASVS 3.3.4: a person ends sessions "having re-entered login credentials", so a
    stolen, older session cannot throw the owner out. A login older than
    CIAM_RECENT_AUTH_SECONDS is sent to sign in again and back to the sessions page
    (not to the form's URL, which only takes POST)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not is_recent():
            back = url_for("security.sessions_page")
            return redirect(url_for("accounts.login", next=back, reauth=1), 303)
        return view(*args, **kwargs)

    return mark_auth(wrapper, "recent-session")


@bp.get("/account/sessions")
@login_required
def sessions_page():
    return render_template(
        "security/sessions.html",
        rows=_session_rows(),
        end_form=EndSessionForm(),
        others_form=EndOtherSessionsForm(),
        ended=request.args.get("ended", type=int),
    )


@bp.post("/account/sessions/<handle>/end")
@login_required
@recent_login_required
def end_session(handle: str):
    form = EndSessionForm()
    if not form.validate_on_submit():
        abort(400)
    user = signed_in_user()
    if not sessions.end_by_handle(user.id, handle[:64], actor_context(user.id)):
        abort(404)
    if current_session() is None:  # the person ended the session they were using
        return redirect(url_for("accounts.login"), 303)
    return redirect(url_for("security.sessions_page", ended=1), 303)


@bp.post("/account/sessions/end-others")
@login_required
@recent_login_required
def end_other_sessions():
    form = EndOtherSessionsForm()
    if not form.validate_on_submit():
        abort(400)
    user = signed_in_user()
    ended = sessions.end_other_sessions(user.id, signed_in_session(), actor_context(user.id))
    return redirect(url_for("security.sessions_page", ended=ended), 303)


def _words(event: AuditEvent) -> str:
    reason = (event.data or {}).get("reason", "")
    if event.tag == AuditTag.ACCOUNT_UNLOCKED:
        return UNLOCK_WORDS.get(reason, "Account unlocked by support or an administrator")
    if event.tag == AuditTag.ACCOUNT_LOGIN_FAILURE and reason == "locked":
        return "Sign-in refused: the account was locked"
    return EVENT_WORDS.get(event.tag, event.tag)


def _activity_row(event: AuditEvent, user_id) -> ActivityRow:
    # Where someone else acted on the account (support, an admin, the system), their
    # IP and browser are theirs, not the person's: not shown.
    own = event.actor_id == user_id
    return ActivityRow(
        what=_words(event),
        at=event.created_at,
        ip=event.ip if own else None,
        device=describe(event.user_agent) if own and event.user_agent else None,
        by_someone_else=not own,
    )


@bp.get("/account/activity")
@login_required
def activity():
    user = signed_in_user()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_ACTIVITY_PAGE)
    events = events_about_person(
        user.id, limit=ACTIVITY_PAGE_SIZE + 1, offset=(page - 1) * ACTIVITY_PAGE_SIZE
    )
    return render_template(
        "security/activity.html",
        rows=[_activity_row(event, user.id) for event in events[:ACTIVITY_PAGE_SIZE]],
        page=page,
        has_more=len(events) > ACTIVITY_PAGE_SIZE and page < MAX_ACTIVITY_PAGE,
    )
