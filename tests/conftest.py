"""Test fixtures: one app per session, a migrated database cleaned per test, a live
server on a loopback port for real-HTTP relying parties and browsers.

SQLite by default; PostgreSQL when CIAM_TEST_DATABASE_URL is set. Tests needing a
real service are skipped with a visible reason, unless CIAM_TEST_REQUIRE_SERVICES=1
(CI), where a missing service fails the run instead.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading

import flask_migrate
import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from ciam import create_app
from ciam.db_migrations import init_migrations
from ciam.extensions import db
from ciam.hotsql import close_hotsql
from ciam.oidc import keys
from tests import factories

REQUIRE_SERVICES = os.environ.get("CIAM_TEST_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip (laptop) or fail (CI) when a real service a test needs is missing."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"CIAM_TEST_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("CIAM_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ciam-test.db'}"


@pytest.fixture(scope="session")
def server_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def app(database_url, server_port, tmp_path_factory):
    os.environ["CIAM_DATABASE_URL"] = database_url
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "CIAM_ISSUER": f"http://127.0.0.1:{server_port}",
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": f"127.0.0.1:{server_port}",
        }
    )
    init_migrations(application)
    with application.app_context():
        # Every run starts from an empty schema through the real migrations.
        flask_migrate.downgrade(revision="base")
        flask_migrate.upgrade(revision="heads")
    yield application
    with application.app_context():
        db.engine.dispose()  # close pooled connections before the interpreter does
        close_hotsql(application)


def _clean(application) -> None:
    with application.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        keys.invalidate_cache()
        keys.ensure_keys()
        db.session.commit()


@pytest.fixture(autouse=True)
def clean_db(app):
    _clean(app)
    application_keys = app.extensions.get("ciam.keys")
    if application_keys is not None:
        application_keys.invalidate()
    portals = app.extensions.get("ciam.portals")
    if portals is not None:
        portals.invalidate()  # the tables were emptied behind the ORM's back
    yield


@pytest.fixture
def ctx(app):
    """An app context for calling services and factories directly."""
    with app.app_context():
        yield app
        db.session.remove()


class IsolatedClient(FlaskClient):
    """Runs each request in an empty contextvars context, so it gets its own app
    context (and `g`) as in production, even while a test holds one for factories."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app, server_port):
    server = make_server("127.0.0.1", server_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.config["CIAM_ISSUER"]
    server.shutdown()


@pytest.fixture
def make(ctx):
    """Factories bound to the app context: make.user(...), make.portal(...)."""
    return factories
