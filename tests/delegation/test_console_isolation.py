"""DESIGN §8 "org admins can act only inside their org (test cross-tenant access on
every endpoint)", enumerated from the app's URL map: every route under /org/<slug>,
GET and POST (with a valid CSRF token), for an admin of another organization, a
plain member, and a user manager acting on an admin. A route added without the
check fails here; so does a route whose arguments this test cannot fill (teach it).

The positive control (the organization's own admin gets a real answer from every
route, with these very URLs and form data) proves the 404s are the check's and not
a malformed request's."""

from __future__ import annotations

import re

import pytest

from ciam.extensions import db
from ciam.roles import assignments, catalogue
from ciam.roles import services as roles
from tests import factories
from tests.delegation.console_support import PORTAL, console_world, join, post, signed_in

PREFIX = "/org/<slug>"
ARGUMENT = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
KNOWN_ARGUMENTS = {"slug", "user_id", "invitation_id", "key"}
# One payload fills every console form with a valid value; for an intruder it is
# the most damaging one (make someone org admin, invite, create and map roles).
FORM = {
    "role": "claims-handler",
    "right": "org_admin",
    "email": "newcomer@example.test",
    "key": "intruder-role",
    "name": "Intruder role",
    "portal": PORTAL,
    "app_roles": "reader",
    "reason": "isolation test",
}
# POST routes that act on no member: a user manager may use them (inviting people in).
NOT_ABOUT_A_MEMBER = {
    "org_console.invitation_create": "invites a new person, with no admin right",
    "org_console.invitation_resend": "an invitation, not a member",
    "org_console.invitation_revoke": "an invitation, not a member",
}
# Rows a request touches without changing anything (last seen times of sessions).
UNCOMPARED_TABLES = {"login_sessions", "known_devices"}


def console_rules(app) -> list:
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(PREFIX)]
    assert len(rules) >= 15, "the console's routes are not registered"
    return sorted(rules, key=lambda rule: (rule.rule, sorted(rule.methods)))


def arguments(rule) -> set[str]:
    return set(ARGUMENT.findall(rule.rule))


def methods(rule) -> list[str]:
    return sorted(rule.methods & {"GET", "POST"})


def url_of(rule, slug: str, user_id, invitation_id, key: str) -> str:
    unknown = arguments(rule) - KNOWN_ARGUMENTS
    assert not unknown, f"{rule.rule}: teach the isolation test to fill {unknown}"
    values = {"slug": slug, "user_id": user_id, "invitation_id": invitation_id, "key": key}
    return ARGUMENT.sub(lambda match: str(values[match.group(1)]), rule.rule)


def snapshot() -> dict[str, list[str]]:
    """Every row of every table (but session bookkeeping), to compare before/after."""
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name not in UNCOMPARED_TABLES:
            state[table.name] = sorted(
                repr(tuple(row)) for row in db.session.execute(table.select())
            )
    return state


def _call(client, method: str, url: str):
    return client.get(url) if method == "GET" else post(client, url, FORM)


@pytest.fixture
def world(make):
    """acme (unlimited seats) with its own role mapped, a member holding a role, and a
    pending invitation; globex with its admin."""
    world = console_world(seats=None)
    own = catalogue.create_role("acme-agent", "Acme agent", world.org)
    roles.map_role(own, PORTAL, ["adjuster"])
    assignments.assign_role(world.member, world.roles.handler)
    db.session.commit()
    invitation, _ = factories.invitation("pending@example.test", "acme", roles=["claims-handler"])
    world.invitation_id = invitation.id
    return world


def _refused_everywhere(app, world, client, slug: str, expected: set[int], target) -> None:
    before = snapshot()
    for rule in console_rules(app):
        url = url_of(rule, slug, target, world.invitation_id, "acme-agent")
        for method in methods(rule):
            status = _call(client, method, url).status_code
            assert status in expected, (method, url, status)
    assert snapshot() == before


def test_an_admin_of_another_org_gets_404_everywhere(app, world):
    """An org admin of globex gets the same 404 on every acme route as for an
    organization that does not exist, and changes nothing."""
    client = signed_in(app, "admin@globex.test")
    _refused_everywhere(app, world, client, "acme", {404}, world.member.user_id)
    absent, present = client.get("/org/no-such-org/"), client.get("/org/acme/")
    assert absent.status_code == present.status_code == 404
    assert absent.get_data() == present.get_data()


def test_an_admin_of_another_org_cannot_reach_its_objects_through_their_own(app, world):
    """Through globex's own console, acme's member, invitation and role are unknown:
    404 on every route that names one, and nothing changes."""
    client = signed_in(app, "admin@globex.test")
    before = snapshot()
    for rule in console_rules(app):
        if not arguments(rule) & {"user_id", "invitation_id", "key"}:
            continue
        url = url_of(rule, "globex", world.member.user_id, world.invitation_id, "acme-agent")
        for method in methods(rule):
            status = _call(client, method, url).status_code
            assert status == 404, (method, url, status)
    assert snapshot() == before


def test_a_plain_member_gets_404_everywhere(app, world):
    """A member without an admin right gets 404 on every route, even about an admin."""
    client = signed_in(app, "member@acme.test")
    _refused_everywhere(app, world, client, "acme", {404}, world.admin.user_id)


def test_a_user_manager_cannot_act_on_an_admin(app, world):
    """Every POST route about a member, aimed at an org admin by a user manager, is
    refused (403, or 404 for a role route) and changes nothing; so is every route
    that would define roles or give rights."""
    client = signed_in(app, "manager@acme.test")
    before = snapshot()
    checked = 0
    for rule in console_rules(app):
        if "POST" not in rule.methods or rule.endpoint in NOT_ABOUT_A_MEMBER:
            continue
        url = url_of(rule, "acme", world.admin.user_id, world.invitation_id, "acme-agent")
        status = _call(client, "POST", url).status_code
        assert status in (403, 404), (url, status)
        checked += 1
    assert checked >= 8
    assert snapshot() == before


def test_without_a_login_every_route_sends_to_the_login_page(app, world, client):
    """Signed out, an existing and an unknown organization answer alike."""
    for rule in console_rules(app):
        if "GET" not in rule.methods:
            continue
        for slug in ("acme", "no-such-org"):
            url = url_of(rule, slug, world.member.user_id, world.invitation_id, "acme-agent")
            response = client.get(url)
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login")


def test_every_route_answers_the_orgs_own_admin(app, world):
    """The control: the same URLs and form give the acme admin a page (200) or a
    completed action (303 back, without the incomplete-form message), each POST on
    a fresh member and invitation so one action does not spoil the next."""
    client = signed_in(app, "admin@acme.test")
    for number, rule in enumerate(console_rules(app)):
        target = join(world.org, f"target{number}@acme.test")
        assignments.assign_role(target, world.roles.handler)
        invitation, _ = factories.invitation(f"invited{number}@example.test", "acme")
        db.session.commit()
        url = url_of(rule, "acme", target.user_id, invitation.id, "acme-agent")
        for method in methods(rule):
            response = _call(client, method, url)
            assert response.status_code == (200 if method == "GET" else 303), (method, url)
            if method == "POST":
                page = client.get(response.headers["Location"]).get_data(as_text=True)
                assert "The form was not complete" not in page, url
