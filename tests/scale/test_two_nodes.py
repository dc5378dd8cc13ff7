"""Scale-out (DESIGN §7): two ciam nodes (real gunicorn processes on two ports) share
one PostgreSQL and one Redis, and any node can serve any request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from ciam.accounts.models import User, UserStatus
from ciam.extensions import db
from ciam.oidc import keys
from tests.conftest import require_service
from tests.factories import PASSWORD
from tests.oidc.rp import Portal
from tests.oidc_flow import Browser

pytestmark = pytest.mark.services
GUNICORN = Path(sys.executable).parent / "gunicorn"
LOGIN_LIMIT = 10  # per IP per minute, on each node
LOCKOUT_THRESHOLD = 4


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited: {process.stdout.read().decode()[-2000:]}")
        try:
            if requests.get(url + "/.well-known/openid-configuration", timeout=5).ok:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"node at {url} did not start")


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("CIAM_TEST_REDIS_URL")
    require_service(bool(url), "Redis not configured (set CIAM_TEST_REDIS_URL)")
    return url


@pytest.fixture(scope="module")
def nodes(app, database_url, redis_url):
    """Node A and node B: one issuer, one database, one Redis, separate processes."""
    require_service(
        database_url.startswith("postgresql"),
        "scale-out needs PostgreSQL (set CIAM_TEST_DATABASE_URL)",
    )
    redis.Redis.from_url(redis_url).flushdb()
    ports = [_port(), _port()]
    env = {
        **os.environ,
        "CIAM_DATABASE_URL": database_url,
        "CIAM_REDIS_URL": redis_url,
        "CIAM_ISSUER": f"http://127.0.0.1:{ports[0]}",
        "CIAM_SECRET_KEY": app.config["SECRET_KEY"],
        "CIAM_KEY_CACHE_SECONDS": "1",
        "CIAM_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT}/minute",
        "CIAM_LOGIN_ACCOUNT_RATE_LIMIT": "1000/minute",
        "CIAM_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
    }
    processes = []
    for port in ports:
        process = subprocess.Popen(
            [str(GUNICORN), "--workers", "1", "--bind", f"127.0.0.1:{port}", "ciam:create_app()"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(urls, processes, strict=True):
            _wait_ready(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()


def _portal_on(node: str, issuer: str, portal, secret) -> Portal:
    """A portal that sends every request to `node` (the issuer names node A)."""
    rp = Portal(node, portal.client_id, secret, redirect_uri=portal.redirect_uris[0])
    rp.issuer = issuer
    rp.metadata = {
        k: v.replace(issuer, node) if isinstance(v, str) else v for k, v in rp.metadata.items()
    }
    return rp


def test_login_on_one_node_refresh_on_the_other(nodes, make):
    """A code issued by node A is redeemed there; the refresh works on node B, and
    replaying the rotated token on node A revokes the family for both nodes."""
    node_a, node_b = nodes
    user = make.user()
    portal, secret = make.portal()
    on_a = _portal_on(node_a, node_a, portal, secret)
    on_b = _portal_on(node_b, node_a, portal, secret)
    token, claims, _ = on_a.login(user.email, PASSWORD, browser=Browser(node_a))
    assert claims["iss"] == node_a

    refreshed = on_b.session.refresh_token(on_b.metadata["token_endpoint"], token["refresh_token"])
    assert on_b.userinfo(refreshed["access_token"]).status_code == 200

    reuse = requests.post(
        on_a.metadata["token_endpoint"],
        auth=(portal.client_id, secret),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        timeout=5,
    )
    assert reuse.json()["error"] == "invalid_grant"
    assert on_b.userinfo(refreshed["access_token"]).status_code == 401
    newest = requests.post(
        on_b.metadata["token_endpoint"],
        auth=(portal.client_id, secret),
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        timeout=5,
    )
    assert newest.json()["error"] == "invalid_grant"


def _published_by(node: str) -> set[str]:
    return {k["kid"] for k in requests.get(node + "/oauth/jwks", timeout=5).json()["keys"]}


def _wait_for_jwks(node: str, expected: set[str]) -> set[str]:
    deadline = time.monotonic() + 5
    seen = _published_by(node)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = _published_by(node)
    return seen


def test_key_rotated_through_node_a_is_published_by_node_b(nodes, app):
    """`ciam keys rotate` run with node A's settings shows up in node B's JWKS within
    the key cache lifetime, with no restart; the old keys stay published."""
    _, node_b = nodes
    with app.app_context():
        current = {row.kid for row, _ in keys.list_keys()}
    assert _wait_for_jwks(node_b, current) == current
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--delay", "0"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rotated = {row.kid for row, _ in keys.list_keys()}
    assert len(rotated - current) == 2  # a new RS256 and a new ES256 key
    assert _wait_for_jwks(node_b, rotated) == rotated


def test_rate_limit_is_shared_between_nodes(nodes, redis_url):
    """Limits are counted in Redis: login posts spread over two nodes hit one shared
    per-IP limit. With per-process counters neither node would reach it."""
    node_a, node_b = nodes
    redis.Redis.from_url(redis_url).flushdb()
    statuses = []
    for i in range(LOGIN_LIMIT + 4):
        node = node_a if i % 2 == 0 else node_b
        # a different unknown email each time, so only the per-IP limit can trigger
        statuses.append(Browser(node).login(f"nobody{i}@example.test", "x").status_code)
    assert statuses[:LOGIN_LIMIT] == [401] * LOGIN_LIMIT
    assert statuses[LOGIN_LIMIT:] == [429] * 4


def test_lockout_counter_is_shared_between_nodes(nodes, redis_url, make, ctx):
    """Failures counted on node A and node B add up to one lockout, which then holds
    on both nodes, even for the right password."""
    node_a, node_b = nodes
    redis.Redis.from_url(redis_url).flushdb()
    user = make.user()
    for i in range(LOCKOUT_THRESHOLD):
        node = node_a if i % 2 == 0 else node_b
        assert Browser(node).login(user.email, "not the password").status_code == 401
    for node in (node_a, node_b):
        assert Browser(node).login(user.email, PASSWORD).status_code == 401
    db.session.expire_all()
    assert db.session.get(User, user.id).status == UserStatus.locked
