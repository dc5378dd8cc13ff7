"""Login, logout and the account overview page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ciam.accounts import services
from ciam.accounts.login import flow
from ciam.accounts.login.facts import LoginLookup
from ciam.accounts.login.forms import LoginForm, LogoutForm
from ciam.accounts.login.limits import (
    login_account_key,
    login_account_limit,
    login_attempts_limit,
    login_failed,
    login_limit,
)
from ciam.accounts.login.recent import login_required, signed_in_session, signed_in_user
from ciam.accounts.sessions.services import current_session, end_session
from ciam.audit.actor import actor_context
from ciam.delegation.permissions import administered_orgs
from ciam.extensions import limiter

bp = Blueprint("accounts", __name__)


@bp.get("/login")
def login():
    # The page needs no form object, only these values (building the WTForms form
    # costs about as much as rendering the page, and every sign-in shows it). A
    # view of its own, without the POST's rate-limit decorators: flask-limiter's
    # wrapper cost a sixth of this page's CPU just to find they do not apply.
    hint = request.args.get("login_hint", "")[:320]
    return _login_page(request.args.get("next", ""), hint)


@bp.post("/login")
# NIST 800-63B §5.2.2 limits *failed* attempts: a right password is never counted,
# so an office behind one NAT (or a certification lab) signs in as often as it needs.
@limiter.limit(login_limit, scope="login-failures", deduct_when=login_failed)
# The same, per account from however many IPs.
@limiter.limit(
    login_account_limit, key_func=login_account_key, scope="login-account", deduct_when=login_failed
)
# A much higher ceiling on every attempt per IP, right or wrong (a flood of sign-ins).
@limiter.limit(login_attempts_limit, scope="login-attempts")
def login_submit():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        lookup = LoginLookup()
        user = services.authenticate(form.email.data, form.password.data, actor_context(), lookup)
        if user is not None:
            # Signed in for a portal: its code in this response, no detour (continue_to).
            return flow.after_password(user, form.next.data, lookup.facts_for(user))
        error = "The email or password is not right."
    status = 200 if error is None else 401
    return _login_page(form.next.data, form.email.data, error), status


def _login_page(next_url: str | None, email: str | None, error: str | None = None) -> str:
    # csrf_token() (Flask-WTF) is the token LoginForm's own field would carry.
    return render_template(
        "accounts/login.html", next_url=next_url or "", email=email or "", error=error
    )


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        end_session(actor_context())
        return redirect(url_for("accounts.login"), 303)
    if current_session() is None:
        return redirect(url_for("accounts.login"))
    return render_template("accounts/logout.html", form=form)


@bp.get("/account")
@login_required
def account():
    user = signed_in_user()
    return render_template(
        "accounts/account.html",
        user=user,
        login_session=signed_in_session(),
        administered=administered_orgs(user.id),
    )


@bp.get("/")
def home():
    return redirect(url_for("accounts.account"))
