"""Helpers for the lockout, rate-limit, sessions and activity tests: a login like a
browser (GET for the CSRF token, then POST), and extra app instances with their own
settings (rate limits on, Redis) next to the session-wide test app."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

from ciam import create_app
from ciam.audit.models import AuditEvent
from ciam.extensions import db
from tests.conftest import IsolatedClient, require_service
from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FORGED_CSRF = "forged." + "a" * 40
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def csrf(client, path: str = "/login", **kwargs) -> str:
    page = client.get(path, **kwargs)
    assert page.status_code == 200, (path, page.status_code)
    return CSRF.search(page.get_data(as_text=True)).group(1)


def login(client, email: str, password: str = PASSWORD, *, ip=None, ua=None, token=None):
    """POST the login form (fetching a CSRF token unless given) from `ip` with `ua`."""
    kwargs = {}
    if ip:
        kwargs["environ_base"] = {"REMOTE_ADDR": ip}
    if ua:
        kwargs["headers"] = {"User-Agent": ua}
    token = token or csrf(client, "/login", **kwargs)
    data = {"csrf_token": token, "email": email, "password": password, "next": ""}
    return client.post("/login", data=data, **kwargs)


def tags(user_id=None) -> list[str]:
    query = db.select(AuditEvent.tag).order_by(AuditEvent.created_at)
    if user_id is not None:
        query = query.where(
            db.or_(AuditEvent.actor_id == user_id, AuditEvent.target == str(user_id))
        )
    return list(db.session.scalars(query))


def redis_url() -> str:
    """The test Redis (db 15 by convention), or skip (laptop) / fail (CI)."""
    url = os.environ.get("CIAM_TEST_REDIS_URL")
    require_service(bool(url), "Redis not configured (CIAM_TEST_REDIS_URL)")
    return url


@contextmanager
def extra_app(database_url: str, **overrides):
    """Another app on the same test database, with its own settings. Needs the
    session `app` fixture to have migrated the database first."""
    os.environ["CIAM_DATABASE_URL"] = database_url
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "RATELIMIT_ENABLED": True,
        **overrides,
    }
    application = create_app(config)
    application.test_client_class = IsolatedClient
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
