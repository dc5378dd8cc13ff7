"""Claims other domains add to a person's tokens: the organization a sign-in was
for and the app roles it gives on the requesting portal (ciam.roles.claims).

Registered at setup, so ciam.oidc imports none of those domains. Asked only for a
token that names an organization (`org_id`) and whose scope asks for it (the
`organization` scope): every other token (the certification plans', a machine's)
costs nothing here. The same providers answer for the access token, the ID token,
userinfo and introspection, so the four always agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

ORG_SCOPE = "organization"
_PROVIDERS = "ciam.token_claim_providers"


@dataclass(frozen=True)
class TokenSubject:
    user_id: uuid.UUID
    org_id: uuid.UUID
    client_id: str


Provider = Callable[[TokenSubject], dict]


def asks_for_org(scope: str | None) -> bool:
    """The scope `organization`, or `organization:<slug>` naming one."""
    return any(
        item == ORG_SCOPE or item.startswith(ORG_SCOPE + ":") for item in (scope or "").split()
    )


def register_provider(app: Flask, provider: Provider) -> None:
    app.extensions.setdefault(_PROVIDERS, []).append(provider)


def extra_claims(user_id, org_id, client_id: str, scope: str | None) -> dict:
    """The claims the registered providers add for this token ({} for most)."""
    if user_id is None or org_id is None or not asks_for_org(scope):
        return {}
    subject = TokenSubject(uuid.UUID(str(user_id)), uuid.UUID(str(org_id)), client_id)
    claims: dict = {}
    for provider in current_app.extensions.get(_PROVIDERS, ()):
        claims.update(provider(subject))
    return claims
