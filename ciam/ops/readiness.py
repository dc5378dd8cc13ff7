"""What /readyz and `ciam check` ask: can this process serve requests?

Each check answers True or False and never raises; what failed goes to the log (the
exception's type: a probe that fails every second must not flood it with
tracebacks), never to the (unauthenticated) probe answer.
The migration check compares the database's alembic_version with the heads read
from the revision files themselves (parsed once): Alembic is not imported in web
workers (ciam.db_migrations says why).
"""

from __future__ import annotations

import ast
import functools
import logging
from pathlib import Path

from flask import Flask
from redis import Redis
from sqlalchemy import text

from ciam.db_migrations import MIGRATIONS_DIR
from ciam.extensions import db

log = logging.getLogger(__name__)
REDIS_TIMEOUT = 1.0  # seconds; a probe must answer before the orchestrator gives up


def _revision_of(path: Path) -> tuple[str | None, tuple[str, ...]]:
    """The `revision` and `down_revision` literals of one migration file."""
    revision, down = None, ()
    for node in ast.parse(path.read_text(), str(path)).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        name = getattr(node.targets[0], "id", None)
        if name == "revision":
            revision = ast.literal_eval(node.value)
        elif name == "down_revision":
            value = ast.literal_eval(node.value)
            down = tuple(value) if isinstance(value, tuple | list) else (value,) if value else ()
    return revision, down


@functools.cache
def head_revisions(directory: Path = MIGRATIONS_DIR / "versions") -> frozenset[str]:
    """The revisions no other revision builds on: what `db upgrade heads` reaches."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in directory.glob("*.py"):
        revision, down = _revision_of(path)
        if revision:
            revisions.add(revision)
            parents.update(down)
    return frozenset(revisions - parents)


def database_reachable() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.warning("readiness: the database did not answer (%s)", type(exc).__name__)
        db.session.rollback()
        return False


def migrations_at_head() -> bool:
    try:
        applied = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception as exc:
        log.warning("readiness: alembic_version could not be read (%s)", type(exc).__name__)
        db.session.rollback()
        return False
    return applied == head_revisions()


def signing_key_active() -> bool:
    from ciam.oidc import keys

    try:
        return bool(keys.snapshot().signers)
    except Exception as exc:
        log.warning("readiness: the signing keys could not be loaded (%s)", type(exc).__name__)
        db.session.rollback()
        return False


def redis_reachable(app: Flask) -> bool:
    client = app.extensions.get("ciam.ops.redis")
    if client is None:
        client = app.extensions["ciam.ops.redis"] = Redis.from_url(
            app.config["CIAM_REDIS_URL"],
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
    try:
        return bool(client.ping())
    except Exception as exc:
        log.warning("readiness: Redis did not answer (%s)", type(exc).__name__)
        return False


def failed_checks(app: Flask) -> list[str]:
    """The names of the checks that fail, in a fixed order; [] when ready. With the
    database down, the checks that read it are not tried (they would fail too)."""
    failed = []
    if not database_reachable():
        failed.append("database")
    else:
        if not migrations_at_head():
            failed.append("migrations")
        if not signing_key_active():
            failed.append("signing_key")
    if app.config["CIAM_REDIS_URL"] and not redis_reachable(app):
        failed.append("redis")
    return failed
