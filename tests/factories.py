"""create_* factories. Call inside an app context (the `make` fixture gives one)."""

from __future__ import annotations

import itertools

from ciam.accounts import services as accounts
from ciam.extensions import db
from ciam.oidc import portals

PASSWORD = "a long test passphrase"
_seq = itertools.count(1)


def user(email: str | None = None, password: str = PASSWORD, **kwargs):
    created = accounts.create_user(
        email or f"person{next(_seq)}@example.test", password, email_verified=True, **kwargs
    )
    db.session.commit()
    return created


def portal(redirect_uri: str = "https://portal.example.test/callback", **kwargs):
    """Returns (portal, client_secret). Confidential first-party by default."""
    kwargs.setdefault("name", f"Portal {next(_seq)}")
    kwargs.setdefault("first_party", True)
    kwargs.setdefault("grant_types", ["authorization_code", "refresh_token", "client_credentials"])
    if kwargs.get("public"):
        kwargs["grant_types"] = [g for g in kwargs["grant_types"] if g != "client_credentials"]
    created, secret = portals.create_portal(redirect_uris=[redirect_uri], **kwargs)
    db.session.commit()
    return created, secret


def org(slug: str | None = None, name: str | None = None, **kwargs):
    """An active organization."""
    from ciam.delegation import services as orgs

    n = next(_seq)
    created = orgs.create_org(slug or f"org-{n}", name or f"Organization {n}", **kwargs)
    db.session.commit()
    return created


def crm_client(scopes=("invitations:read", "invitations:write"), **kwargs):
    """A machine client (the CRM integration): client_credentials only, with these
    scopes. Returns (portal, client_secret)."""
    kwargs.setdefault("grant_types", ["client_credentials"])
    return portal(scopes=list(scopes), **kwargs)


def invitation(email: str, org_slug: str, roles=(), **item):
    """A pending invitation made as the operator would. Returns (invitation, link)."""
    from ciam.invitations import services as invitations

    outcome = invitations.create_invitation(
        {"email": email, "org": org_slug, "business_roles": list(roles), **item},
        invitations.OPERATOR,
    )
    db.session.commit()
    return outcome.invitation, outcome.link


def role(key: str, org=None, name: str | None = None):
    """A business role in the catalogue: global, or the given org's own."""
    from ciam.roles import catalogue

    created = catalogue.create_role(key, name or key.replace("-", " ").capitalize(), org)
    db.session.commit()
    return created
