"""The `ciam` console script: the app's Flask CLI group (DESIGN §6).

Its own module so that ciam.cli (the commands, registered by create_app) never
imports the app factory back.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from ciam import create_app


def _create_app():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, load_dotenv=False)
def main() -> None:
    """ciam: customer identity and access management."""
