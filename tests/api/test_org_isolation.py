"""Isolation of the organization API, route by route. Every /api/v1/orgs/<org>...
route of the app (found in the url_map, so a new route without its check fails
here) is called with every method:

(a) by an admin of another organization: 404, the very body of an organization
    that does not exist, and nothing changed in the database;
(b) by a user manager of the organization, on an org admin: refused (403, or 404),
    nothing changed;
(c) by a machine client without the orgs scopes, or a person's token without
    ciam:admin: 403 insufficient_scope, nothing changed.
"""

from __future__ import annotations

import json

import pytest

from tests.api.org_world import PORTAL, build, db_state, machine_headers, person_headers

ORG_PREFIX = "/api/v1/orgs/<org>"
# A valid body for each route that reads one, so a refusal is never the body's
# fault. A new route that takes a body must be added here (the test says so).
BODIES = {
    ("/api/v1/orgs/<org>", "PATCH"): {"mfa_required": True},
    ("/api/v1/orgs/<org>/licences/<client_id>", "PUT"): {"seats": 1},
    ("/api/v1/orgs/<org>/members", "POST"): {"email": "{outsider}", "roles": ["claims-handler"]},
    ("/api/v1/orgs/<org>/members/<user_id>", "PATCH"): {"status": "suspended"},
    ("/api/v1/orgs/<org>/members/<user_id>/roles", "POST"): {"key": "claims-handler"},
    ("/api/v1/orgs/<org>/members/<user_id>/unlock", "POST"): {"reason": "asked"},
    ("/api/v1/orgs/<org>/members/<user_id>/reset-mfa", "POST"): {"reason": "lost phone"},
    ("/api/v1/orgs/<org>/members/<user_id>/password-reset", "POST"): {},
    ("/api/v1/orgs/<org>/roles", "POST"): {
        "key": "acme-clerk",
        "name": "Clerk",
        "mappings": {PORTAL: ["reader"]},
    },
}
NO_BODY = {"GET", "DELETE"}


def org_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule == ORG_PREFIX or rule.rule.startswith(ORG_PREFIX + "/"):
            routes += [(rule.rule, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(routes)


def _url(rule: str, org: str, target, world) -> str:
    values = {"org": org, "user_id": str(target.user_id), "key": "claims-handler"}
    values["client_id"] = PORTAL
    url = rule
    for name, value in values.items():
        url = url.replace(f"<{name}>", value)
    assert "<" not in url, f"no test value for a parameter of {rule}"
    return url


def _body(rule: str, method: str, world):
    if method in NO_BODY:
        return None
    assert (rule, method) in BODIES, f"add a valid body for {method} {rule} to BODIES"
    body = dict(BODIES[(rule, method)])
    if body.get("email") == "{outsider}":
        body["email"] = world.outsider.email
    return body


def _call(client, method: str, url: str, headers: dict, body):
    return client.open(url, method=method, json=body, headers=headers)


@pytest.fixture
def world(make):
    return build()


def test_the_routes_are_all_found(app):
    """The enumeration is not vacuous: it finds the routes this issue added."""
    routes = org_routes(app)
    assert ("/api/v1/orgs/<org>/members/<user_id>", "DELETE") in routes
    assert ("/api/v1/orgs/<org>/licences/<client_id>", "PUT") in routes
    assert len(routes) >= 17


def test_an_admin_of_another_org_finds_nothing(app, client, world):
    """(a) globex's admin, on every acme route, gets the answer of a nonexistent
    organization, and nothing changes."""
    headers = person_headers(world.admin_portal, world.globex_admin.user_id)
    for rule, method in org_routes(app):
        body = _body(rule, method, world)
        before = db_state()
        url = _url(rule, "acme", world.acme_member, world)
        response = _call(client, method, url, headers, body)
        missing = _call(
            client, method, _url(rule, "no-such-org", world.acme_member, world), headers, body
        )
        assert response.status_code == 404, (method, rule, response.json)
        assert response.json == missing.json, (method, rule)
        assert db_state() == before, (method, rule)


def test_a_user_manager_cannot_touch_an_admin(app, client, world):
    """(b) acme's user manager, on every changing acme route, aimed at acme's admin
    (or needing an admin: adding members, creating roles, settings): refused, and
    nothing changes."""
    headers = person_headers(world.admin_portal, world.acme_manager.user_id)
    changing = [(r, m) for r, m in org_routes(app) if m != "GET"]
    assert changing
    for rule, method in changing:
        before = db_state()
        url = _url(rule, "acme", world.acme_admin, world)
        response = _call(client, method, url, headers, _body(rule, method, world))
        assert response.status_code in (403, 404), (method, rule, response.json)
        assert response.json["error"] in ("forbidden", "not_found"), (method, rule)
        assert db_state() == before, (method, rule)


@pytest.mark.parametrize(
    "who",
    ["machine without orgs scopes", "person without ciam:admin"],
)
def test_a_token_without_the_scope_is_refused(app, client, world, who):
    """(c) every acme route, reads included: 403 insufficient_scope."""
    if who.startswith("machine"):
        headers = machine_headers(client, scopes=("invitations:read", "invitations:write"))
    else:
        headers = person_headers(world.admin_portal, world.acme_admin.user_id, scope="openid")
    for rule, method in org_routes(app):
        before = db_state()
        url = _url(rule, "acme", world.acme_member, world)
        response = _call(client, method, url, headers, _body(rule, method, world))
        assert response.status_code == 403, (method, rule, response.json)
        assert response.json["error"] == "insufficient_scope", (method, rule)
        assert db_state() == before, (method, rule)


def test_routes_outside_an_org_refuse_without_the_right(client, world, make):
    """/roles wants some admin right, /users/<user> support staff or the operator;
    both want the scope. A plain member's or an org admin's token is refused."""
    member = person_headers(world.admin_portal, world.acme_member.user_id)
    admin = person_headers(world.admin_portal, world.acme_admin.user_id)
    machine = machine_headers(client, scopes=("invitations:read",))
    person = f"/api/v1/users/{world.acme_member.user_id}"
    assert client.get("/api/v1/roles", headers=member).status_code == 403
    assert client.get(person, headers=admin).status_code == 403
    assert client.get(person, headers=member).status_code == 403
    for url in ("/api/v1/roles", person, "/api/v1/orgs"):
        response = client.get(url, headers=machine)
        assert response.status_code == 403
        assert response.json["details"] == {"scope": "orgs:read"}


def test_a_read_only_machine_client_cannot_change(app, client, world):
    """orgs:read reads every organization but changes none: writes ask orgs:write."""
    headers = machine_headers(client, scopes=("orgs:read",))
    for rule, method in org_routes(app):
        url = _url(rule, "acme", world.acme_member, world)
        before = db_state()
        response = _call(client, method, url, headers, _body(rule, method, world))
        if method == "GET":
            assert response.status_code == 200, (rule, response.json)
            continue
        assert response.status_code == 403, (method, rule)
        assert response.json["details"] == {"scope": "orgs:write"}
        assert db_state() == before, (method, rule)


GARBAGE = [[], "text", None, 42, {"email": ["a"], "status": {"x": 1}, "seats": "many"}]


@pytest.mark.parametrize("body", GARBAGE, ids=repr)
def test_garbage_is_answered_in_json_never_500(app, client, world, body):
    """Every org route, as the operator, with a body of the wrong shape and odd path
    values: a 4xx JSON error, never a 500 (and never a change)."""
    headers = machine_headers(client)
    for rule, method in org_routes(app):
        if method in NO_BODY:
            continue
        before = db_state()
        url = _url(rule, "acme", world.acme_admin, world)
        raw = json.dumps(body)  # None is a JSON null here, not a missing body
        response = client.open(
            url, method=method, data=raw, content_type="application/json", headers=headers
        )
        assert 400 <= response.status_code < 500, (method, rule, response.status_code)
        assert set(response.json) == {"error", "message", "details"}, (method, rule)
        assert db_state() == before, (method, rule)


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "é%00"])
def test_odd_member_ids_are_404(app, client, world, user_id):
    headers = machine_headers(client)
    for rule, method in org_routes(app):
        if "<user_id>" not in rule:
            continue
        url = _url(rule, "acme", world.acme_admin, world).replace(
            str(world.acme_admin.user_id), user_id
        )
        response = _call(client, method, url, headers, _body(rule, method, world))
        assert response.status_code == 404, (method, rule, response.json)
        assert response.json["error"] == "not_found"
