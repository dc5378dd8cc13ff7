"""Second factors: TOTP, recovery codes, SMS codes; the login MFA step.

Two groups of pages:
- /login/mfa...: the second step of a login. They accept only a *pending* login
  (ciam.accounts.login.flow), never a session, and every code check is rate-limited per person
  (CIAM_MFA_RATE_LIMIT) on top of the service's consecutive-failure cap.
- /account/mfa...: the person's own factors. Looking needs a login; every change
  needs a recent one (ASVS 3.7.1, ciam.accounts.login.recent).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address

from ciam.accounts.login import assurance, flow
from ciam.accounts.login.recent import (
    MarkedView,
    login_required,
    mark_auth,
    recent_auth_required,
    signed_in_user,
)
from ciam.accounts.mfa import factors, recovery, sms, totp
from ciam.accounts.mfa import login as mfa_login
from ciam.accounts.mfa import services as mfa_services
from ciam.accounts.mfa.forms import ActionForm, CodeForm, PhoneForm
from ciam.accounts.sessions.services import current_user
from ciam.audit.actor import actor_context
from ciam.errors import CiamError, Conflict
from ciam.extensions import limiter

bp = Blueprint("mfa", __name__)

WRONG_CODE = "That code is not right. Check it and try again."
LOCKED = "Too many wrong codes. Try again tomorrow, or contact support."
# Messages after a redirect are chosen by key, so nothing from the URL is echoed.
DONE = {
    "totp": "Your authenticator app is set up.",
    "sms": "Your phone is set up for text message codes.",
    "removed": "The method was removed.",
}


def _mfa_limit() -> str:
    return current_app.config["CIAM_MFA_RATE_LIMIT"]


def _limit_key() -> str:
    # Per person, not per IP: guessing one person's codes from many addresses must
    # not multiply the attempts (NIST 800-63B §5.2.2).
    pending = flow.load().pending
    if pending is not None:
        return f"mfa:{pending.user_id}"
    user = current_user()
    if user is not None:
        return f"mfa:{user.id}"
    return get_remote_address()


# One budget per person across every page that checks a code.
code_limit = limiter.shared_limit(
    _mfa_limit, scope="mfa-codes", key_func=_limit_key, methods=["POST"]
)


def _restart_login():
    return redirect(url_for("accounts.login"), 303)


def pending_login_required(view: Callable[..., ResponseReturnValue]) -> MarkedView:
    """The second-step pages accept only a pending login (the password was right a
    moment ago), never a login session; the view gets its person and state."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        found = flow.pending_login()
        if found is None:
            return _restart_login()
        return view(*found, *args, **kwargs)

    return mark_auth(wrapper, "pending-login")


# --- the login's second step ---------------------------------------------------------


def _login_step_page(user, form, *, error=None, method=None, sent=False, status=200):
    return render_template(
        "mfa/login_step.html",
        form=form,
        send_form=ActionForm(),
        info=mfa_services.describe(user.id),
        error=error,
        method=method,
        sent=sent,
    ), status


@bp.route("/login/mfa", methods=["GET", "POST"])
@code_limit
@pending_login_required
def login_step(user, pending):
    if pending.step != "second_factor":
        return redirect(url_for("mfa.login_enrol"), 303)
    form = CodeForm()
    if request.method == "GET":
        return _login_step_page(user, form, sent=request.args.get("sent") == "1")
    if not form.validate_on_submit():
        return _login_step_page(user, form, error=WRONG_CODE, status=400)
    result = mfa_login.verify_login_factor(user, form.method.data, form.code.data, actor_context())
    if result.ok:
        return flow.continue_to(flow.step_passed(user, pending, result.method))
    error = LOCKED if result.reason == "locked" else WRONG_CODE
    return _login_step_page(user, form, error=error, method=form.method.data, status=401)


@bp.post("/login/mfa/sms")
@pending_login_required
def login_send_sms(user, pending):
    form = ActionForm()
    if not form.validate_on_submit():
        return _restart_login()
    try:
        mfa_login.send_login_sms(user, actor_context())
    except sms.SmsThrottled as error:
        return _login_step_page(user, CodeForm(), error=error.message, method="sms", status=429)
    return redirect(url_for("mfa.login_step", sent=1), 303)


def _enrol_page(user, factor, form, *, action, error=None, reason=None, status=200):
    uri = totp.provisioning_uri(user, factor)
    return render_template(
        "mfa/enrol_totp.html",
        form=form,
        cancel_form=ActionForm() if action == url_for("mfa.login_enrol") else None,
        qr=totp.qr_data_uri(uri),
        secret=totp.grouped_secret(factor),
        action=action,
        error=error,
        reason=reason,
    ), status


@bp.route("/login/mfa/enrol", methods=["GET", "POST"])
@code_limit
@pending_login_required
def login_enrol(user, pending):
    """Forced set-up at login: the organization requires MFA, or the portal asked for
    it, and the person has no factor yet. Completing it completes the login."""
    if pending.step != "enrolment":
        return redirect(url_for("mfa.login_step"), 303)
    if factors.org_requires_mfa(user.id):
        reason = "Your organization requires two-step verification."
    else:
        reason = "The service you are signing in to asks for two-step verification."
    form = CodeForm(method="totp")
    action = url_for("mfa.login_enrol")
    if request.method == "POST" and form.validate_on_submit():
        codes = totp.confirm_totp(user, form.code.data, actor_context(user.id))
        if codes is not None:
            continue_url = flow.step_passed(user, pending, assurance.TOTP)
            return render_template(
                "mfa/recovery_codes.html", codes=codes, continue_url=continue_url
            )
        factor = totp.pending_totp(user.id) or totp.start_totp_enrolment(user)
        return _enrol_page(
            user, factor, form, action=action, error=WRONG_CODE, reason=reason, status=401
        )
    factor = totp.start_totp_enrolment(user)
    return _enrol_page(user, factor, form, action=action, reason=reason)


@bp.post("/login/mfa/enrol/cancel")
@pending_login_required
def login_enrol_cancel(user, pending):
    """The way out of a forced set-up: the portal that asked for it is answered with
    unmet_authentication_requirements instead of the person being kept here."""
    if not ActionForm().validate_on_submit():
        return _restart_login()
    return redirect(flow.decline_enrolment(), 303)


# --- the person's own factors --------------------------------------------------------


@bp.get("/account/mfa")
@login_required
def overview():
    user = signed_in_user()
    return render_template(
        "mfa/overview.html",
        info=mfa_services.describe(user.id),
        action_form=ActionForm(),
        done=DONE.get(request.args.get("done", "")),
    )


def _overview(done: str | None = None):
    return redirect(url_for("mfa.overview", done=done), 303)


def _codes_or_overview(codes: list[str], done: str):
    if codes:
        return render_template(
            "mfa/recovery_codes.html", codes=codes, continue_url=url_for("mfa.overview")
        )
    return _overview(done)


@bp.route("/account/mfa/totp", methods=["GET", "POST"])
@recent_auth_required
@code_limit
def enrol_totp():
    user = signed_in_user()
    form = CodeForm(method="totp")
    action = url_for("mfa.enrol_totp")
    try:
        factor = totp.pending_totp(user.id) or totp.start_totp_enrolment(user)
    except Conflict:
        return _overview()
    if request.method == "POST" and form.validate_on_submit():
        codes = totp.confirm_totp(user, form.code.data, actor_context(user.id))
        if codes is not None:
            return _codes_or_overview(codes, "totp")
        return _enrol_page(user, factor, form, action=action, error=WRONG_CODE, status=401)
    return _enrol_page(user, factor, form, action=action)


@bp.route("/account/mfa/sms", methods=["GET", "POST"])
@recent_auth_required
def enrol_sms():
    user = signed_in_user()
    form = PhoneForm()
    if form.validate_on_submit():
        try:
            sms.start_sms_enrolment(user, form.phone.data, actor_context(user.id))
        except sms.SmsThrottled as error:
            # Rendered, not raised: the throttling is audited and must be committed.
            return render_template("mfa/enrol_sms.html", form=form, error=error.message), 429
        except CiamError as error:
            return render_template(
                "mfa/enrol_sms.html", form=form, error=error.message
            ), error.status
        return redirect(url_for("mfa.confirm_sms"), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("mfa/enrol_sms.html", form=form), status


@bp.route("/account/mfa/sms/confirm", methods=["GET", "POST"])
@recent_auth_required
@code_limit
def confirm_sms():
    user = signed_in_user()
    factor = sms.pending_sms(user.id)
    if factor is None:
        return redirect(url_for("mfa.enrol_sms"), 303)
    form = CodeForm(method="sms")
    if request.method == "POST" and form.validate_on_submit():
        codes = sms.confirm_sms(user, form.code.data, actor_context(user.id))
        if codes is not None:
            return _codes_or_overview(codes, "sms")
        page = render_template("mfa/confirm_sms.html", form=form, factor=factor, error=WRONG_CODE)
        return page, 401
    return render_template("mfa/confirm_sms.html", form=form, factor=factor)


@bp.route("/account/mfa/factors/<uuid:factor_id>/remove", methods=["GET", "POST"])
@recent_auth_required
def remove_factor(factor_id):
    form = ActionForm()
    if request.method == "GET" or not form.validate_on_submit():
        return _overview()  # a re-login after the POST lands here: show the page again
    user = signed_in_user()
    mfa_services.remove_factor(user, factor_id, actor_context(user.id))
    return _overview("removed")


@bp.route("/account/mfa/recovery-codes", methods=["GET", "POST"])
@recent_auth_required
def recovery_codes():
    form = ActionForm()
    if request.method == "GET" or not form.validate_on_submit():
        return _overview()
    user = signed_in_user()
    codes = recovery.regenerate_recovery_codes(user, actor_context(user.id))
    return render_template(
        "mfa/recovery_codes.html", codes=codes, continue_url=url_for("mfa.overview")
    )
