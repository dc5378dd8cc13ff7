"""The first signing keys: made by the server itself, once, and never a 500 without.

Issue 11, defect 3: `ciam db upgrade` and a start, without `ciam init`, answered the
first token request with 500 server_error ("no active RS256 signing key").
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ciam.extensions import db
from ciam.oidc import keys
from ciam.oidc.models import SigningKey
from tests.conftest import require_service

# Runs in a fresh interpreter on the database the subprocesses migrated: the real
# app (create_app, every middleware), a client_credentials token and the JWKS.
_FIRST_REQUESTS = """
import base64, json, sys
from ciam import create_app
app = create_app({"SECRET_KEY": "first-keys-test-secret"})
client = app.test_client()
jwks = client.get("/oauth/jwks")
basic = base64.b64encode(sys.argv[1].encode()).decode()
token = client.post(
    "/oauth/token",
    data={"grant_type": "client_credentials"},
    headers={"Authorization": "Basic " + basic},
)
print(json.dumps({"jwks": jwks.status_code, "keys": len(jwks.json["keys"]),
                  "token": token.status_code, "body": token.get_data(as_text=True)}))
"""


def _ciam(env: dict, *args: str) -> str:
    exe = str(Path(sys.executable).parent / "ciam")
    result = subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_server_started_after_db_upgrade_alone_signs_tokens(tmp_path):
    """A database made with `ciam db upgrade heads` only (no `ciam init`): the app's
    first requests find a non-empty JWKS and a token request succeeds."""
    env = {
        "CIAM_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "CIAM_SECRET_KEY": "first-keys-test-secret",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    _ciam(env, "db", "upgrade", "heads")
    created = json.loads(
        _ciam(env, "portals", "create", "--name", "CRM", "--grant", "client_credentials", "--json")
    )
    credentials = f"{created['client_id']}:{created['client_secret']}"
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUESTS, credentials],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["jwks"] == 200 and answers["keys"] == len(keys.SUPPORTED_ALGS)
    assert answers["token"] == 200, answers["body"]
    assert json.loads(answers["body"])["access_token"]


def test_token_request_without_any_key_is_503_naming_the_step(client, make, app):
    """Keys gone after start (deleted by hand): the token endpoint answers a JSON 503
    that names `ciam init`, never a 500 server_error."""
    client.get("/healthz")  # this process's first-request bootstrap has run
    assert not app.extensions["ciam.key_bootstrap"].pending
    portal, secret = make.portal()
    db.session.execute(db.delete(SigningKey))
    db.session.commit()
    keys.invalidate_cache()
    basic = base64.b64encode(f"{portal.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 503
    assert response.json["error"] == "temporarily_unavailable"
    assert "ciam init" in response.json["error_description"]


def _count_by_alg(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.scalars(db.select(SigningKey.alg)).all()
        db.session.remove()
    return {alg: rows.count(alg) for alg in set(rows)}


def test_concurrent_first_key_creators_make_one_key_per_alg(app):
    """Two nodes creating the first keys at once (PostgreSQL, READ COMMITTED): the
    second waits for the first's commit and creates none, so there is exactly one
    active key per algorithm."""
    require_service(
        app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"),
        "needs PostgreSQL (CIAM_TEST_DATABASE_URL): SQLite has one writer at a time",
    )
    with app.app_context():
        db.session.execute(db.delete(SigningKey))
        db.session.commit()
        db.session.remove()
    first_wrote = threading.Event()
    created: dict[str, int] = {}

    def first() -> None:
        with app.app_context():
            created["first"] = len(keys.ensure_keys())  # flushed, not committed
            first_wrote.set()
            threading.Event().wait(0.5)  # the second node reads meanwhile
            db.session.commit()
            db.session.remove()

    def second() -> None:
        first_wrote.wait(5)
        with app.app_context():
            created["second"] = len(keys.create_first_keys())
            db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert created == {"first": len(keys.SUPPORTED_ALGS), "second": 0}
    assert _count_by_alg(app) == {alg: 1 for alg in keys.SUPPORTED_ALGS}
    with app.app_context():
        states = [state for _, state in keys.list_keys()]
        db.session.remove()
    assert states == ["active"] * len(keys.SUPPORTED_ALGS)


@pytest.fixture(autouse=True)
def _fresh_key_cache(app):
    """The key cache forgets what these tests did to the keys table."""
    yield
    app.extensions["ciam.keys"].invalidate()
