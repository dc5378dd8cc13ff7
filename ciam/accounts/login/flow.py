"""The sign-in flow: after a right password, each step the login needs, then the
login session, then on to where the person was going.

The state of a sign-in in progress is one typed object, SignIn, kept in one key of
the flow cookie (Flask's signed session): which authorization request sent the
person here and what it asked, and, between the password and the login session,
the *pending* login (who, what they proved so far, which step's page is due, since
when). A pending login is no login session: only the step pages accept it, and it
lapses after 5 minutes.

The steps are LOGIN_STEPS, in order. Each says, from an Attempt (the person, what is
known about them, what they proved, what the portal asked), whether its page is due.
The first one due sends the browser to its page; when that page is done
(step_passed), the flow goes on with the next one. When none is due, the login
session opens and the browser continues where it was going (continue_to), which for
an authorization request means its answer at once. Adding a step (the organization
choice, next) is one entry in LOGIN_STEPS and its page.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from flask import current_app, redirect, session, url_for
from werkzeug.wrappers import Response

from ciam.accounts.login import assurance
from ciam.accounts.login.facts import LoginFacts, read_facts
from ciam.accounts.models import LoginSession, User
from ciam.accounts.sessions.services import current_session, start_session
from ciam.audit.actor import actor_context
from ciam.audit.services import record
from ciam.audit.tags import AuditTag
from ciam.extensions import db
from ciam.redirects import safe_next

SIGN_IN_KEY = "sign_in"
PENDING_TTL_SECONDS = 300
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Pending:
    """The password was right; a step's page is due before the login session opens."""

    user_id: str
    next_url: str
    started_at: int
    amr: list[str]  # what the person proved so far (RFC 8176 values)
    step: str  # the name of the step whose page is due
    passed: list[str] = field(default_factory=list)  # steps already done

    @property
    def expired(self) -> bool:
        return time.time() - self.started_at > PENDING_TTL_SECONDS


@dataclass
class SignIn:
    """This browser's sign-in in progress. Authorization requests are named by their
    fingerprint (ciam.oidc.authorize), never stored whole."""

    for_request: str | None = None  # the authorization request that sent the person here
    mfa_required: bool = False  # it asked for a second factor as essential
    signed_in_for: str | None = None  # the request the person has just signed in for
    declined_for: str | None = None  # the request whose second factor set-up was declined
    org_chosen_for: str | None = None  # the request whose organization was just chosen
    org_chosen: str | None = None  # that organization's id
    pending: Pending | None = None


def load() -> SignIn:
    raw = session.get(SIGN_IN_KEY)
    if not isinstance(raw, dict):
        return SignIn()
    try:
        pending = raw.get("pending")
        return SignIn(**{**raw, "pending": Pending(**pending) if pending else None})
    except TypeError:  # a cookie from an older release: start over
        return SignIn()


def save(state: SignIn) -> None:
    session[SIGN_IN_KEY] = asdict(state)


# --- what the authorization endpoint tells the flow --------------------------------


def sign_in_for(request_id: str, mfa_required: bool) -> None:
    """The authorization request `request_id` needs a sign-in (or a step-up)."""
    state = load()
    state.for_request, state.mfa_required = request_id, mfa_required
    save(state)


def signed_in_for(request_id: str) -> bool:
    """Has the person just signed in for this very authorization request?"""
    return load().signed_in_for == request_id


def request_answered() -> None:
    """The authorization request is answered: what was done for it is spent."""
    state = load()
    if state.signed_in_for is not None or state.org_chosen_for is not None:
        state.signed_in_for = state.org_chosen_for = state.org_chosen = None
        save(state)


def org_chosen(request_id: str, org_id: str) -> None:
    """The person picked the organization of this authorization request."""
    state = load()
    state.org_chosen_for, state.org_chosen = request_id, org_id
    save(state)


def org_chosen_for(request_id: str) -> str | None:
    """The organization picked for this very request, if one was."""
    state = load()
    return state.org_chosen if state.org_chosen_for == request_id else None


def take_declined(request_id: str) -> bool:
    """Did the person decline the second factor set-up for this request? Once."""
    state = load()
    if state.declined_for is None or state.declined_for != request_id:
        return False
    state.declined_for = None
    save(state)
    return True


# --- the steps ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What a step looks at to decide whether its page is due."""

    user: User
    facts: LoginFacts
    state: SignIn
    amr: list[str]

    @property
    def second_factor_wanted(self) -> bool:
        # DESIGN §2 org policy, or the portal asked for it as essential (OIDC Core
        # §5.5.1.1); a voluntary acr_values never forces a set-up (§3.1.2.1).
        return self.facts.org_requires_mfa or self.state.mfa_required


@dataclass(frozen=True)
class Step:
    name: str
    page: str  # the endpoint of its page
    due: Callable[[Attempt], bool]
    audit_tag: AuditTag | None = None  # recorded when the step is made due


def _second_factor_due(attempt: Attempt) -> bool:
    # A person with a second factor always proves it at login (NIST 800-63B §4.2).
    return attempt.facts.has_factor and not assurance.used_second_factor(attempt.amr)


def _enrolment_due(attempt: Attempt) -> bool:
    return (
        not attempt.facts.has_factor
        and attempt.second_factor_wanted
        and not assurance.used_second_factor(attempt.amr)
    )


LOGIN_STEPS: tuple[Step, ...] = (
    Step("second_factor", "mfa.login_step", _second_factor_due),
    Step("enrolment", "mfa.login_enrol", _enrolment_due, AuditTag.ACCOUNT_MFA_ENROLMENT_REQUIRED),
)


def _advance(user: User, facts: LoginFacts, state: SignIn, pending: Pending) -> str:
    """Send the person to the next step due, or open the login session. Returns the
    URL the browser goes to next."""
    attempt = Attempt(user, facts, state, pending.amr)
    for step in LOGIN_STEPS:
        if step.name not in pending.passed and step.due(attempt):
            pending.step = step.name
            state.pending = pending
            save(state)
            if step.audit_tag:
                record(step.audit_tag, actor_context(user.id), actor_id=user.id)
            return url_for(step.page)
    _open_login_session(user, pending.amr, state, facts)
    return pending.next_url


def _open_login_session(user: User, amr: list[str], state: SignIn, facts: LoginFacts) -> None:
    # A fresh flow cookie at login (new CSRF secret, ASVS 3.2.1), keeping only what
    # lets the authorization request this login was for see it.
    session.clear()
    save(SignIn(signed_in_for=state.for_request))
    start_session(user, amr, actor_context(user.id), facts.device)


def _new_pending(user: User, next_url: str | None, amr: list[str]) -> Pending:
    return Pending(str(user.id), safe_next(next_url), int(time.time()), amr, step="")


def after_password(user: User, next_url: str | None, facts: LoginFacts | None = None) -> Response:
    """The password was right: the steps due, then the login session, then on.
    `facts`: what the login page's lookup already read about the person (LoginLookup)."""
    facts = facts or read_facts(user.id)
    pending = _new_pending(user, next_url, [assurance.PWD])
    return continue_to(_advance(user, facts, load(), pending))


def step_up(user: User, login_session: LoginSession, next_url: str) -> Response:
    """A live session without a second factor meets a portal that wants one: only the
    steps after the password; what the session already proved is kept in its amr."""
    pending = _new_pending(user, next_url, assurance.first_factors(login_session.amr))
    return redirect(_advance(user, read_facts(user.id), load(), pending), 303)


def pending_login() -> tuple[User, Pending] | None:
    """The pending login of this browser, if it is still valid."""
    state = load()
    pending = state.pending
    if pending is None:
        return None
    if pending.expired:
        state.pending = None
        save(state)
        return None
    try:
        user = db.session.get(User, uuid.UUID(pending.user_id))
    except ValueError:
        return None
    if user is None or not user.can_log_in:
        return None
    return user, pending


def step_passed(user: User, pending: Pending, method: str | None = None) -> str:
    """The due step's page is done (with a second factor: `method`, its amr value):
    on to the next step, or the login session. Returns where the browser goes."""
    if method is not None:
        pending.amr = assurance.combine(pending.amr, method)
    pending.passed.append(pending.step)
    return _advance(user, read_facts(user.id), load(), pending)


def decline_enrolment() -> str:
    """The person will not set up a second factor now: drop the pending login, mark
    the authorization request it was for as declined (its portal is told so);
    returns where to go next."""
    state = load()
    next_url = state.pending.next_url if state.pending else safe_next(None)
    state.pending = None
    if state.for_request:
        state.declined_for = state.for_request
    save(state)
    return next_url


# --- on to where the person was going ----------------------------------------------

Continuation = Callable[[str], Response | None]
CONTINUATIONS = "ciam.sign_in_continuations"


def continue_after_sign_in(app, path: str, answer: Continuation) -> None:
    """Register how a finished sign-in answers a request to `path` of ours at once
    (the authorization endpoint registers its answer: ciam.oidc). `answer` gets the
    query string and returns a redirect, or None to let the browser's GET go there."""
    app.extensions.setdefault(CONTINUATIONS, {})[path] = answer


def continue_to(url: str) -> Response:
    """Send the browser on to `url` (a path of ours, as safe_next made it), as 303:
    it answers a POST that may have carried a password (RFC 9700 §4.12 rules out 307).
    When the person is signed in now and `url` is a request a continuation answers
    (an authorization request), its answer goes in this response: one round trip
    fewer per sign-in, and the login session and the code commit together."""
    target = urlsplit(url)
    answer = current_app.extensions.get(CONTINUATIONS, {}).get(target.path)
    if answer is not None and not target.netloc and current_session() is not None:
        response = answer(target.query)
        if response is not None and response.status_code in REDIRECTS:
            response.status_code = 303
            return response
    return redirect(url, 303)
