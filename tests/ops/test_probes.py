"""/healthz and /readyz (ciam.ops): public, cheap, and saying only which check
failed by a generic name, never a host, a version or an error text."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from sqlalchemy import text

from ciam.extensions import db
from ciam.oidc import keys
from ciam.oidc.models import SigningKey
from ciam.ops import readiness
from tests.accounts.security_support import extra_app


@pytest.fixture
def fresh_readiness(app):
    """Each probe runs its checks (they are cached for a second otherwise)."""
    app.extensions.pop("ciam.ops.ready", None)
    yield
    app.extensions.pop("ciam.ops.ready", None)


def test_healthz_answers_without_authentication(live_server):
    """Liveness over real HTTP: 200 {"status": "ok"}, no cookie, no store."""
    response = requests.get(f"{live_server}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_readyz_is_ready_with_database_migrations_and_key(live_server, fresh_readiness):
    """The test database is migrated to head and has keys: ready."""
    response = requests.get(f"{live_server}/readyz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_heads_read_from_the_files_are_alembic_heads():
    """The cheap head lookup (no Alembic in web workers) agrees with Alembic's own."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from ciam.db_migrations import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert readiness.head_revisions() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_readyz_names_migrations_when_the_schema_is_behind(live_server, ctx, fresh_readiness):
    """A database one revision behind (alembic_version rewritten) is not ready; the
    answer names the check, not the revisions."""
    [head] = readiness.head_revisions()
    db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    db.session.commit()
    try:
        response = requests.get(f"{live_server}/readyz", timeout=5)
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        db.session.commit()
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "failed": ["migrations"]}
    assert "0001" not in response.text and head not in response.text


def test_readyz_names_signing_key_when_there_is_none(live_server, app, ctx, fresh_readiness):
    """No signing key: tokens cannot be issued, so the node takes no traffic."""
    db.session.execute(db.delete(SigningKey))
    db.session.commit()
    keys.invalidate_cache()
    response = requests.get(f"{live_server}/readyz", timeout=5)
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "failed": ["signing_key"]}


def test_readyz_names_redis_and_database_without_details(database_url, app, tmp_path):
    """An unreachable Redis and an unreachable database are named, nothing more:
    no host, port, driver or error message reaches the public answer."""
    with extra_app(database_url, CIAM_REDIS_URL="redis://127.0.0.1:9/0") as other:
        response = other.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "not_ready", "failed": ["redis"]}
    missing = f"sqlite:///{tmp_path}/no/such/dir/ciam.db"
    with extra_app(missing) as other:
        response = other.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not_ready", "failed": ["database"]}
    assert "sqlite" not in response.get_data(as_text=True)


def test_readyz_is_cached_for_a_second(app, client, fresh_readiness, monkeypatch):
    """A flood of probes (the endpoint is public) runs the checks once a second."""
    calls = []

    def counting(application):
        calls.append(application)
        return []

    monkeypatch.setattr("ciam.ops.views.failed_checks", counting)
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(calls) == 1


def test_readyz_does_not_load_alembic(tmp_path):
    """The migration check reads the revision files itself: a web worker answering
    /readyz (here on a database that was never migrated) never imports Alembic."""
    code = (
        "import sys; from ciam import create_app; app = create_app(); "
        "r = app.test_client().get('/readyz'); "
        "assert r.status_code == 503 and 'migrations' in r.get_json()['failed'], r.data; "
        "assert 'alembic' not in sys.modules, 'alembic loaded'"
    )
    env = {"CIAM_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
