"""Migrations: the models match the head revision, and downgrade/upgrade round-trips.

Runs against SQLite by default and against PostgreSQL when CIAM_TEST_DATABASE_URL
points there (CI), so both backends are proven by the same revisions.
"""

from __future__ import annotations

import flask_migrate
import sqlalchemy as sa

from ciam.extensions import db


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_models_match_migration_head(ctx):
    """`flask db check`: autogenerate finds nothing, so no model change lacks a revision."""
    flask_migrate.check()


def test_downgrade_then_upgrade_round_trips(ctx):
    """Every revision downgrades cleanly to an empty schema and upgrades back."""
    db.session.remove()
    expected = {table.name for table in db.metadata.sorted_tables}
    assert _tables() == expected
    flask_migrate.downgrade(revision="base")
    assert _tables() == set()
    flask_migrate.upgrade(revision="heads")
    assert _tables() == expected
