"""Which user claims each scope releases (OIDC Core §5.4)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import scope_to_list

from ciam.accounts.models import User

SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}
SCOPES_SUPPORTED = ["openid", "profile", "email", "phone", "offline_access"]
CLAIMS_SUPPORTED = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid"}
    | {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
)


def _claim_value(user: User, claim: str):
    if claim == "updated_at":
        return int(user.updated_at.timestamp()) if user.updated_at else None
    if claim == "phone_number_verified":
        return False if user.phone_number else None
    return getattr(user, claim, None)


def user_claims(user: User, scope: str) -> dict:
    claims = {"sub": str(user.id)}
    for name in scope_to_list(scope) or []:
        for claim in SCOPE_CLAIMS.get(name, ()):
            value = _claim_value(user, claim)
            if value is not None:
                claims[claim] = value
    return claims
