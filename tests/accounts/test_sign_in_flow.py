"""The sign-in flow is explicit: its state is one typed object in one key of the flow
cookie, and a step is one entry in LOGIN_STEPS or AUTHORIZATION_STEPS. These tests
add a step the way the organization choice will, and check the flow obeys it."""

from __future__ import annotations

from urllib.parse import parse_qs

from ciam.accounts.login import flow
from ciam.accounts.models import LoginSession
from ciam.extensions import db
from ciam.oidc import authorize
from tests.accounts.mfa_support import login
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp
from tests.oidc_flow import Browser, location


def _sessions(user_id) -> list[LoginSession]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(LoginSession).where(LoginSession.user_id == user_id)))


def _flow_state(client) -> flow.SignIn:
    with client.session_transaction() as cookie:
        raw = cookie.get(flow.SIGN_IN_KEY)
    assert isinstance(raw, dict), "the flow keeps its state in one key of the cookie"
    with client.application.test_request_context():
        from flask import session

        session[flow.SIGN_IN_KEY] = raw
        return flow.load()


def test_a_login_step_added_in_one_place_is_taken(client, make, ctx, monkeypatch):
    """A new step due for everyone: after the right password the browser goes to
    its page, and no login session opens until it is passed."""
    extra = flow.Step("terms", "accounts.home", due=lambda attempt: True)
    monkeypatch.setattr(flow, "LOGIN_STEPS", (*flow.LOGIN_STEPS, extra))
    user = make.user()

    response = login(client, user.email)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert _sessions(user.id) == []
    state = _flow_state(client)
    assert state.pending is not None
    assert (state.pending.step, state.pending.user_id) == ("terms", str(user.id))
    assert state.pending.amr == ["pwd"]


def test_a_login_step_not_due_changes_nothing(client, make, ctx, monkeypatch):
    seen = []

    def never(attempt: flow.Attempt) -> bool:
        seen.append((attempt.user.id, attempt.facts.has_factor, list(attempt.amr)))
        return False

    extra = flow.Step("terms", "accounts.home", due=never)
    monkeypatch.setattr(flow, "LOGIN_STEPS", (*flow.LOGIN_STEPS, extra))
    user = make.user()

    response = login(client, user.email)

    assert response.headers["Location"] == "/account"
    assert [s.amr for s in _sessions(user.id)] == [["pwd"]]
    assert seen == [(user.id, False, ["pwd"])]


def test_state_from_an_older_cookie_is_dropped(app):
    """A cookie of another shape (an older release) starts the sign-in over rather
    than failing."""
    with app.test_request_context():
        from flask import session

        session[flow.SIGN_IN_KEY] = {"login_for": "abc", "unknown": 1}
        assert flow.load() == flow.SignIn()
        session[flow.SIGN_IN_KEY] = "not a dict"
        assert flow.load() == flow.SignIn()


def test_an_authorization_step_added_in_one_place_is_taken(live_server, make, monkeypatch):
    """A step between the second factor and consent (where the organization choice
    goes): its page is shown instead of the code, and the login POST leaves it to
    the browser's own GET."""
    shown = []

    def choose_organization(a: authorize.Authorization):
        shown.append(a.user.id)
        return authorize.current_app.make_response(("Choose an organization", 200))

    steps = list(authorize.AUTHORIZATION_STEPS)
    steps.insert(steps.index(authorize.consent_step), choose_organization)
    monkeypatch.setattr(authorize, "AUTHORIZATION_STEPS", tuple(steps))
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    browser = Browser(live_server)

    url, *_ = rp.authorization_url()
    login_page = location(browser.get(url))
    assert login_page.path == "/login"
    next_url = parse_qs(login_page.query)["next"][0]
    signed_in = browser.login(user.email, PASSWORD, next_url)

    assert location(signed_in).path == "/oauth/authorize"  # a page, not the portal
    page = browser.get(signed_in.headers["Location"])
    assert page.status_code == 200
    assert "Choose an organization" in page.text
    assert len(shown) == 2  # once within the login POST, once for the browser's GET
