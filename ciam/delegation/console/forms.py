"""Forms of the org console. Every POST form is a FlaskForm, so it carries and
checks a CSRF token; the filter forms are GET forms without one (they change
nothing)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ciam.delegation.models import AdminRight


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as wtforms 3.3 wants choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class GetForm(FlaskForm):
    class Meta:
        csrf = False  # a filter changes nothing (and GET forms put it in the URL)


class MemberFilterForm(GetForm):
    q = StringField("Search", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Status",
        choices=choices(
            [("", "Any"), ("active", "Active"), ("suspended", "Suspended"), ("locked", "Locked")]
        ),
        validators=[Optional()],
    )
    role = SelectField("Role", validators=[Optional()])


class TrailFilterForm(GetForm):
    actor = StringField("Actor (email)", validators=[Optional(), Length(max=320)])
    target = StringField("Target (email, id or key)", validators=[Optional(), Length(max=320)])
    action = StringField("Action (tag or prefix)", validators=[Optional(), Length(max=80)])
    since = DateField("From", validators=[Optional()])
    until = DateField("Until (inclusive)", validators=[Optional()])


class ActionForm(FlaskForm):
    """A one-button action; support engineers say why (it goes in the audit trail)."""

    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class RoleForm(FlaskForm):
    role = SelectField("Role", validators=[DataRequired()])


class RightForm(FlaskForm):
    right = SelectField(
        "Administration right",
        choices=choices(
            [
                (AdminRight.none.value, "None"),
                (AdminRight.user_manager.value, "User manager"),
                (AdminRight.org_admin.value, "Org admin"),
            ]
        ),
        validators=[DataRequired()],
    )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    given_name = StringField("Given name", validators=[Optional(), Length(max=120)])
    family_name = StringField("Family name", validators=[Optional(), Length(max=120)])
    roles = MultiCheckboxField("Business roles", validators=[Optional()])


class CreateRoleForm(FlaskForm):
    key = StringField("Key", validators=[DataRequired(), Length(max=80)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])


class MapRoleForm(FlaskForm):
    portal = SelectField("Portal", validators=[DataRequired()])
    app_roles = MultiCheckboxField("App roles", validators=[Optional()])
