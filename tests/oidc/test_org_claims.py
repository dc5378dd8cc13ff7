"""The organization in the tokens, over real HTTP with Authlib as a strict portal: a
person in two organizations picks one (remembered, asked again with
prompt=select_account, or named by the request), and the ID token, the access
token, userinfo and introspection carry `org` and that portal's `roles`; a refresh
reads them again; a portal that requires an entitlement refuses the others with
a page and access_denied. Runs with the fast path on and off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from ciam.delegation import memberships
from ciam.delegation import services as orgs
from ciam.extensions import db
from ciam.roles import services as roles
from ciam.roles.app_roles import set_entitlement_required
from tests import factories
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp, redeem
from tests.oidc_flow import Browser, csrf_token, redirect_params

pytestmark = pytest.mark.usefixtures("fastpath_mode")
PORTAL = "claims-portal"
SCOPE = "openid email organization offline_access"


@dataclass
class Orgs:
    rp: object
    email: str
    acme_membership: object
    handler: object


@pytest.fixture
def two_orgs(live_server, ctx) -> Orgs:
    """A person in acme (claims handler: adjuster, reader) and globex (viewer:
    reader), both licensed for the claims portal."""
    portal, secret = factories.portal(client_id=PORTAL)
    roles.change_app_roles(PORTAL, ["adjuster", "reader"])
    handler = roles.create_role("claims-handler", "Claims handler")
    roles.map_role(handler, PORTAL, ["adjuster", "reader"])
    viewer = roles.create_role("viewer", "Viewer")
    roles.map_role(viewer, PORTAL, ["reader"])
    acme, globex = (
        factories.org(slug="acme", name="Acme"),
        factories.org(slug="globex", name="Globex"),
    )
    for org in (acme, globex):
        roles.set_licence(org, PORTAL, 5)
    person = factories.user()
    in_acme, in_globex = orgs.add_member(acme, person), orgs.add_member(globex, person)
    roles.assign_role(in_acme, handler)
    roles.assign_role(in_globex, viewer)
    db.session.commit()
    rp = portal_rp(live_server, portal, secret, scope=SCOPE)
    return Orgs(rp, person.email, in_acme, handler)


def _access_claims(live_server: str, access_token: str) -> dict:
    keys = requests.get(live_server + "/oauth/jwks", timeout=5).json()
    return jwt.decode(access_token, KeySet.import_key_set(keys)).claims


def _choose(browser: Browser, page: requests.Response, name: str) -> requests.Response:
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert "for which organization" in page.text
    value = re.search(rf'value="([^"]+)"[^>]*>\s*<label for="org-[^"]+">{name}<', page.text)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    return browser.post(
        action.replace("&amp;", "&"),
        data={"csrf_token": csrf_token(page.text), "organization_choice": value.group(1)},
    )


def _sign_in(w: Orgs, browser: Browser, choose: str | None = None, **params):
    url, state, verifier, nonce = w.rp.authorization_url(**params)
    response = browser.authorize(url, w.email, PASSWORD)
    if choose is not None:
        response = browser.follow(_choose(browser, response, choose))
    return redeem(w.rp, redirect_params(response), state, verifier, nonce)


def test_a_person_in_two_organizations_chooses_and_every_token_says_which(two_orgs, live_server):
    browser = Browser(live_server)
    token, id_claims = _sign_in(two_orgs, browser, choose="Globex")

    assert id_claims["org"]["slug"] == "globex" and id_claims["org"]["name"] == "Globex"
    assert id_claims["roles"] == ["reader"]
    access = _access_claims(live_server, token["access_token"])
    assert (access["org"]["slug"], access["roles"]) == ("globex", ["reader"])
    info = two_orgs.rp.userinfo(token["access_token"]).json()
    assert (info["org"]["slug"], info["roles"]) == ("globex", ["reader"])


def test_the_choice_is_remembered_and_asked_again_with_select_account(two_orgs, live_server):
    browser = Browser(live_server)
    _sign_in(two_orgs, browser, choose="Acme")

    _, again = _sign_in(two_orgs, browser)
    assert again["org"]["slug"] == "acme"
    assert again["roles"] == ["adjuster", "reader"]

    _, reselected = _sign_in(two_orgs, browser, choose="Globex", prompt="select_account")
    assert reselected["org"]["slug"] == "globex"


def test_the_request_may_name_the_organization(two_orgs, live_server):
    _, by_param = _sign_in(two_orgs, Browser(live_server), organization="acme")
    assert by_param["org"]["slug"] == "acme"
    _, by_scope = _sign_in(two_orgs, Browser(live_server), scope=SCOPE + " organization:globex")
    assert by_scope["org"]["slug"] == "globex"


def test_prompt_none_with_a_choice_due_is_account_selection_required(two_orgs, live_server):
    browser = Browser(live_server)
    browser.authorize(two_orgs.rp.authorization_url()[0], two_orgs.email, PASSWORD)
    url, state, *_ = two_orgs.rp.authorization_url(prompt="none")
    callback = redirect_params(browser.get(url))
    assert callback["error"] == "account_selection_required"
    assert callback["state"] == state


def test_a_refresh_reads_roles_again(two_orgs, live_server, ctx):
    """A role removed shows in the next refreshed tokens and in introspection; a
    membership suspended drops the organization from them."""
    token, _ = _sign_in(two_orgs, Browser(live_server), organization="acme")
    roles.remove_role(two_orgs.acme_membership, two_orgs.handler)
    db.session.commit()

    refreshed = two_orgs.rp.session.refresh_token(
        two_orgs.rp.metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    access = _access_claims(live_server, refreshed["access_token"])
    assert (access["org"]["slug"], access["roles"]) == ("acme", [])
    introspected = requests.post(
        two_orgs.rp.metadata["introspection_endpoint"],
        data={"token": refreshed["access_token"]},
        auth=(two_orgs.rp.client_id, two_orgs.rp.session.client_secret),
        timeout=5,
    ).json()
    assert (introspected["org"]["slug"], introspected["roles"]) == ("acme", [])

    memberships.suspend(db.session.merge(two_orgs.acme_membership))
    db.session.commit()
    later = two_orgs.rp.session.refresh_token(
        two_orgs.rp.metadata["token_endpoint"], refresh_token=refreshed["refresh_token"]
    )
    assert "org" not in _access_claims(live_server, later["access_token"])


def test_without_the_organization_scope_no_org_claims(two_orgs, live_server):
    """The certification plans' requests (no `organization`): nothing asked, nothing
    added, whatever the person's organizations."""
    two_orgs.rp.session.scope = "openid email"
    token, id_claims = _sign_in(two_orgs, Browser(live_server))
    assert "org" not in id_claims and "roles" not in id_claims
    assert "org" not in _access_claims(live_server, token["access_token"])


def test_a_portal_requiring_entitlement_refuses_an_unlicensed_organization(
    two_orgs, live_server, ctx
):
    """Only globex stays licensed: the person is sent in for globex silently; a
    person only in acme sees a page naming acme, and the portal gets access_denied."""
    set_entitlement_required(PORTAL, True)
    roles.set_licence(orgs.get_org("acme"), PORTAL, 0)
    only_acme = factories.user()
    orgs.add_member(orgs.get_org("acme"), only_acme)
    db.session.commit()

    _, claims = _sign_in(two_orgs, Browser(live_server))
    assert claims["org"]["slug"] == "globex"

    browser = Browser(live_server)
    url, state, *_ = two_orgs.rp.authorization_url()
    page = browser.authorize(url, only_acme.email, PASSWORD)
    assert page.status_code == 403
    assert "Acme has no access" in page.text
    back = re.search(r'<a href="([^"]+)">Back to', page.text).group(1).replace("&amp;", "&")
    callback = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert callback["error"] == "access_denied" and callback["state"] == state


def test_a_tampered_or_unsigned_organization_choice_is_refused(two_orgs, live_server, ctx):
    """The page's form is CSRF-checked and only the organizations shown can be
    picked: anything else goes back to the portal as invalid_request, and no choice
    is remembered."""
    from ciam.delegation.models import OrganizationChoice

    browser = Browser(live_server)
    url, state, *_ = two_orgs.rp.authorization_url()
    page = browser.authorize(url, two_orgs.email, PASSWORD)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    action = action.replace("&amp;", "&")
    stranger = factories.org(slug="initech")
    forged = browser.post(
        action, data={"csrf_token": csrf_token(page.text), "organization_choice": str(stranger.id)}
    )
    shown = re.search(r'name="organization_choice" value="([^"]+)"', page.text).group(1)
    unsigned = browser.post(action, data={"organization_choice": shown})  # no CSRF token
    for answer in (forged, unsigned):
        callback = redirect_params(answer)
        assert callback["error"] == "invalid_request" and callback["state"] == state
    db.session.expire_all()
    assert db.session.scalars(db.select(OrganizationChoice)).all() == []
