"""`ciam check`: is this configuration fit for production? Each problem is said in
plain words with what to do; the exit code is 1 when there is any."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ciam.ops.readiness import (
    database_reachable,
    migrations_at_head,
    redis_reachable,
)

MIN_SECRET_LENGTH = 32
# Values seen in examples and tutorials: strong only in length.
WEAK_SECRETS = {"changeme", "secret", "dev", "development", "test", "password", "ciam"}


def check_issuer(app: Flask) -> str | None:
    if not app.config["CIAM_ISSUER"].startswith("https://"):
        return (
            f"CIAM_ISSUER is {app.config['CIAM_ISSUER']}: plain http is for a demo on this "
            "machine only. Set an https URL (cookies get Secure and the __Host- prefix)."
        )
    return None


def check_secret_key(app: Flask) -> str | None:
    secret = app.config["SECRET_KEY"]
    generated = Path(app.instance_path) / "secret_key"
    from_file = generated.exists() and generated.read_text().strip() == secret
    if not os.environ.get("CIAM_SECRET_KEY") and from_file:
        return (
            "CIAM_SECRET_KEY is not set: this machine generated one in instance/secret_key, "
            "which other nodes do not share. Set the same long random value on every node "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    if len(secret) < MIN_SECRET_LENGTH or secret.lower() in WEAK_SECRETS or len(set(secret)) < 10:
        return (
            f"CIAM_SECRET_KEY is weak: use at least {MIN_SECRET_LENGTH} random characters "
            "(it signs sessions and links and derives the key that encrypts signing keys)."
        )
    return None


def check_database(app: Flask) -> str | None:
    if not database_reachable():
        return "The database (CIAM_DATABASE_URL) cannot be reached; is it running?"
    if not migrations_at_head():
        return "The database schema is not up to date: run `ciam db upgrade heads`."
    return None


def check_keys(app: Flask) -> str | None:
    from ciam.oidc.keys import list_keys

    try:
        states = {state for _, state in list_keys()}
    except Exception:
        return "The signing keys could not be read: see the database check above."
    if "active" not in states:
        return "No signing key is active: run `ciam init` (or `ciam keys rotate`)."
    return None


def check_redis(app: Flask) -> str | None:
    if not app.config["CIAM_REDIS_URL"]:
        return (
            "CIAM_REDIS_URL is not set: rate limits are counted per process, so N nodes "
            "allow N times the limit. Set it when more than one process serves."
        )
    if not redis_reachable(app):
        return "Redis (CIAM_REDIS_URL) cannot be reached; is it running?"
    return None


def check_smtp(app: Flask) -> str | None:
    from ciam.outbox.handlers import _smtp

    url = app.config["CIAM_SMTP_URL"]
    if not url:
        return (
            "CIAM_SMTP_URL is not set: emails (reset and invitation links) are printed to "
            "the console instead of sent. Set smtp://user:password@host:port."
        )
    try:
        with _smtp(url) as client:
            client.noop()
    except Exception as exc:
        return f"The SMTP server (CIAM_SMTP_URL) cannot be used: {type(exc).__name__}: {exc}"
    return None


CHECKS: tuple[tuple[str, Callable[[Flask], str | None]], ...] = (
    ("issuer", check_issuer),
    ("secret key", check_secret_key),
    ("database", check_database),
    ("signing keys", check_keys),
    ("redis", check_redis),
    ("smtp", check_smtp),
)


def problems(app: Flask) -> list[tuple[str, str]]:
    """(check, what is wrong) for every check that fails, in CHECKS order."""
    found = []
    for name, run in CHECKS:
        problem = run(app)
        if problem:
            found.append((name, problem))
    return found


@click.command("check")
@with_appcontext
def check() -> None:
    """Check the configuration for production; exit code 1 when something is wrong."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = dict(problems(app))
    for name, _ in CHECKS:
        click.echo(f"{'FAIL' if name in found else 'ok  '}  {name}")
        if name in found:
            click.echo(f"      {found[name]}")
    if found:
        raise SystemExit(1)
    click.echo("Everything checked is fine.")
