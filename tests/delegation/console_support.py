"""A small world for the org console tests: organization acme licensed for one
portal (2 seats) with a global role mapped to it, its admin, user manager and a
plain member, and another organization (globex) with its own admin; clients
signed in as each."""

from __future__ import annotations

from dataclasses import dataclass

from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, Membership, Organization
from ciam.extensions import db
from tests import factories
from tests.accounts.selfservice import CSRF, login
from tests.conftest import IsolatedClient
from tests.roles.support import PORTAL, World, world


@dataclass
class Console:
    roles: World
    org: Organization
    other: Organization
    admin: Membership
    manager: Membership
    member: Membership
    other_admin: Membership


def join(org: Organization, email: str, right: AdminRight = AdminRight.none) -> Membership:
    membership = orgs.add_member(org, factories.user(email=email), right)
    db.session.commit()
    return membership


def console_world(seats: int | None = 2) -> Console:
    roles = world(seats=seats, slug="acme")
    roles.org.name = "Acme Insurance"
    db.session.commit()
    other = factories.org(slug="globex", name="Globex")
    return Console(
        roles=roles,
        org=roles.org,
        other=other,
        admin=join(roles.org, "admin@acme.test", AdminRight.org_admin),
        manager=join(roles.org, "manager@acme.test", AdminRight.user_manager),
        member=join(roles.org, "member@acme.test"),
        other_admin=join(other, "admin@globex.test", AdminRight.org_admin),
    )


def signed_in(app, email: str):
    """A fresh client (its own cookies) signed in as `email`."""
    app.test_client_class = IsolatedClient
    client = app.test_client()
    login(client, email)
    return client


def token_of(client) -> str:
    """A CSRF token of the client's session (valid for any form of the app)."""
    page = client.get("/account/profile")
    return CSRF.search(page.get_data(as_text=True)).group(1)


def post(client, path: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": token_of(client), **(data or {})})


__all__ = ["PORTAL", "Console", "console_world", "join", "post", "signed_in", "token_of"]
