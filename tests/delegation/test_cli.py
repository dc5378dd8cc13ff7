"""`ciam orgs set`, `ciam members ...`, `ciam orgs add-member`, `ciam sweep`."""

from __future__ import annotations

import json
from datetime import timedelta

from ciam.db import utcnow
from tests.api.support import audit


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_orgs_set_changes_only_what_is_given(app, make):
    make.org(slug="acme")
    make.portal(client_id="claims-portal")
    result = _run(
        app, "orgs", "set", "acme", "--mfa-required", "--session-idle-minutes", "20",
        "--allow-portal", "claims-portal", "--display-name", "Acme",
        "--logo-url", "https://cdn.acme.test/l.svg", "--primary-colour", "#112233",
        "--email-sender-name", "Acme Team", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["mfa_required"] is True and shown["allowed_portals"] == ["claims-portal"]
    again = json.loads(_run(app, "orgs", "set", "acme", "--no-mfa-required", "--json").stdout)
    assert again["mfa_required"] is False and again["display_name"] == "Acme"
    cleared = json.loads(_run(app, "orgs", "set", "acme", "--all-portals", "--json").stdout)
    assert cleared["allowed_portals"] == []


def test_orgs_set_refusals_are_messages(app, make):
    make.org(slug="acme")
    bad = _run(app, "orgs", "set", "acme", "--primary-colour", "red")
    assert bad.exit_code == 1 and "#RRGGBB" in bad.output and "Traceback" not in bad.output
    missing = _run(app, "orgs", "set", "nowhere", "--mfa-required")
    assert missing.exit_code == 1 and "No organization nowhere" in missing.output


def test_orgs_list_json(app, make):
    make.org(slug="acme", name="Acme")
    rows = json.loads(_run(app, "orgs", "list", "--json").stdout)
    assert rows == [{"slug": "acme", "status": "active", "name": "Acme"}]


def test_members_add_suspend_reactivate_and_roles(app, make):
    make.org(slug="acme")
    make.user(email="pat@example.com")
    make.role("reader")
    added = _run(
        app, "orgs", "add-member", "--org", "acme", "--email", "pat@example.com",
        "--role", "reader", "--admin-right", "user_manager", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert (shown["roles"], shown["admin_right"], shown["grants_access"]) == (
        ["reader"],
        "user_manager",
        True,
    )
    suspended = _run(
        app, "members", "suspend", "--org", "acme", "--email", "pat@example.com", "--json"
    )
    assert json.loads(suspended.stdout)["grants_access"] is False
    _run(app, "members", "reactivate", "--org", "acme", "--email", "pat@example.com")
    taken = _run(
        app, "members", "remove-role", "--org", "acme", "--email", "pat@example.com",
        "--role", "reader", "--json",
    )  # fmt: skip
    assert json.loads(taken.stdout)["roles"] == []
    again = _run(app, "members", "add", "--org", "acme", "--email", "pat@example.com")
    assert again.exit_code == 1 and "already a member" in again.output


def test_members_refusals_are_messages(app, make):
    make.org(slug="acme")
    make.user(email="pat@example.com")
    ghost = _run(app, "members", "add", "--org", "acme", "--email", "ghost@example.com")
    assert ghost.exit_code == 1 and "No account" in ghost.output
    unknown_role = _run(
        app, "members", "add", "--org", "acme", "--email", "pat@example.com", "--role", "nope"
    )
    assert unknown_role.exit_code == 1 and "No business role nope" in unknown_role.output
    not_member = _run(app, "members", "suspend", "--org", "acme", "--email", "pat@example.com")
    assert not_member.exit_code == 1 and "not a member" in not_member.output
    bad_date = _run(
        app, "members", "add", "--org", "acme", "--email", "pat@example.com",
        "--valid-until", "next week",
    )  # fmt: skip
    assert bad_date.exit_code == 2 and "ISO 8601" in bad_date.output


def test_sweep_command_records_expiries(app, make):
    make.org(slug="acme")
    make.user(email="pat@example.com")
    until = (utcnow() - timedelta(minutes=1)).isoformat()
    added = _run(
        app, "members", "add", "--org", "acme", "--email", "pat@example.com",
        "--valid-until", until, "--json",
    )  # fmt: skip
    assert json.loads(added.stdout)["grants_access"] is False
    assert json.loads(_run(app, "sweep", "--json").stdout) == {"expired": 1}
    assert _run(app, "sweep").output.strip() == "0 membership(s) expired"
    assert len(audit("membership:expired")) == 1
