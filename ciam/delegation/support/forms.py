"""Forms of the support console. The action forms are FlaskForms, so each carries and
checks a CSRF token (ASVS 4.2.2); the search and filter forms are GET (no state
changes, no token) and read the query string."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ciam.delegation.directory import MAX_QUERY
from ciam.delegation.member_actions import REASON_MAX


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(
        "Email, name or organization",
        validators=[Optional(), Length(max=MAX_QUERY)],
        filters=[_strip],
        render_kw={"type": "search", "autocomplete": "off"},
    )


class MemberFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(
        "Email or name", validators=[Optional(), Length(max=MAX_QUERY)], filters=[_strip]
    )
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("", "Any"),
            SelectChoice("active", "Active"),
            SelectChoice("suspended", "Suspended"),
            SelectChoice("locked", "Locked"),
        ],
        validators=[Optional()],
    )


class ReasonForm(FlaskForm):
    """Every support action: the engineer says why (kept with the audit event)."""

    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(), Length(max=REASON_MAX)],
        filters=[_strip],
    )
