"""DESIGN §5.8, checked on the real view callables: every /api/v1 endpoint in the
app's url_map is wrapped by `require_scope` (which marks the view it wraps), or is
listed below as public with a reason. A new API route that forgets its check fails
here, whatever its blueprint says about itself."""

from __future__ import annotations

from flask import Flask

from ciam.api.auth import require_scope

# endpoint -> why it needs no token
PUBLIC = {
    "api-docs.openapi_json": "the OpenAPI document describes the API and holds no data",
    "api-docs.static": "flask-smorest's static files of the document",
    "api_docs.reference": "the reference page renders the OpenAPI document, no data",
}


def _auth_of(view) -> str | None:
    """The marker of the auth decorator wrapping `view`, however deep (functools.wraps)."""
    while view is not None:
        marker = getattr(view, "ciam_auth", None)
        if marker:
            return marker
        view = getattr(view, "__wrapped__", None)
    return None


def unauthenticated_api_endpoints(app: Flask) -> list[str]:
    return sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        and rule.endpoint not in PUBLIC
        and _auth_of(app.view_functions[rule.endpoint]) is None
    )


def test_every_api_route_checks_a_bearer_token(app):
    """Every API endpoint of the real app is wrapped by require_scope."""
    endpoints = [r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")]
    assert len(endpoints) >= 7
    assert unauthenticated_api_endpoints(app) == []


def test_a_route_without_a_check_is_caught():
    """The check is not vacuous: an API route added without require_scope is reported,
    one with it is not."""
    probe = Flask("probe")

    @probe.route("/api/v1/open")
    def open_route():
        return "anyone"

    @probe.route("/api/v1/closed")
    @require_scope("invitations:read")
    def closed_route():
        return "token holders"

    assert unauthenticated_api_endpoints(probe) == ["open_route"]
