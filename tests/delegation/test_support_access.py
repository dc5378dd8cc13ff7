"""Only support engineers reach the support console: every /ops route (found in the
URL map, so a new one cannot forget its check) answers 404 to anyone else signed in,
an org admin included, and sends an anonymous browser to the login page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for

from ciam.audit.tags import AuditTag
from ciam.extensions import db
from tests.delegation.support_support import cast, events, lock, sign_in, token

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def ops_routes(app) -> list[tuple[str, str]]:
    """(endpoint, method) of every route under /ops."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule == "/ops" or rule.rule.startswith("/ops/"):
            found += [(rule.endpoint, m) for m in sorted(rule.methods - IGNORED_METHODS)]
    return found


def ops_url(app, endpoint: str, the_cast) -> str:
    """The route's URL for a real person and organization (a 404 for lack of a row
    would prove nothing)."""
    samples = {"user_id": the_cast.member.id, "slug": the_cast.org.slug}
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    missing = set(rule.arguments) - set(samples)
    assert not missing, f"add a sample value for {missing} of {endpoint}"
    with app.test_request_context():
        return url_for(endpoint, **{name: samples[name] for name in rule.arguments})


def call(client, method: str, url: str, csrf_token: str):
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": csrf_token, "reason": "test"})


def test_the_console_has_its_routes(app):
    """The enumeration is not vacuous: search, person, organization and each action."""
    endpoints = {endpoint for endpoint, _ in ops_routes(app)}
    assert {"support.search", "support.person", "support.organization"} <= endpoints
    assert {"support.unlock", "support.reset_mfa", "support.send_reset"} <= endpoints
    assert {"support.suspend", "support.reactivate"} <= endpoints


@pytest.mark.parametrize("who", ["member", "admin"])
def test_every_ops_route_is_404_for_anyone_but_support(app, make, client, who):
    """A signed-in member, and the org's own admin, get the same 404 page as for a URL
    that does not exist, on every route and method; nothing changes."""
    the_cast = cast()
    sign_in(client, getattr(the_cast, who).email)
    lock(the_cast.member)  # after the sign-in: a lock leaves live sessions alone
    csrf_token = token(client, "/account/profile")
    not_there = client.get("/ops/no-such-page")
    assert not_there.status_code == 404
    for endpoint, method in ops_routes(app):
        response = call(client, method, ops_url(app, endpoint, the_cast), csrf_token)
        assert response.status_code == 404, (endpoint, method, response.status_code)
        assert response.get_data() == not_there.get_data(), endpoint
    db.session.refresh(the_cast.member)
    assert the_cast.member.is_locked  # the unlock was refused with the rest
    assert events(AuditTag.SUPPORT_ACCOUNT_ACTION) == events(AuditTag.ORG_MEMBER_ACTION) == []


def test_every_ops_route_sends_an_anonymous_browser_to_login(app, make, client):
    """No session: to /login, with the page to come back to for a GET (a form's URL
    takes only POST, so a POST comes back to the console's start)."""
    the_cast = cast()
    csrf_token = token(client, "/login")
    for endpoint, method in ops_routes(app):
        url = ops_url(app, endpoint, the_cast)
        response = call(client, method, url, csrf_token)
        assert response.status_code == 302, (endpoint, method, response.status_code)
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login", endpoint
        expected_next = url if method == "GET" else "/ops/"
        assert parse_qs(location.query)["next"] == [expected_next], endpoint


def test_a_support_engineer_opens_every_page(app, make, client):
    """The same routes answer a support engineer (so the 404s above are the check)."""
    the_cast = cast()
    sign_in(client, the_cast.engineer.email)
    for endpoint, method in ops_routes(app):
        if method == "GET":
            response = client.get(ops_url(app, endpoint, the_cast))
            assert response.status_code == 200, endpoint


def test_the_views_are_marked_as_checking_support(app):
    """tests/test_route_authentication.py reads the marker: it names this check."""
    for endpoint, _ in ops_routes(app):
        assert app.view_functions[endpoint].ciam_auth == "support"
