"""/api/v1/orgs, its licences and audit trail, the role catalogue and /users/<user>:
what the operator (a machine client), org admins and support staff see and do, and
how bad input is answered (400/422 JSON, never 500)."""

from __future__ import annotations

import pytest
import requests

from ciam.accounts.models import User
from ciam.audit.tags import AuditTag
from ciam.delegation.models import Organization
from ciam.extensions import db
from ciam.roles import catalogue
from ciam.roles.licences import licence_for
from tests import factories
from tests.api.org_world import PORTAL, build, machine_headers, person_headers
from tests.api.support import audit, bearer
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp


@pytest.fixture
def world(make):
    return build()


@pytest.fixture
def operator(client, world):
    return machine_headers(client)


def _slugs(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["slug"] for item in response.json["items"]]


def test_operator_pages_through_every_org(client, world, operator, make):
    """Newest first, with a cursor: every organization once, then null."""
    make.org(slug="initech")
    first = client.get("/api/v1/orgs?limit=2", headers=operator)
    assert _slugs(first) == ["initech", "globex"]
    cursor = first.json["next_cursor"]
    second = client.get(f"/api/v1/orgs?limit=2&cursor={cursor}", headers=operator)
    assert _slugs(second) == ["acme"]
    assert second.json["next_cursor"] is None


def test_a_person_lists_the_orgs_they_administer(client, world):
    """An admin sees theirs, a plain member none, support staff every one."""
    admin = person_headers(world.admin_portal, world.acme_admin.user_id)
    member = person_headers(world.admin_portal, world.globex_member.user_id)
    support = person_headers(world.admin_portal, world.support.id)
    assert _slugs(client.get("/api/v1/orgs", headers=admin)) == ["acme"]
    assert _slugs(client.get("/api/v1/orgs", headers=member)) == []
    assert sorted(_slugs(client.get("/api/v1/orgs", headers=support))) == ["acme", "globex"]


def test_get_org_shows_status_policy_and_branding(client, world):
    headers = person_headers(world.admin_portal, world.acme_manager.user_id)
    response = client.get("/api/v1/orgs/acme", headers=headers)
    assert response.status_code == 200
    body = response.json
    assert (body["slug"], body["status"]) == ("acme", "active")
    assert body["policy"] == {
        "mfa_required": False,
        "session_idle_minutes": None,
        "allowed_portals": [],
    }
    assert set(body["branding"]) == {
        "display_name",
        "logo_url",
        "primary_colour",
        "email_sender_name",
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_operator_changes_settings(client, world, operator):
    """PATCH changes what it names, is audited, and an empty string clears."""
    body = {"mfa_required": True, "primary_colour": "#0a5fb4", "session_idle_minutes": 30}
    response = client.patch("/api/v1/orgs/acme", json=body, headers=operator)
    assert response.status_code == 200, response.json
    assert response.json["policy"]["mfa_required"] is True
    assert response.json["branding"]["primary_colour"] == "#0a5fb4"
    cleared = client.patch("/api/v1/orgs/acme", json={"primary_colour": ""}, headers=operator)
    assert cleared.json["branding"]["primary_colour"] is None
    db.session.expire_all()
    org = db.session.scalar(db.select(Organization).where(Organization.slug == "acme"))
    assert (org.mfa_required, org.session_idle_minutes) == (True, 30)
    assert len(audit(AuditTag.ORG_SETTINGS_UPDATED)) == 2


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 422, "validation_error"),
        ({"mfa_required": "yes"}, 422, "validation_error"),
        ({"colour": "#fff"}, 422, "validation_error"),
        ({"session_idle_minutes": 0}, 422, "validation_error"),
        ({"primary_colour": "blue"}, 400, "invalid_setting"),
        ({"logo_url": "http://logo.example.test/x.png"}, 400, "invalid_setting"),
        ({"allowed_portals": ["no-such-portal"]}, 400, "invalid_setting"),
        ({"email_sender_name": "Evil\r\nBcc: x"}, 400, "invalid_setting"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(client, world, operator, body, status, error):
    response = client.patch("/api/v1/orgs/acme", json=body, headers=operator)
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    assert response.json["message"] and "details" in response.json
    assert audit(AuditTag.ORG_SETTINGS_UPDATED) == []


def test_a_malformed_body_is_400_json(client, world, operator):
    response = client.patch(
        "/api/v1/orgs/acme", data="{not json", content_type="application/json", headers=operator
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_json"


def test_settings_and_licences_are_the_operators(client, world):
    """An org admin reads them but changes neither (403), support staff neither."""
    for user_id in (world.acme_admin.user_id, world.support.id):
        headers = person_headers(world.admin_portal, user_id)
        patch = client.patch("/api/v1/orgs/acme", json={"mfa_required": True}, headers=headers)
        assert patch.status_code == 403
        assert patch.json["error"] == "forbidden"
        put = client.put(
            f"/api/v1/orgs/acme/licences/{PORTAL}", json={"seats": 99}, headers=headers
        )
        assert put.status_code == 403
        assert client.get("/api/v1/orgs/acme/licences", headers=headers).status_code == 200
    assert licence_for(world.acme, PORTAL).seats == 5


def test_licences_show_seats_in_use(client, world, operator):
    response = client.get("/api/v1/orgs/acme/licences", headers=operator)
    assert response.status_code == 200
    assert response.json["items"] == [
        {"client_id": PORTAL, "seats": 5, "in_use": 1, "over_allocated": 0}
    ]


def test_operator_sets_a_licence(client, world, operator):
    """Fewer seats than in use is allowed and reported; null is unlimited."""
    url = f"/api/v1/orgs/acme/licences/{PORTAL}"
    response = client.put(url, json={"seats": 0}, headers=operator)
    assert response.status_code == 200, response.json
    assert (response.json["seats"], response.json["over_allocated"]) == (0, 1)
    unlimited = client.put(url, json={"seats": None}, headers=operator)
    assert unlimited.json["seats"] is None
    db.session.expire_all()
    assert licence_for(world.acme, PORTAL).seats is None


@pytest.mark.parametrize(
    ("client_id", "body", "status"),
    [
        (PORTAL, {"seats": -1}, 422),
        (PORTAL, {"seats": "5"}, 422),
        (PORTAL, {}, 422),
        ("no-such-portal", {"seats": 3}, 404),
    ],
)
def test_bad_licences_are_refused(client, world, operator, client_id, body, status):
    response = client.put(f"/api/v1/orgs/acme/licences/{client_id}", json=body, headers=operator)
    assert response.status_code == status, response.json
    assert licence_for(world.acme, PORTAL).seats == 5


def test_audit_trail_is_the_orgs_own(client, world, operator):
    """Acme's trail has acme's events only, filters by tag prefix, and pages."""
    client.patch("/api/v1/orgs/globex", json={"mfa_required": True}, headers=operator)
    client.patch("/api/v1/orgs/acme", json={"mfa_required": True}, headers=operator)
    headers = person_headers(world.admin_portal, world.acme_admin.user_id)
    response = client.get("/api/v1/orgs/acme/audit?action=org:settings", headers=headers)
    assert response.status_code == 200
    [event] = response.json["items"]
    assert (event["tag"], event["target"]) == ("org:settings:updated", "acme")
    everything, seen, cursor = [], set(), ""
    while cursor is not None:
        page = client.get(f"/api/v1/orgs/acme/audit?limit=2&cursor={cursor}", headers=headers)
        assert page.status_code == 200
        everything += page.json["items"]
        cursor = page.json["next_cursor"]
    seen = {event["id"] for event in everything}
    assert len(seen) == len(everything) > 2
    assert all(event["target"] != "globex" for event in everything)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "cursor=garbage", "since=yesterday", "actor_id=x"]
)
def test_bad_queries_are_4xx_json(client, world, operator, query):
    response = client.get(f"/api/v1/orgs/acme/audit?{query}", headers=operator)
    assert response.status_code in (400, 422), response.json
    assert response.json["error"] in ("invalid_cursor", "validation_error")


def test_org_roles_list_and_create(client, world):
    """An org admin sees the global roles and the org's own with what each gives
    here, and creates one mapped to a portal the org is licensed for."""
    headers = person_headers(world.admin_portal, world.acme_admin.user_id)
    body = {"key": "acme-clerk", "name": "Clerk", "mappings": {PORTAL: ["reader"]}}
    created = client.post("/api/v1/orgs/acme/roles", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json == {
        "key": "acme-clerk",
        "name": "Clerk",
        "org": "acme",
        "mappings": {PORTAL: ["reader"]},
        "gives": {PORTAL: ["reader"]},
    }
    listed = client.get("/api/v1/orgs/acme/roles", headers=headers).json["items"]
    assert [(r["key"], r["org"]) for r in listed] == [
        ("acme-clerk", "acme"),
        ("claims-handler", None),
    ]
    theirs = person_headers(world.admin_portal, world.globex_admin.user_id)
    globex = client.get("/api/v1/orgs/globex/roles", headers=theirs).json["items"]
    assert [r["key"] for r in globex] == ["claims-handler"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"key": "claims-handler", "name": "Again"}, 409, "role_exists"),
        ({"key": "Bad Key!", "name": "Bad"}, 400, "invalid_key"),
        (
            {"key": "clerk", "name": "Clerk", "mappings": {PORTAL: ["nope"]}},
            400,
            "unknown_app_role",
        ),
        ({"key": "clerk"}, 422, "validation_error"),
        (
            {"key": "clerk", "name": "Clerk", "mappings": {PORTAL: "reader"}},
            422,
            "validation_error",
        ),
    ],
)
def test_bad_org_roles_are_refused(client, world, operator, body, status, error):
    response = client.post("/api/v1/orgs/acme/roles", json=body, headers=operator)
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    db.session.expire_all()
    # Nothing half-made: a role whose mapping was refused is not left behind.
    assert [role.key for role in catalogue.list_roles(world.acme)] == ["claims-handler"]


def test_a_user_manager_creates_no_role(client, world):
    headers = person_headers(world.admin_portal, world.acme_manager.user_id)
    body = {"key": "acme-clerk", "name": "Clerk"}
    response = client.post("/api/v1/orgs/acme/roles", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json["error"] == "forbidden"


def test_global_catalogue(client, world, operator):
    admin = person_headers(world.admin_portal, world.acme_manager.user_id)
    for headers in (operator, admin):
        response = client.get("/api/v1/roles", headers=headers)
        assert response.status_code == 200
        [role] = response.json["items"]
        assert (role["key"], role["org"]) == ("claims-handler", None)
        assert role["mappings"] == {PORTAL: ["adjuster", "reader"]}


def test_support_looks_up_a_person(client, world, operator):
    """Memberships across organizations, lock and MFA state, for support staff and
    the operator; an unknown or malformed id is 404."""
    support = person_headers(world.admin_portal, world.support.id)
    url = f"/api/v1/users/{world.acme_member.user_id}"
    for headers in (support, operator):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.json
        body = response.json
        assert [(m["org"], m["roles"]) for m in body["memberships"]] == [
            ("acme", ["claims-handler"])
        ]
        assert body["mfa"] == {"enrolled": False, "factors": [], "recovery_codes_left": 0}
        assert body["locked"] is False
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = client.get(f"/api/v1/users/{missing}", headers=support)
        assert response.status_code == 404


def test_third_party_portal_tokens_never_administer(client, world, make):
    """Even if a third-party portal was allowed ciam:admin, its tokens are refused."""
    portal, _ = make.portal(scopes=["openid", "ciam:admin"], first_party=False)
    headers = person_headers(portal, world.acme_admin.user_id)
    response = client.get("/api/v1/orgs/acme", headers=headers)
    assert response.status_code == 403
    assert response.json["error"] == "insufficient_scope"


def test_person_token_by_the_code_flow(live_server, world):
    """The real authorization code flow at a first-party portal allowed ciam:admin
    grants it (ciam.oidc keeps the allowed scopes asked for), and the token acts as
    the person: acme's admin sees acme."""
    user = db.session.get(User, world.acme_admin.user_id)
    portal, secret = factories.portal(scopes=["openid", "ciam:admin"])
    token, _, _ = portal_rp(live_server, portal, secret, scope="openid ciam:admin").login(
        user.email, PASSWORD
    )
    assert "ciam:admin" in token["scope"].split()
    headers = bearer(token["access_token"])
    response = requests.get(live_server + "/api/v1/orgs", headers=headers, timeout=10)
    assert response.status_code == 200
    assert [org["slug"] for org in response.json()["items"]] == ["acme"]
    foreign = requests.get(live_server + "/api/v1/orgs/globex", headers=headers, timeout=10)
    assert foreign.status_code == 404
