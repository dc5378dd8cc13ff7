"""'What will this person get': app roles per portal, only through a membership
that grants access, on entitled portals, with a seat."""

from __future__ import annotations

from datetime import timedelta

from ciam.db import utcnow
from ciam.delegation import memberships, settings
from ciam.delegation.models import OrgStatus
from ciam.extensions import db
from ciam.roles import services as roles
from tests.roles.support import PORTAL, member, world


def _user_of(membership):
    from ciam.accounts.models import User

    return db.session.get(User, membership.user_id)


def test_preview_gives_the_mapped_app_roles_per_portal(make):
    w = world()
    make.portal(client_id="docs-portal")
    roles.change_app_roles("docs-portal", ["viewer"])
    roles.set_licence(w.org, "docs-portal", None)
    reader = roles.create_role("docs-reader", "Docs reader")
    roles.map_role(reader, "docs-portal", ["viewer"])
    person = member(w.org)
    roles.assign_role(person, w.handler)
    roles.assign_role(person, reader)
    assert roles.preview(_user_of(person), w.org) == {
        PORTAL: ["adjuster", "reader"],
        "docs-portal": ["viewer"],
    }


def test_preview_of_a_role_shows_only_entitled_portals(make):
    w = world()
    make.portal(client_id="unlicensed")
    roles.change_app_roles("unlicensed", ["viewer"])
    roles.map_role(w.handler, "unlicensed", ["viewer"])
    assert roles.preview_role(w.handler, w.org) == {PORTAL: ["adjuster", "reader"]}


def test_nothing_outside_the_window_or_when_suspended(make):
    """Not yet valid, expired, suspended, or in a suspended org: nothing at all."""
    w = world(seats=None)
    now = utcnow()
    future = member(w.org, valid_from=now + timedelta(days=1))
    expired = member(w.org, valid_until=now - timedelta(minutes=1))
    suspended = member(w.org)
    current = member(w.org, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1))
    for person in (future, expired, suspended, current):
        roles.assign_role(person, w.handler)
    memberships.suspend(suspended)
    assert [memberships.grants_access(p) for p in (future, expired, suspended, current)] == [
        False,
        False,
        False,
        True,
    ]
    assert [roles.preview_membership(p) for p in (future, expired, suspended)] == [{}, {}, {}]
    assert roles.preview_membership(current) == {PORTAL: ["adjuster", "reader"]}
    w.org.status = OrgStatus.suspended
    assert roles.preview_membership(current) == {}


def test_org_policy_allowed_portals_limits_what_is_given(make):
    """A portal left out of the org's allowed list gives nothing, licence or not."""
    w = world(seats=None)
    make.portal(client_id="docs-portal")
    person = member(w.org)
    roles.assign_role(person, w.handler)
    settings.update_settings(w.org, allowed_portals=["docs-portal"])
    assert roles.entitled(w.org, PORTAL) is False
    assert roles.preview_membership(person) == {}
    settings.update_settings(w.org, allowed_portals=[])
    assert roles.preview_membership(person) == {PORTAL: ["adjuster", "reader"]}


def test_no_membership_gives_nothing(make):
    w = world()
    assert roles.preview(make.user(), w.org) == {}
