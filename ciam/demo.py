"""Demo data: two organizations, a few users, two portals, business roles mapped to
the claims portal's app roles, licences. Safe to run twice."""

from __future__ import annotations

from flask import current_app

from ciam.accounts import services as accounts
from ciam.accounts.models import User
from ciam.delegation import memberships
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, Organization
from ciam.extensions import db
from ciam.oidc import keys, portals
from ciam.oidc.models import Portal
from ciam.roles import app_roles, assignments, catalogue, licences

DEMO_PASSWORD = "umbrella quartz ferry demo"  # noqa: S105 - printed demo credential
WEB_CLIENT_ID = "demo-claims-portal"
SPA_CLIENT_ID = "demo-policy-spa"
USERS = [
    ("alice@acme-insurance.example", "Alice", "Archer", "acme", AdminRight.org_admin),
    ("bob@acme-insurance.example", "Bob", "Baker", "acme", AdminRight.none),
    ("carol@brightside-brokers.example", "Carol", "Chen", "brightside", AdminRight.org_admin),
]


def _ensure_orgs() -> None:
    if db.session.scalar(db.select(Organization).where(Organization.slug == "acme")):
        return
    orgs.create_org(
        "acme",
        "Acme Insurance",
        email_domains=["acme-insurance.example"],
        crm_account_id="001DEMOACME",
    )
    orgs.create_org(
        "brightside",
        "Brightside Brokers",
        email_domains=["brightside-brokers.example"],
        crm_account_id="001DEMOBRIGHT",
    )


DEMO_ADDRESS = {
    "street_address": "100 Main Street",
    "locality": "Hartford",
    "region": "CT",
    "postal_code": "06103",
    "country": "US",
}


def _ensure_users() -> None:
    for email, given, family, slug, right in USERS:
        if accounts.find_by_email(email):
            continue
        user = accounts.create_user(
            email, DEMO_PASSWORD, given_name=given, family_name=family, email_verified=True
        )
        # Something for the `address` scope to release (the certification's
        # oidcc-scope-address and oidcc-scope-all modules expect a value).
        user.address = DEMO_ADDRESS
        orgs.add_member(orgs.get_org(slug), user, right)


def _ensure_roles() -> None:
    """The claims portal's app roles, two business roles mapped to them, licences,
    and roles given: what `org` and `roles` show with the `organization` scope.
    Carol belongs to both organizations, so she picks one at sign-in."""
    if app_roles.app_roles_of(WEB_CLIENT_ID):
        return
    app_roles.change_app_roles(WEB_CLIENT_ID, ["adjuster", "reader"])
    handler = catalogue.create_role("claims-handler", "Claims handler")
    catalogue.map_role(handler, WEB_CLIENT_ID, ["adjuster", "reader"])
    viewer = catalogue.create_role("viewer", "Viewer")
    catalogue.map_role(viewer, WEB_CLIENT_ID, ["reader"])
    acme, brightside = orgs.get_org("acme"), orgs.get_org("brightside")
    licences.set_licence(acme, WEB_CLIENT_ID, 10)
    licences.set_licence(brightside, WEB_CLIENT_ID, 5)
    orgs.add_member(acme, _user("carol@brightside-brokers.example"))
    for email, slug, role in (
        ("alice@acme-insurance.example", "acme", viewer),
        ("bob@acme-insurance.example", "acme", handler),
        ("carol@brightside-brokers.example", "brightside", handler),
        ("carol@brightside-brokers.example", "acme", viewer),
    ):
        membership = memberships.find_membership(orgs.get_org(slug), _user(email))
        assignments.assign_role(membership, role)


def _user(email: str) -> User:
    user = accounts.find_by_email(email)
    if user is None:
        raise LookupError(f"demo user {email} is missing")
    return user


def _ensure_portal(client_id: str, **kwargs) -> str | None:
    if db.session.scalar(db.select(Portal).where(Portal.client_id == client_id)):
        return None
    _, secret = portals.create_portal(client_id=client_id, **kwargs)
    return secret


def load_demo() -> str:
    issuer = current_app.config["CIAM_ISSUER"]
    keys.ensure_keys()
    _ensure_orgs()
    _ensure_users()
    web_secret = _ensure_portal(
        WEB_CLIENT_ID,
        name="Claims portal (demo web app)",
        redirect_uris=["http://127.0.0.1:8001/callback"],
        post_logout_redirect_uris=["http://127.0.0.1:8001/"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        first_party=True,
        owner="Claims team",
    )
    _ensure_portal(
        SPA_CLIENT_ID,
        name="Policyholder app (demo SPA)",
        redirect_uris=["http://127.0.0.1:8002/callback"],
        post_logout_redirect_uris=["http://127.0.0.1:8002/"],
        public=True,
        owner="Digital team",
    )
    _ensure_roles()
    secret_line = (
        f"client secret: {web_secret}   (shown once; `ciam portals` cannot show it again)"
        if web_secret
        else "client secret: (set on first `make demo`; re-create the database to see a new one)"
    )
    return "\n".join(
        [
            "",
            "ciam demo is ready",
            f"  issuer / discovery: {issuer}/.well-known/openid-configuration",
            f"  sign in:            {issuer}/login",
            f"  users (password '{DEMO_PASSWORD}'):",
            *[f"    {email}" for email, *_ in USERS],
            f"  confidential web portal: client id {WEB_CLIENT_ID}",
            f"    {secret_line}",
            "    redirect URI http://127.0.0.1:8001/callback",
            f"  public SPA portal (PKCE S256): client id {SPA_CLIENT_ID}",
            "    redirect URI http://127.0.0.1:8002/callback",
            f"  try it: {issuer}/oauth/authorize?response_type=code&client_id={WEB_CLIENT_ID}"
            "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8001%2Fcallback&scope=openid%20profile%20email"
            "&state=demo&nonce=demo",
            "  organizations and roles: add `organization` to the scope; the tokens then",
            "    carry `org` and `roles` (bob: claims handler at acme; carol is in two",
            "    organizations and picks one)",
            "",
        ]
    )
