"""What happens after a right password: the second factor when one is due, then the
login session. Views call these; the MFA step plugs in here.

Between the password and the second factor the login is *pending*: the flow cookie
(Flask's signed session) holds who, where to go next and since when. It is no login
session: nothing but the second-step pages accept it, and it lapses after 5 minutes.
"""

from __future__ import annotations

import time
import uuid
from functools import cache

from flask import g, redirect, session, url_for
from werkzeug.wrappers import Response

from ciam.accounts import assurance, mfa
from ciam.accounts.models import LoginSession, User
from ciam.accounts.services import normalize_email
from ciam.accounts.sessions import (
    DeviceFacts,
    browser_device_id,
    device_columns,
    presented_device_id,
    start_session,
)
from ciam.audit.services import record
from ciam.extensions import db
from ciam.web import actor_context, safe_next

PENDING_KEY = "mfa_pending"
PENDING_TTL_SECONDS = 300
# Set by the authorization endpoint when the portal asked for a second factor
# (acr_values=mfa); holds that request's fingerprint, like `login_for`.
MFA_FOR_KEY = "mfa_for"
# Set by the enrolment page's "Cancel": that request's fingerprint, which the
# authorization endpoint answers with unmet_authentication_requirements.
DECLINED_KEY = "mfa_declined_for"


def _fresh_flow_cookie() -> None:
    # A fresh flow cookie at login (new CSRF secret), keeping only the marker that
    # lets a `prompt=login` authorization request see this login.
    login_for = session.get("login_for")
    session.clear()
    if login_for:
        session["login_done_for"] = login_for


def open_login_session(user: User, amr: list[str], device: DeviceFacts | None = None) -> None:
    """Start the login session (new id) without deciding where the browser goes."""
    _fresh_flow_cookie()
    start_session(user, amr, actor_context(user.id), device)


def complete_login(
    user: User, amr: list[str], next_url: str | None, device: DeviceFacts | None = None
) -> Response:
    """Open the login session (new id) and continue where the person was going."""
    open_login_session(user, amr, device)
    return redirect(safe_next(next_url), 303)


def _portal_wants_mfa() -> bool:
    wanted = session.get(MFA_FOR_KEY)
    return wanted is not None and wanted == session.get("login_for")


def _set_pending(user: User, next_url: str | None, first: list[str], enrol: bool) -> None:
    session[PENDING_KEY] = {
        "user_id": str(user.id),
        "next": safe_next(next_url),
        "started_at": int(time.time()),
        "first": first,
        "enrol": enrol,
    }


def begin_second_factor(
    user: User, next_url: str | None, first: list[str] | None = None
) -> Response:
    """Send the person to the second step: the code check, or the set-up of an
    authenticator when they have no factor yet but one is required."""
    first = first or [assurance.PWD]
    if mfa.has_factor(user.id):
        _set_pending(user, next_url, first, enrol=False)
        return redirect(url_for("mfa.login_step"), 303)
    _set_pending(user, next_url, first, enrol=True)
    record("account:mfa:enrolment_required", actor_context(user.id), actor_id=user.id)
    return redirect(url_for("mfa.login_enrol"), 303)


def _facts_columns(user_id, device_id) -> tuple:
    # What after_password asks: a factor? the org's policy? this browser known to
    # this person? the account used before?
    return (
        mfa.has_factor_clause(user_id),
        mfa.org_requires_mfa_clause(user_id),
        *device_columns(user_id, device_id),
    )


# Built once: composing these statements costs more CPU than running them.
@cache
def _login_facts():
    return db.select(*_facts_columns(db.bindparam("user_id"), db.bindparam("device_id")))


@cache
def _user_and_login_facts():
    return db.select(User, *_facts_columns(User.id, db.bindparam("device_id"))).where(
        User.email_normalized == db.bindparam("email")
    )


def find_for_login(email: str) -> User | None:
    """The login page's lookup for services.authenticate: the person with this
    email and, in the same query (one round trip fewer), what after_password will
    ask about them, kept for this request. Only reads: the password decides next.
    The device is the one this browser presented (none: a new device), so no
    outcome of the lookup changes what the browser is sent."""
    params = {"email": normalize_email(email), "device_id": presented_device_id()}
    row = db.session.execute(_user_and_login_facts(), params).first()
    if row is None:
        return None
    user, *facts = row
    g._login_facts = (user.id, tuple(facts))
    return user


def _facts_for(user: User, device_id: str) -> tuple:
    found = g.pop("_login_facts", None)
    if found is not None and found[0] == user.id:
        return found[1]
    # Without autoflush: none of it depends on the rows this request has written,
    # which the commit then writes in one go.
    with db.session.no_autoflush:
        row = db.session.execute(_login_facts(), {"user_id": user.id, "device_id": device_id})
        return tuple(row.one())


def after_password(user: User, next_url: str | None) -> Response:
    """The password was right. A person with a second factor proves it next; one
    without it sets one up first when their organization or the portal requires it
    (DESIGN §2 org policy, acr_values=mfa); everyone else is logged in."""
    # Read with the person when find_for_login found them, else in one query now.
    has_factor, org_requires, *device = _facts_for(user, browser_device_id())
    if has_factor or _portal_wants_mfa() or org_requires:
        return begin_second_factor(user, next_url)
    return complete_login(user, [assurance.PWD], next_url, DeviceFacts(*device))


def step_up(user: User, login_session: LoginSession, next_url: str) -> Response:
    """A live session without a second factor meets a portal that wants one: only the
    second step is asked; what the session already proved is kept in its amr."""
    return begin_second_factor(user, next_url, assurance.first_factors(login_session.amr))


def pending_login() -> tuple[User, dict] | None:
    """The pending login of this browser, if it is still valid."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("started_at", 0) > PENDING_TTL_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    try:
        user = db.session.get(User, uuid.UUID(pending["user_id"]))
    except (KeyError, ValueError):
        return None
    if user is None or not user.can_log_in:
        return None
    return user, pending


def decline_enrolment(pending: dict) -> str:
    """The person will not set up a second factor now: drop the pending login, mark
    the authorization request it was for as declined; returns where to go next."""
    session.pop(PENDING_KEY, None)
    if session.get("login_for"):
        session[DECLINED_KEY] = session["login_for"]
    return safe_next(pending.get("next"))


def finish_second_factor(user: User, pending: dict, method: str) -> list[str]:
    """The second factor was right: open the login session; returns its amr."""
    amr = assurance.combine(pending.get("first") or [assurance.PWD], method)
    open_login_session(user, amr)
    return amr
