"""The invitation page: /invitations/<token> (DESIGN §1: the person accepts).

GET only shows (mail scanners that open links must not accept anything); POST
accepts. A new address sets a password and gets an account; an address that has an
account signs in as it first and confirms. The page takes no `next` parameter, and
every redirect goes to a fixed path of ours, so the link cannot redirect elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from ciam.accounts.passwords import PasswordRejected
from ciam.accounts.sessions.services import current_user
from ciam.audit.actor import actor_context
from ciam.invitations.accept import accept_existing_account, accept_new_account
from ciam.invitations.forms import AcceptExistingAccountForm, AcceptNewAccountForm
from ciam.invitations.links import LinkView, describe_link

bp = Blueprint("invitations", __name__)


def _page(view: LinkView, token: str, form=None, error=None, status=200):
    if form is None:
        form = (
            AcceptNewAccountForm(
                given_name=view.invitation.given_name, family_name=view.invitation.family_name
            )
            if view.mode == "new"
            else AcceptExistingAccountForm()
        )
    login_url = url_for(
        "accounts.login",
        next=url_for("invitations.accept", token=token),
        login_hint=view.invitation.email,
    )
    status = 403 if view.mode == "wrong_account" and status == 200 else status
    return render_template(
        "invitations/accept.html",
        view=view,
        form=form,
        token=token,
        error=error,
        login_url=login_url,
    ), status


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str):
    user = current_user()
    view = describe_link(token, user)  # a bad or used link shows its error
    if view.mode == "new":
        form = AcceptNewAccountForm()
        if not form.validate_on_submit():
            if form.errors:
                return _page(view, token, form, status=400)
            return _page(view, token)
        try:
            accept_new_account(
                token,
                form.password.data,
                actor_context(),
                given_name=form.given_name.data or None,
                family_name=form.family_name.data or None,
            )
        except PasswordRejected as exc:
            return _page(view, token, form, error=exc.message, status=400)
        # No session here: the person signs in through the normal login, which asks
        # for the second factor (or its set-up) when the organization requires MFA.
        # Starting a session from the link would skip that policy.
        flash(f"Your account is ready and you joined {view.org.name}. Sign in to continue.")
        return redirect(url_for("accounts.login", login_hint=view.invitation.email), 303)
    # describe_link says "confirm" only to a signed-in person (the invited account).
    if view.mode == "confirm" and user is not None:
        form = AcceptExistingAccountForm()
        if form.validate_on_submit():
            org = accept_existing_account(token, user, actor_context(user.id))
            flash(f"You joined {org.name}.")
            return redirect(url_for("accounts.account"), 303)
    # "sign_in" and "wrong_account" only show the page; a POST there changes nothing.
    return _page(view, token)
