"""Which user claims each scope releases (OIDC Core §5.4)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from authlib.oauth2.rfc6749 import scope_to_list

from ciam.accounts.models import GOOD_STANDING, User, UserStatus
from ciam.extensions import db

SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
# `organization` asks for the `org` and `roles` claims (ciam.oidc.token_claims).
SCOPES_SUPPORTED = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
    "organization",
]
# The parts of the `address` claim a person can give (OIDC Core §5.1.1).
ADDRESS_PARTS = ("street_address", "locality", "region", "postal_code", "country")
CLAIMS_SUPPORTED = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid"}
    | {"org", "roles"}
    | {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
)


@dataclass(frozen=True)
class ClaimUser:
    """The columns of a user that tokens and claims need, read with one Core
    query: the token endpoints and userinfo never load a User through the ORM."""

    id: uuid.UUID
    status: UserStatus
    email: str
    email_verified: bool
    given_name: str | None
    family_name: str | None
    phone_number: str | None
    locale: str | None
    updated_at: datetime | None
    address: dict | None

    name = User.name  # the same rule as the model's

    @property
    def can_log_in(self) -> bool:
        return self.status in GOOD_STANDING


CLAIM_USER_COLUMNS = tuple(User.__table__.c[name] for name in ClaimUser.__dataclass_fields__)
# The same without `id`, for a row whose `id` is another table's (a code's) and
# which names its owner `user_id`.
OWNER_CLAIM_COLUMNS = tuple(column for column in CLAIM_USER_COLUMNS if column.name != "id")


CLAIM_FIELDS = tuple(ClaimUser.__dataclass_fields__)
_OWNER_FIELDS = tuple(column.name for column in OWNER_CLAIM_COLUMNS)


def claim_user(row) -> ClaimUser:
    """A ClaimUser from a row holding CLAIM_USER_COLUMNS under their own names
    (a SQLAlchemy row, or a psycopg one from ciam.hotsql whose status is a str)."""
    values = {name: getattr(row, name) for name in CLAIM_FIELDS}
    values["status"] = UserStatus(values["status"])
    return ClaimUser(**values)


def owner_claim_user(row) -> ClaimUser:
    """A ClaimUser from a row holding OWNER_CLAIM_COLUMNS and the owner's `user_id`."""
    values = {name: getattr(row, name) for name in _OWNER_FIELDS}
    values["status"] = UserStatus(values["status"])
    return ClaimUser(id=row.user_id, **values)


def active_claim_user(user_id) -> ClaimUser | None:
    """The user if they exist and are in good standing, else None."""
    if not user_id:
        return None
    # Core on the request's connection (and transaction): no ORM execution layer.
    query = db.select(*CLAIM_USER_COLUMNS).where(User.__table__.c.id == user_id)
    row = db.session.connection().execute(query).first()
    user = claim_user(row) if row is not None else None
    return user if user is not None and user.can_log_in else None


def _claim_value(user: User | ClaimUser, claim: str):
    if claim == "updated_at":
        return int(user.updated_at.timestamp()) if user.updated_at else None
    if claim == "phone_number_verified":
        return False if user.phone_number else None
    if claim == "address":
        return address_claim(user.address)
    return getattr(user, claim, None)


def address_claim(parts: dict | None) -> dict | None:
    """The `address` claim (OIDC Core §5.1.1): the parts given, and `formatted`, the
    full address with its lines separated by newlines, as the spec suggests."""
    given = {key: parts[key] for key in ADDRESS_PARTS if parts and parts.get(key)}
    if not given:
        return None
    town = " ".join(given[key] for key in ("postal_code", "locality", "region") if key in given)
    lines = [given.get("street_address"), town, given.get("country")]
    return {**given, "formatted": "\n".join(line for line in lines if line)}


def user_claims(user: User | ClaimUser, scope: str) -> dict:
    claims = {"sub": str(user.id)}
    for name in scope_to_list(scope) or []:
        for claim in SCOPE_CLAIMS.get(name, ()):
            value = _claim_value(user, claim)
            if value is not None:
                claims[claim] = value
    return claims
