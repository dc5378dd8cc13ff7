"""`ciam check` (ciam.ops.check): says what is wrong in plain words and exits 1
when anything is; exits 0 for a production-shaped configuration."""

from __future__ import annotations

import pytest

from ciam.extensions import db
from ciam.oidc.models import SigningKey
from tests.accounts.security_support import extra_app, redis_url
from tests.smtp import SMTPServer

STRONG_SECRET = "Qm3vR8tLx2pW9sKd4nZb7yHc1fJg6aEu0oTi5rXw"


def _check(application):
    return application.test_cli_runner().invoke(args=["check"])


def test_the_test_configuration_is_not_fit_for_production(app):
    """An http issuer, no Redis and no SMTP: each is named with what to do; the
    reachable database and the active key pass."""
    result = _check(app)
    assert result.exit_code == 1
    assert "FAIL  issuer" in result.output and "https" in result.output
    assert "FAIL  smtp" in result.output and "CIAM_SMTP_URL is not set" in result.output
    assert "FAIL  redis" in result.output
    assert "ok    database" in result.output
    assert "ok    signing keys" in result.output


def test_weak_secret_key_and_missing_keys_are_named(database_url, app, monkeypatch):
    """A short secret key is called weak; no signing key says to run `ciam init`."""
    monkeypatch.setenv("CIAM_SECRET_KEY", "changeme")
    with app.app_context():  # not held during the command, which uses its own app
        db.session.execute(db.delete(SigningKey))
        db.session.commit()
    with extra_app(database_url, SECRET_KEY="changeme") as other:
        result = _check(other)
    assert result.exit_code == 1
    assert "CIAM_SECRET_KEY is weak" in result.output
    assert "ciam init" in result.output


def test_unreachable_smtp_and_database_are_named(app, tmp_path, monkeypatch):
    """An SMTP server nobody listens on, a database that cannot be opened."""
    monkeypatch.setenv("CIAM_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/ciam.db")
    with extra_app(
        f"sqlite:///{tmp_path}/no/such/dir/ciam.db", CIAM_SMTP_URL=SMTPServer().url
    ) as other:
        result = _check(other)
    assert result.exit_code == 1
    assert "The SMTP server (CIAM_SMTP_URL) cannot be used" in result.output
    assert "The database (CIAM_DATABASE_URL) cannot be reached" in result.output


@pytest.mark.services
def test_production_shaped_configuration_passes(database_url, app, monkeypatch):
    """https issuer, a strong shared secret, database at head with a key, Redis and
    SMTP reachable: exit code 0."""
    redis = redis_url()
    smtp = SMTPServer().start()
    monkeypatch.setenv("CIAM_SECRET_KEY", STRONG_SECRET)
    try:
        with extra_app(
            database_url,
            CIAM_ISSUER="https://id.example.com",
            SECRET_KEY=STRONG_SECRET,
            CIAM_REDIS_URL=redis,
            CIAM_SMTP_URL=smtp.url,
        ) as other:
            result = _check(other)
    finally:
        smtp.stop()
    assert result.exit_code == 0, result.output
    assert "Everything checked is fine." in result.output
