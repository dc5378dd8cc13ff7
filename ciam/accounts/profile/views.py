"""Profile, password change, email change and verification, password reset.

Views parse the form, call one service (ciam.accounts.profile.services) and render.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from ciam.accounts.login.recent import (
    login_required,
    recent_auth_required,
    signed_in_session,
    signed_in_user,
)
from ciam.accounts.passwords import PasswordRejected
from ciam.accounts.profile import services
from ciam.accounts.profile.forms import (
    ConfirmForm,
    EmailChangeForm,
    PasswordChangeForm,
    ProfileForm,
    ResetPasswordForm,
    ResetRequestForm,
    SendVerificationForm,
)
from ciam.accounts.sessions.services import current_user
from ciam.audit.actor import actor_context
from ciam.errors import CiamError
from ciam.extensions import limiter

bp = Blueprint("profile", __name__)


def _reset_limit() -> str:
    return current_app.config["CIAM_RESET_RATE_LIMIT"]


def _ctx():
    user = current_user()
    return actor_context(user.id if user else None)


# --- signed-in pages ------------------------------------------------------------


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = signed_in_user()
    form = ProfileForm(obj=user, **(user.address or {}))
    if form.validate_on_submit():
        services.update_profile(
            user,
            form.given_name.data,
            form.family_name.data,
            form.phone_number.data,
            _ctx(),
            address=form.address(),
        )
        flash("Your profile was saved.")
        return redirect(url_for("profile.profile"), 303)
    status = 400 if form.errors else 200
    return render_template("accounts/profile.html", form=form), status


@bp.route("/account/email", methods=["GET", "POST"])
@recent_auth_required  # ASVS 3.7.1: changing the sign-in address is sensitive
def email():
    user = signed_in_user()
    form = EmailChangeForm()
    error = None
    if form.validate_on_submit():
        try:
            address = services.request_email_change(user, form.email.data, _ctx())
        except CiamError as exc:
            error = exc.message
        else:
            return render_template("accounts/email_sent.html", address=address)
    status = 400 if error or form.errors else 200
    return render_template(
        "accounts/email.html",
        user=user,
        form=form,
        verify_form=SendVerificationForm(),
        error=error,
    ), status


@bp.post("/account/email/verify")
@login_required
def send_verification():
    if SendVerificationForm().validate_on_submit():
        services.send_email_verification(signed_in_user(), _ctx())
        flash("We sent a verification link to your email address.")
    return redirect(url_for("accounts.account"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@recent_auth_required  # ASVS 3.7.1: re-authenticate before changing the password
def password():
    user = signed_in_user()
    form = PasswordChangeForm()
    error = None
    if form.validate_on_submit():
        try:
            services.change_password(
                user,
                form.current_password.data,
                form.new_password.data,
                _ctx(),
                keep_session_id=signed_in_session().id,
            )
        except PasswordRejected as exc:
            error = exc.message
        else:
            flash("Your password was changed. Your other sessions were signed out.")
            return redirect(url_for("accounts.account"), 303)
    status = 400 if error or form.errors else 200
    return render_template("accounts/password.html", form=form, error=error), status


# --- links from emails and the forgotten-password pages ---------------------------


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data.strip(), actor_context())
        # Same page and status whether or not the account exists (ASVS 2.5.1).
        return render_template("accounts/reset_sent.html")
    status = 400 if form.errors else 200
    return render_template("accounts/reset_request.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data, actor_context())
        except PasswordRejected as exc:
            error = exc.message
        else:
            # No login here: the person signs in with the new password and any second
            # factor they have, so a reset link never bypasses MFA.
            flash("Your password was changed. Sign in with your new password.")
            return redirect(url_for("accounts.login"), 303)
    else:
        services.user_for_reset(token)  # an expired or used link shows its error now
    status = 400 if error or form.errors else 200
    return render_template(
        "accounts/reset_password.html", form=form, token=token, error=error
    ), status


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    # GET only asks: mail scanners that open links must not confirm a change.
    form = ConfirmForm()
    if form.validate_on_submit():
        link = services.confirm_email_link(token, _ctx())
        return render_template("accounts/email_confirmed.html", link=link)
    link = services.read_email_link(token)
    return render_template("accounts/verify_email.html", form=form, link=link, token=token)
