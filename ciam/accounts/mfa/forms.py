"""Forms of the second-factor pages. Each one carries a CSRF token (Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField, TelField
from wtforms.validators import AnyOf, DataRequired, Length

ONE_TIME_CODE = {
    "autocomplete": "one-time-code",
    "inputmode": "numeric",
    "pattern": "[0-9 ]*",
    "autocapitalize": "off",
    "spellcheck": "false",
}


class CodeForm(FlaskForm):
    """A code: from the authenticator app, a text message, or a recovery code."""

    method = HiddenField(validators=[AnyOf(["totp", "sms", "recovery"])])
    code = StringField("Code", validators=[DataRequired(), Length(max=40)], render_kw=ONE_TIME_CODE)
    submit = SubmitField("Verify")


class PhoneForm(FlaskForm):
    phone = TelField(
        "Mobile number",
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    submit = SubmitField("Text me a code")


class ActionForm(FlaskForm):
    """A button that changes something (send a code, remove, regenerate): CSRF only."""

    submit = SubmitField("Continue")
