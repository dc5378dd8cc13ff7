"""Forms of the sessions page. They carry nothing but the CSRF token (ASVS 4.2.2)."""

from flask_wtf import FlaskForm
from wtforms import SubmitField


class EndSessionForm(FlaskForm):
    submit = SubmitField("End this session")


class EndOtherSessionsForm(FlaskForm):
    submit = SubmitField("End all other sessions")
