"""Schema migrations (Flask-Migrate and Alembic), loaded only when something needs them.

Flask-Migrate imports Alembic when it is imported: about 12 MB resident in every
process that does. Web workers never migrate, so create_app only registers a `db`
command group that loads Flask-Migrate when a `ciam db ...` command runs; code that
migrates from Python (the tests) calls init_migrations first.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, g
from flask.cli import ScriptInfo, with_appcontext

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def init_migrations(app: Flask) -> None:
    """Bind Flask-Migrate to the app (idempotent); replaces the lazy `db` group."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    from ciam.extensions import db

    Migrate(app, db, directory=str(MIGRATIONS_DIR), compare_type=True, render_as_batch=True)


class _LazyDbGroup(click.Group):
    """Stands in for Flask-Migrate's `db` group: the same options, and its
    subcommands, which are looked up (and Flask-Migrate imported) only on use."""

    def _real_group(self, ctx: click.Context) -> click.Group:
        init_migrations(ctx.ensure_object(ScriptInfo).load_app())
        from flask_migrate.cli import db as group

        return group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real_group(ctx).list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real_group(ctx).get_command(ctx, cmd_name)


@with_appcontext
def _db_group_options(directory: str | None, x_arg: tuple[str, ...]) -> None:
    # What Flask-Migrate's own `db` group does before any subcommand runs.
    g.directory = directory
    g.x_arg = x_arg


def setup_schema(app: Flask) -> None:
    group = _LazyDbGroup(
        "db",
        help="Perform database migrations.",
        callback=_db_group_options,
        params=[
            click.Option(["-d", "--directory"], default=None, help="Migration script directory"),
            click.Option(["-x", "--x-arg"], multiple=True, help="Arguments for env.py"),
        ],
    )
    app.cli.add_command(group)
