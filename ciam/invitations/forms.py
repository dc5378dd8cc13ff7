"""Forms of the invitation page. FlaskForms, so each carries and checks a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ciam.accounts.passwords import MAX_LENGTH


class AcceptNewAccountForm(FlaskForm):
    given_name = StringField(
        "Given name",
        validators=[Optional(), Length(max=120)],
        render_kw={"autocomplete": "given-name"},
    )
    family_name = StringField(
        "Family name",
        validators=[Optional(), Length(max=120)],
        render_kw={"autocomplete": "family-name"},
    )
    # The policy (length, common and breached passwords) runs in the service.
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create account and join")


class AcceptExistingAccountForm(FlaskForm):
    submit = SubmitField("Join")
