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


def test_web_app_does_not_load_alembic(tmp_path):
    """Alembic and zxcvbn (~12 MB each) load only when used: a web worker's create_app
    skips both, and `ciam db` still finds and runs its subcommands."""
    import subprocess
    import sys

    code = (
        "import sys; from ciam import create_app; app = create_app(); "
        "assert 'alembic' not in sys.modules, 'alembic loaded'; "
        "assert 'zxcvbn' not in sys.modules, 'zxcvbn loaded'; "
        "from click.testing import CliRunner; from ciam.console import main; "
        "r = CliRunner().invoke(main, ['db', '--help']); "
        "assert r.exit_code == 0 and 'upgrade' in r.output, r.output; "
        "r = CliRunner().invoke(main, ['db', 'upgrade', 'heads']); "
        "assert r.exit_code == 0, r.output; "
        "assert 'alembic' in sys.modules"
    )
    env = {"CIAM_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
