"""The `ciam` command line: portals, users, orgs, demo data."""

from __future__ import annotations

import json
import re

from ciam.accounts.passwords import verify_password
from ciam.accounts.services import find_by_email
from ciam.crypto import secret_matches
from ciam.extensions import db
from ciam.oidc.models import Portal, PortalStatus


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_portals_create_json_prints_client_id_and_secret_once(app, ctx):
    """The secret is printed once and only its hash is stored."""
    result = _run(
        app,
        "portals",
        "create",
        "--name",
        "Claims",
        "--redirect-uri",
        "https://claims.example.test/cb",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout only: stderr may carry log lines
    portal = db.session.scalar(db.select(Portal).where(Portal.client_id == data["client_id"]))
    assert data["client_secret"] not in (portal.client_secret_hash or "")
    assert secret_matches(data["client_secret"], portal.client_secret_hash)
    shown = json.loads(_run(app, "portals", "show", data["client_id"], "--json").stdout)
    assert "client_secret" not in shown
    assert shown["redirect_uris"] == ["https://claims.example.test/cb"]


def test_public_portal_has_no_secret_and_requires_pkce(app):
    """--public: no secret, auth method none, PKCE required."""
    result = _run(
        app,
        "portals",
        "create",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
        "--json",
    )
    data = json.loads(result.stdout)  # stdout only: stderr may carry log lines
    assert "client_secret" not in data
    assert data["token_endpoint_auth_method"] == "none"
    assert data["require_pkce"] is True


def test_portal_with_http_redirect_to_non_loopback_is_refused(app):
    """Registration refuses http redirect URIs except loopback, with a clear message."""
    result = _run(
        app, "portals", "create", "--name", "Bad", "--redirect-uri", "http://portal.example.test/cb"
    )
    assert result.exit_code != 0
    assert "must use https" in result.output


def test_portals_disable_retires(app, ctx):
    """`portals disable` retires the portal."""
    data = json.loads(
        _run(
            app,
            "portals",
            "create",
            "--name",
            "Old",
            "--redirect-uri",
            "https://old.example.test/cb",
            "--json",
        ).stdout
    )
    result = _run(app, "portals", "disable", data["client_id"])
    assert result.exit_code == 0
    portal = db.session.scalar(db.select(Portal).where(Portal.client_id == data["client_id"]))
    assert portal.status == PortalStatus.retired


def test_users_and_orgs_create_json(app):
    """`orgs create` then `users create --org` links the person to the organization."""
    org = _run(app, "orgs", "create", "--slug", "acme", "--name", "Acme", "--json")
    assert org.exit_code == 0, org.output
    result = _run(
        app,
        "users",
        "create",
        "--email",
        "Dana@Acme.test",
        "--password",
        "a long passphrase",
        "--org",
        "acme",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout only: stderr may carry log lines
    assert data["email"] == "Dana@Acme.test" and data["org"] == "acme"
    duplicate = _run(
        app, "users", "create", "--email", "dana@acme.test", "--password", "a long passphrase"
    )
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output


def test_users_create_reads_the_password_from_stdin(app, ctx):
    """`--password -` takes the password from stdin, so it stays out of the shell's
    history and the process list."""
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--email", "eve@example.test", "--password", "-"],
        input="a passphrase from stdin\n",
    )
    assert result.exit_code == 0, result.output
    user = find_by_email("eve@example.test")
    assert user is not None
    assert verify_password(user.password_hash, "a passphrase from stdin")


def test_users_create_refuses_short_password(app):
    """The password policy applies to the CLI too."""
    result = _run(app, "users", "create", "--email", "x@example.test", "--password", "short")
    assert result.exit_code != 0
    assert "at least" in result.output


def test_demo_is_idempotent(app, ctx):
    """`ciam demo` loads two orgs, users and two portals; a second run adds nothing."""
    first = _run(app, "demo")
    assert first.exit_code == 0, first.output
    assert "demo-claims-portal" in first.output and "client secret:" in first.output
    count = db.session.scalar(db.select(db.func.count()).select_from(Portal))
    assert _run(app, "demo").exit_code == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(Portal)) == count == 2
    # The organizations story: carol is in both, with a role mapped to the portal in each.
    carol = _run(
        app,
        "roles",
        "preview",
        "--email",
        "carol@brightside-brokers.example",
        "--org",
        "acme",
        "--json",
    )
    assert json.loads(carol.stdout) == {"demo-claims-portal": ["reader"]}


def test_generated_client_ids_never_look_like_an_option(app, ctx):
    """A generated client id is hex, so it can never start with "-" and be taken for
    an option by `ciam portals disable CLIENT_ID` (a base64url id did, 1 in 64)."""
    from ciam.oidc.portals import new_client_id

    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[0-9a-f]{32}", client_id) for client_id in ids)
