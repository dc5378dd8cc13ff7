"""Forms of the invitation page. FlaskForms, so each carries and checks a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SubmitField

from ciam.accounts.profile.forms import NameForm, new_password_field


class AcceptNewAccountForm(NameForm):
    # The policy (length, common and breached passwords) runs in the service.
    password = new_password_field("Password")
    submit = SubmitField("Create account and join")


class AcceptExistingAccountForm(FlaskForm):
    submit = SubmitField("Join")
