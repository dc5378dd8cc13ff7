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
