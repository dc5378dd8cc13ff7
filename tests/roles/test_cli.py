"""`ciam portals app-roles`, `ciam roles ...`, `ciam licences ...`: the operator's
catalogue commands, their --json output, and refusals as messages (no traceback)."""

from __future__ import annotations

import json

import pytest

from ciam.accounts import services as accounts
from ciam.delegation import memberships
from ciam.delegation import services as orgs
from ciam.errors import NotFound
from ciam.roles import services as roles


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args, ok=True):
        result = runner.invoke(args=list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def _stdout_json(result):
    return json.loads(result.stdout)


@pytest.fixture
def catalogue(run, make):
    """The issue's example, through the commands an operator types."""
    make.portal(client_id="claims-portal")
    make.org(slug="acme")
    run("portals", "app-roles", "claims-portal", "--add", "adjuster", "--add", "reader")
    run("roles", "create", "--key", "claims-handler", "--name", "Claims handler")
    run(
        "roles", "map", "--role", "claims-handler", "--portal", "claims-portal",
        "--app-role", "adjuster", "--app-role", "reader",
    )  # fmt: skip
    run("licences", "set", "--org", "acme", "--portal", "claims-portal", "--seats", "1")


def test_portal_app_roles_lists_what_the_portal_understands(run, catalogue):
    shown = _stdout_json(run("portals", "app-roles", "claims-portal", "--add", "auditor", "--json"))
    assert shown == {"client_id": "claims-portal", "app_roles": ["adjuster", "auditor", "reader"]}
    refused = run("portals", "app-roles", "claims-portal", "--remove", "adjuster", ok=False)
    assert refused.exit_code == 1 and "claims-handler" in refused.output
    assert "Traceback" not in refused.output


def test_roles_list_and_show_json(run, catalogue):
    [listed] = _stdout_json(run("roles", "list", "--json"))
    assert listed == {
        "key": "claims-handler",
        "name": "Claims handler",
        "org": None,
        "mappings": {"claims-portal": ["adjuster", "reader"]},
    }
    assert _stdout_json(run("roles", "show", "claims-handler", "--json")) == listed
    assert "claims-portal: adjuster reader" in run("roles", "show", "claims-handler").output


def test_org_role_create_and_refused_mapping(run, catalogue, make):
    make.portal(client_id="other-portal")
    run("portals", "app-roles", "other-portal", "--add", "viewer")
    run("roles", "create", "--key", "acme-auditor", "--name", "Auditor", "--org", "acme")
    refused = run(
        "roles", "map", "--role", "acme-auditor", "--org", "acme",
        "--portal", "other-portal", "--app-role", "viewer", ok=False,
    )  # fmt: skip
    assert refused.exit_code == 1 and "not entitled to portal other-portal" in refused.output
    keys = [r["key"] for r in _stdout_json(run("roles", "list", "--org", "acme", "--json"))]
    assert keys == ["acme-auditor", "claims-handler"]


def test_licences_list_and_seat_refusal_through_members(run, catalogue, make):
    """One seat: the first person added with the role holds it; the second is
    refused with the portal and the count, and is not added at all."""
    make.user(email="first@example.com")
    make.user(email="second@example.com")
    run(
        "members",
        "add",
        "--org",
        "acme",
        "--email",
        "first@example.com",
        "--role",
        "claims-handler",
    )
    refused = run(
        "members", "add", "--org", "acme", "--email", "second@example.com",
        "--role", "claims-handler", ok=False,
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "No seat left on portal claims-portal: 1 of 1 seat(s)" in refused.output
    [row] = _stdout_json(run("licences", "list", "--org", "acme", "--json"))
    assert row == {
        "org": "acme", "portal": "claims-portal", "seats": 1, "in_use": 1, "over_allocated": 0,
    }  # fmt: skip
    second = accounts.find_by_email("second@example.com")
    assert second is not None and not _is_member("acme", second)


def _is_member(slug, user):
    try:
        memberships.find_membership(orgs.get_org(slug), user)
    except NotFound:
        return False
    return True


def test_licence_reduction_reports_over_allocation(run, catalogue, make):
    run("licences", "set", "--org", "acme", "--portal", "claims-portal", "--seats", "unlimited")
    for n in range(3):
        make.user(email=f"p{n}@example.com")
        run(
            "members",
            "add",
            "--org",
            "acme",
            "--email",
            f"p{n}@example.com",
            "--role",
            "claims-handler",
        )
    reduced = run("licences", "set", "--org", "acme", "--portal", "claims-portal", "--seats", "2")
    assert "warning: 1 more people need a seat" in reduced.output
    assert roles.over_allocation(orgs.get_org("acme")) == {"claims-portal": 1}
    assert "OVER BY 1" in run("licences", "list", "--org", "acme").output
    bad = run(
        "licences", "set", "--org", "acme", "--portal", "claims-portal", "--seats", "lots", ok=False
    )
    assert bad.exit_code == 2 and "not a number of seats" in bad.output


def test_preview_by_email_and_by_role(run, catalogue, make):
    make.user(email="pat@example.com")
    none = _stdout_json(
        run("roles", "preview", "--email", "pat@example.com", "--org", "acme", "--json")
    )
    assert none == {}
    run("members", "add", "--org", "acme", "--email", "pat@example.com", "--role", "claims-handler")
    got = _stdout_json(
        run("roles", "preview", "--email", "pat@example.com", "--org", "acme", "--json")
    )
    assert got == {"claims-portal": ["adjuster", "reader"]}
    by_role = run("roles", "preview", "--role", "claims-handler", "--org", "acme", "--json")
    assert _stdout_json(by_role) == got
    run("members", "suspend", "--org", "acme", "--email", "pat@example.com")
    assert (
        "(no app roles"
        in run("roles", "preview", "--email", "pat@example.com", "--org", "acme").output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("roles", "show", "nope"), "No business role nope"),
        (("roles", "map", "--role", "nope", "--portal", "claims-portal"), "No business role nope"),
        (
            ("roles", "preview", "--org", "nowhere", "--role", "claims-handler"),
            "No organization nowhere",
        ),
        (("roles", "preview", "--org", "acme", "--email", "ghost@example.com"), "No account"),
        (("licences", "set", "--org", "acme", "--portal", "ghost", "--seats", "1"), "No portal"),
        (("portals", "app-roles", "ghost", "--add", "x"), "No portal"),
        (("roles", "create", "--key", "Bad Key", "--name", "x"), "lower-case"),
    ],
)
def test_refusals_are_messages(run, catalogue, args, message):
    result = run(*args, ok=False)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output
