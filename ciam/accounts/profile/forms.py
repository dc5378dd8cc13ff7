"""Forms of the self-service pages. Every one is a FlaskForm, so every one carries and
checks a CSRF token (ASVS 4.2.2)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ciam.accounts.passwords import MAX_LENGTH


def new_password_field(label: str = "New password") -> PasswordField:
    # autocomplete=new-password lets password managers offer a generated one; paste is
    # allowed (NIST 800-63B §5.1.1.2). The policy itself runs in the service.
    return PasswordField(
        label,
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )


class NameForm(FlaskForm):
    """The name fields, shared by the profile page and the invitation page."""

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


class ProfileForm(NameForm):
    phone_number = StringField(
        "Phone",
        validators=[
            Optional(),
            Length(max=40),
            Regexp(r"^\+?[0-9][0-9 ()./-]{3,38}$", message="Use digits, spaces and + only."),
        ],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    # The address (OIDC Core §5.1.1 parts), released to portals with scope `address`.
    street_address = TextAreaField(
        "Street address",
        validators=[Optional(), Length(max=300)],
        render_kw={"autocomplete": "street-address", "rows": 2},
    )
    locality = StringField(
        "City",
        validators=[Optional(), Length(max=120)],
        render_kw={"autocomplete": "address-level2"},
    )
    region = StringField(
        "State or region",
        validators=[Optional(), Length(max=120)],
        render_kw={"autocomplete": "address-level1"},
    )
    postal_code = StringField(
        "Postal code",
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "postal-code"},
    )
    country = StringField(
        "Country",
        validators=[Optional(), Length(max=80)],
        render_kw={"autocomplete": "country-name"},
    )
    submit = SubmitField("Save")

    ADDRESS_FIELDS = ("street_address", "locality", "region", "postal_code", "country")

    def address(self) -> dict:
        return {name: getattr(self, name).data for name in self.ADDRESS_FIELDS}


class EmailChangeForm(FlaskForm):
    email = EmailField(
        "New email",
        validators=[DataRequired(), Length(max=320)],
        render_kw={"autocomplete": "email"},
    )
    submit = SubmitField("Send confirmation link")


class SendVerificationForm(FlaskForm):
    submit = SubmitField("Send verification link")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = new_password_field()
    submit = SubmitField("Change password")


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired(), Length(max=320)],
        render_kw={"autocomplete": "username"},
    )
    submit = SubmitField("Send reset link")


class ResetPasswordForm(FlaskForm):
    new_password = new_password_field()
    submit = SubmitField("Set new password")


class ConfirmForm(FlaskForm):
    submit = SubmitField("Confirm")
