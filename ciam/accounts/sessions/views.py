"""The person's sessions and devices, and their own activity (audit) page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import Blueprint, abort, redirect, render_template, request, url_for

from ciam.accounts.login.recent import is_recent, login_required
from ciam.accounts.sessions import services as sessions
from ciam.accounts.sessions.devices import describe
from ciam.accounts.sessions.forms import EndOtherSessionsForm, EndSessionForm
from ciam.accounts.sessions.services import current_session, current_user
from ciam.audit.actor import actor_context
from ciam.audit.models import AuditEvent
from ciam.audit.services import events_about_person

bp = Blueprint("security", __name__)
bp.ciam_auth = "session"  # pages for people; each view says if it needs a login

ACTIVITY_PAGE_SIZE = 50
MAX_ACTIVITY_PAGE = 200

# What a person reads for each audit tag; tags not listed are shown as they are.
EVENT_WORDS = {
    "user:created": "Account created",
    "membership:created": "Added to an organization",
    "account:login:success": "Signed in",
    "account:login:failure": "Sign-in failed",
    "account:password:verified": "Password accepted",
    "account:logout": "Signed out",
    "account:locked": "Account locked after too many failed sign-ins",
    "account:unlocked": "Account unlocked",
    "account:device:new": "Signed in from a new device",
    "account:session:ended": "Sessions ended",
    "account:password:reset_requested": "Password reset requested",
    "account:password:reset": "Password reset",
    "account:password:changed": "Password changed",
    "account:password:change_failed": "Password change failed",
    "account:email:change_requested": "Email address change requested",
    "account:email:changed": "Email address changed",
    "account:email:verification_sent": "Verification email sent",
    "account:email:verified": "Email address confirmed",
    "account:profile:updated": "Profile updated",
    "account:mfa:enrolled": "Two-step verification method added",
    "account:mfa:removed": "Two-step verification method removed",
    "account:mfa:enrolment_required": "Asked to set up two-step verification",
    "account:mfa:verified": "Two-step verification passed",
    "account:mfa:failure": "Two-step verification failed",
    "account:mfa:sms_sent": "Sign-in code sent by SMS",
    "account:mfa:sms_throttled": "Sign-in code by SMS held back (too many requests)",
    "account:recovery_codes:generated": "New recovery codes created",
    "account:recovery_code:used": "Recovery code used",
    "oauth:consent:granted": "Access granted to an application",
    "oauth:code:replayed": "A sign-in code was used twice; the tokens it gave were revoked",
    "oauth:refresh:reused": "A refresh token was used twice; its tokens were revoked",
    "oauth:token:revoked": "Application access revoked",
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
    user, current = current_user(), current_session()
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


def recent_login_required(view):
    """ASVS 3.3.4: a person ends sessions "having re-entered login credentials", so a
    stolen, older session cannot throw the owner out. A login older than
    CIAM_RECENT_AUTH_SECONDS is sent to sign in again and back to the sessions page
    (not to the form's URL, which only takes POST)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not is_recent():
            back = url_for("security.sessions_page")
            return redirect(url_for("accounts.login", next=back, reauth=1), 303)
        return view(*args, **kwargs)

    return wrapper


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
    user = current_user()
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
    user = current_user()
    ended = sessions.end_other_sessions(user.id, current_session(), actor_context(user.id))
    return redirect(url_for("security.sessions_page", ended=ended), 303)


def _words(event: AuditEvent) -> str:
    reason = (event.data or {}).get("reason")
    if event.tag == "account:unlocked":
        return UNLOCK_WORDS.get(reason, "Account unlocked by support or an administrator")
    if event.tag == "account:login:failure" and reason == "locked":
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
    user = current_user()
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
