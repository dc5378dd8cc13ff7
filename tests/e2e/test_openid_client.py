"""Interop with node's certified relying-party library `openid-client` (v6, pinned in
tests/e2e/node/package.json): discovery, code + PKCE with state and nonce, ID token
validation (claims and signature), userinfo, refresh.

tests/e2e/node/rp.mjs runs in two steps around the login: `start` prints the
authorization URL and the PKCE verifier, state and nonce it chose; the test signs in
with tests.oidc_flow.Browser up to the redirect; `finish` gets that callback URL and
the saved values, and prints what openid-client validated and fetched, or the error
it raised. openid-client runs with its defaults apart from plain HTTP on loopback
(and the opt-in ID token signature check, see rp.mjs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.factories import PASSWORD
from tests.oidc_flow import Browser

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).parent / "node"
RP_SCRIPT = NODE_DIR / "rp.mjs"
SCOPE = "openid profile email"
MIN_NODE_MAJOR = 20  # openid-client v6 needs WebCrypto and fetch


@pytest.fixture(scope="session")
def node_rp() -> str:
    """The node binary, with tests/e2e/node/node_modules installed by `npm ci`."""
    node, npm = shutil.which("node"), shutil.which("npm")
    require_service(bool(node and npm), "node and npm are not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    require_service(
        major >= MIN_NODE_MAJOR, f"node {version.stdout.strip()} is older than v{MIN_NODE_MAJOR}"
    )
    install = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    require_service(
        install.returncode == 0,
        f"`npm ci` in {NODE_DIR} failed: {install.stderr.strip()[-2000:]}",
    )
    return node


def _rp(node: str, step: str, payload: dict) -> dict:
    done = subprocess.run(
        [node, str(RP_SCRIPT), step],
        input=json.dumps(payload),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        result = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"rp.mjs {step} exited {done.returncode}: {done.stdout}{done.stderr}")
    if done.returncode != 0 or "error" in result:
        pytest.fail(
            f"openid-client rejected the provider in `{step}`:\n"
            f"{json.dumps(result, indent=2)}\n{done.stderr}"
        )
    return result


def _login_with_openid_client(node, live_server, user, client_id, secret, redirect_uri):
    config = {
        "issuer": live_server,
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
    }
    started = _rp(node, "start", config)
    response = Browser(live_server).authorize(
        started["authorization_url"], user.email, PASSWORD, consent="allow"
    )
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    callback_url = response.headers["Location"]
    assert callback_url.startswith(redirect_uri + "?"), callback_url
    return started, _rp(node, "finish", {**config, **started, "callback_url": callback_url})


def _assert_interop(result: dict, started: dict, live_server: str, user, client_id: str):
    claims = result["id_token_claims"]
    assert claims["sub"] == str(user.id)
    assert claims["iss"] == live_server
    assert claims["aud"] in (client_id, [client_id])
    assert claims["nonce"] == started["nonce"]
    assert result["userinfo"]["sub"] == str(user.id)
    assert result["userinfo"]["email"] == user.email
    assert result["token_type"].lower() == "bearer"
    refreshed = result["refreshed"]
    assert refreshed["access_token"]
    assert refreshed["access_token"] != result["access_token"]
    assert refreshed["refresh_token"] not in (None, result["refresh_token"])  # rotated
    assert result["refreshed_userinfo"]["sub"] == str(user.id)
    if refreshed["id_token_claims"] is not None:
        assert refreshed["id_token_claims"]["sub"] == str(user.id)


def test_confidential_portal_with_openid_client(node_rp, live_server, make):
    """openid-client, as a confidential portal (client_secret_basic, PKCE, state,
    nonce), accepts discovery, the callback, the token response and the ID token, reads
    userinfo for the signed-in user and gets a new access token by refresh."""
    user = make.user()
    redirect_uri = "https://portal.example.test/callback"
    portal, secret = make.portal(redirect_uri=redirect_uri)
    assert portal.token_endpoint_auth_method == "client_secret_basic"

    started, result = _login_with_openid_client(
        node_rp, live_server, user, portal.client_id, secret, redirect_uri
    )

    _assert_interop(result, started, live_server, user, portal.client_id)


def test_public_spa_with_openid_client(node_rp, live_server, make):
    """openid-client, as a public SPA (token_endpoint_auth_method none, PKCE S256),
    completes the same flow: validated ID token, userinfo, and refresh."""
    user = make.user()
    redirect_uri = "http://127.0.0.1:9000/cb"
    portal, secret = make.portal(public=True, redirect_uri=redirect_uri)
    assert secret is None
    assert portal.token_endpoint_auth_method == "none"

    started, result = _login_with_openid_client(
        node_rp, live_server, user, portal.client_id, None, redirect_uri
    )

    _assert_interop(result, started, live_server, user, portal.client_id)
