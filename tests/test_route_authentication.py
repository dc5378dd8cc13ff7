"""DESIGN §5.8, checked on the real view callables of the whole app: every route is
wrapped by a check that authenticates its caller (the decorators mark the view they
wrap: require_scope, login_required, recent_auth_required, pending_login_required),
or is listed below with how it authenticates or why it needs nothing. A new route
that forgets its check fails here, whatever its module says about itself."""

from __future__ import annotations

from flask import Flask

from ciam.accounts.login.recent import login_required
from ciam.api.auth import require_scope

# endpoint -> how it authenticates its caller itself, or why it needs nothing
UNDECORATED = {
    # public documents, no personal data
    "static": "CSS and images",
    "discovery.openid_configuration": "OIDC Discovery 1.0 §4: public metadata",
    "discovery.jwks": "RFC 7517: public keys",
    "api-docs.openapi_json": "the OpenAPI document describes the API and holds no data",
    "api_docs.reference": "the reference page renders the OpenAPI document, no data",
    # operations: probes public by design, saying only which check failed (ciam.ops)
    "ops.healthz": "liveness probe: answers only that the process is alive",
    "ops.readyz": "readiness probe: names failed checks generically, no details",
    "ops.metrics": "checks its own bearer token, CIAM_METRICS_TOKEN (404 when unset)",
    # the ways in: anyone may try, and they are rate-limited
    "accounts.home": "redirects to /account, which needs a login",
    "accounts.login": "the login page",
    "accounts.login_submit": "checks the password (ciam.accounts.services.authenticate)",
    "accounts.logout": "ends this browser's own session, behind a CSRF-checked form",
    "profile.reset_request": "always answers alike; the link goes to the address only",
    # a signed, single-use link is the credential (ciam.tokens)
    "profile.reset_password": "the signed reset link",
    "profile.verify_email": "the signed verification link",
    "invitations.accept": "the signed invitation link",
    # OAuth 2.0 / OIDC: Authlib authenticates the portal or the bearer token
    "oauth.authorize": "the browser's login session, checked by the sign-in steps",
    "oauth.token": "client authentication (RFC 6749 §2.3) in Authlib's grants",
    "oauth.introspect": "client authentication (RFC 7662 §2.1)",
    "oauth.revoke": "client authentication (RFC 7009 §2.1)",
    "oauth.userinfo": "the bearer access token (RFC 6750), ciam.oidc.userinfo",
    "oauth.logout": "RP-initiated logout: id_token_hint and a CSRF-checked form",
}


def _auth_of(view) -> str | None:
    """The marker of the auth decorator wrapping `view`, however deep (functools.wraps)."""
    while view is not None:
        marker = getattr(view, "ciam_auth", None)
        if marker:
            return marker
        view = getattr(view, "__wrapped__", None)
    return None


def unchecked_endpoints(app: Flask) -> list[str]:
    """Routes with no authentication check and no entry in UNDECORATED; API routes
    must check a bearer token's scope."""
    unchecked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDECORATED:
            continue
        marker = _auth_of(app.view_functions[rule.endpoint])
        is_api = rule.rule.startswith("/api/v1/")
        if marker is None or (is_api and not marker.startswith("scope:")):
            unchecked.append(rule.endpoint)
    return sorted(unchecked)


def test_every_route_checks_its_caller(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert len(endpoints) >= 40
    assert unchecked_endpoints(app) == []
    # The list names routes that exist: a removed route is removed here too.
    assert set(UNDECORATED) <= endpoints


def test_a_route_without_a_check_is_caught():
    """The check is not vacuous: a page or API route added without its decorator is
    reported; one with it is not; a page check does not pass for the API."""
    probe = Flask("probe")

    @probe.route("/open")
    def open_page():
        return "anyone"

    @probe.route("/account/closed")
    @login_required
    def closed_page():
        return "signed in"

    @probe.route("/api/v1/open")
    @login_required
    def api_with_a_page_check():
        return "cookies"

    @probe.route("/api/v1/closed")
    @require_scope("invitations:read")
    def api_closed():
        return "token holders"

    assert unchecked_endpoints(probe) == ["api_with_a_page_check", "open_page"]
