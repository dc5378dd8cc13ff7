"""The authorization endpoint (OIDC Core §3.1.2): sign-in, second factor, consent,
then a code.

`answer` answers one authorization request: the browser's own (the view), or the one
a sign-in was for, at the end of that sign-in (registered with the sign-in flow, so
the login POST goes straight on to the portal). After Authlib has validated the
portal, redirect URI and parameters, AUTHORIZATION_STEPS run in order; each either
passes, shows the person a page (or, with prompt=none, refuses with its error), or
refuses the request. When all pass, the code goes to the portal.

Decisions follow the OpenID certification's reading of the spec: `prompt=login` and
`max_age` force a fresh login (new `auth_time`), `prompt=none` never shows a page,
`request`/`request_uri` are refused with their own error codes, and every error goes
back to the portal only once its redirect URI has been validated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidRequestError,
    UnsupportedResponseTypeError,
)
from authlib.oidc.core.errors import (
    AccountSelectionRequiredError,
    ConsentRequiredError,
    LoginRequiredError,
)
from flask import Flask, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Request, Response
from wtforms import ValidationError

from ciam.accounts.login import assurance, flow
from ciam.accounts.mfa.factors import has_factor
from ciam.accounts.models import LoginSession, User
from ciam.accounts.sessions.services import current_session, current_user
from ciam.audit.actor import actor_context
from ciam.db import utcnow
from ciam.delegation import org_choice
from ciam.delegation.models import Organization
from ciam.oidc import consent
from ciam.oidc.authorization_request import (
    AuthorizationRequest,
    UnmetAuthenticationRequirementsError,
    error_response,
    with_iss,
)
from ciam.oidc.claims import SCOPE_CLAIMS
from ciam.oidc.server import get_server


@dataclass
class Authorization:
    """One authorization request being answered, for whoever is signed in."""

    request: AuthorizationRequest
    grant: Any  # Authlib's authorization code grant for it, validated
    login_session: LoginSession | None
    user: User | None
    consented: bool = False  # the person has just allowed it on the consent page
    org: Organization | None = None  # the organization the sign-in is for

    @property
    def redirect_uri(self) -> str:
        return self.grant.redirect_uri

    @property
    def person(self) -> User:
        """Who is signed in: every step after sign_in_step has one."""
        if self.user is None:
            raise RuntimeError("no one is signed in yet")
        return self.user

    @property
    def session(self) -> LoginSession:
        if self.login_session is None:
            raise RuntimeError("no login session yet")
        return self.login_session


# --- the steps ----------------------------------------------------------------------


def _needs_password(a: Authorization) -> bool:
    if a.login_session is None:
        return True
    if flow.signed_in_for(a.request.fingerprint):
        # The person has just signed in for this very request: that login satisfies
        # prompt=login and any max_age, including max_age=0, which OIDC Core §3.1.2.1
        # makes equivalent to prompt=login (otherwise it would loop forever), and
        # stays valid while the consent page is answered. An id_token_hint naming
        # someone else is settled too: the person was "logged in by the request".
        return False
    if "login" in a.request.prompts:
        return True
    max_age = a.request.max_age()
    if max_age is not None and utcnow() - a.login_session.auth_time > timedelta(seconds=max_age):
        return True
    return not a.request.hint_matches(a.user)


def sign_in_step(a: Authorization) -> Response | None:
    """No session, prompt=login, max_age, or another person's id_token_hint: the
    login page, which comes back here when done."""
    if not _needs_password(a):
        return None
    if a.request.unattended:
        raise LoginRequiredError(redirect_uri=a.redirect_uri)
    flow.sign_in_for(a.request.fingerprint, a.request.acr.mfa_required)
    hint = a.request.get("login_hint") or None
    return redirect(url_for("accounts.login", next=a.request.url, login_hint=hint))


def _second_factor_due(a: Authorization) -> bool:
    """Does this request want a second factor the session has not used? An essential
    acr of "mfa" always; a voluntary one (OIDC Core §3.1.2.1) only from a person who
    has a factor, since the strongest *achievable* value is what we assert."""
    if assurance.used_second_factor(a.session.amr):
        return False
    if a.request.acr.mfa_required:
        return True
    return a.request.acr.mfa_wanted and has_factor(a.person.id)


def second_factor_step(a: Authorization) -> Response | None:
    """A live session without the second factor this request wants: only that step
    (the password part of the session still counts)."""
    if not _second_factor_due(a):
        return None
    if a.request.unattended:
        raise LoginRequiredError(redirect_uri=a.redirect_uri)
    flow.sign_in_for(a.request.fingerprint, a.request.acr.mfa_required)
    return flow.step_up(a.person, a.session, a.request.url)


def _check_form_token(form) -> None:
    try:
        validate_csrf(form.get("csrf_token"))
    except (ValidationError, CSRFError) as exc:
        raise InvalidRequestError("The form expired; please try again.") from exc


def _consent_decision(a: Authorization, form_request: Request) -> str | None:
    """None when the portal may proceed; 'allow'/'deny' from the form; or 'ask'."""
    decision = form_request.form.get("decision") if form_request.method == "POST" else None
    if decision is not None:
        _check_form_token(form_request.form)
        return decision
    portal = a.grant.client
    if portal.first_party:
        # DESIGN §2: a first-party portal is the organisation itself; there is no
        # one else to consent to, so not even prompt=consent (a SHOULD) shows a page.
        return None
    if "consent" in a.request.prompts:
        return "ask"
    if consent.has_consent(a.person.id, portal.client_id, a.grant.request.scope):
        return None
    return "ask"


def consent_step(a: Authorization) -> Response | None:
    """Consent to a third-party portal, remembered per person, portal and scopes."""
    decision = _consent_decision(a, a.request.req)
    if decision == "ask":
        if a.request.unattended:
            raise ConsentRequiredError(redirect_uri=a.redirect_uri)
        return _consent_page(a)
    if decision not in (None, "allow"):
        raise AccessDeniedError(redirect_uri=a.redirect_uri)
    a.consented = decision == "allow"
    return None


def _consent_page(a: Authorization) -> Response:
    scopes = (a.grant.request.scope or "").split()
    described = [s for s in scopes if s in SCOPE_CLAIMS or s in ("offline_access", "organization")]
    page = render_template(
        "oidc/consent.html",
        portal=a.grant.client,
        scopes=described,
        user=a.person,
        action=a.request.url,
    )
    return current_app.make_response(page)


def organization_step(a: Authorization) -> Response | None:
    """Which organization the sign-in is for, and may it use this portal
    (ciam.delegation.org_choice): silently, from the person's last choice, from the
    page, or refused with a page naming the organization that lacks access."""
    scope = a.grant.request.scope
    chosen_now = flow.org_chosen_for(a.request.fingerprint)
    decision = org_choice.decide(
        a.person.id,
        a.grant.client,
        named=org_choice.named_in(a.request.get("organization"), scope),
        scope=scope,
        reselect="select_account" in a.request.prompts and chosen_now is None,
    )
    if decision.denied:
        if a.request.unattended:
            raise AccessDeniedError(redirect_uri=a.redirect_uri)
        return _no_access_page(a, decision.lacking)
    if decision.choices:
        picked = _picked_org(a, decision.choices, chosen_now)
        if picked is None:
            if a.request.unattended:
                raise AccountSelectionRequiredError(redirect_uri=a.redirect_uri)
            return _organization_page(a, decision.choices)
        a.org = picked
        return None
    a.org = decision.org
    return None


def _picked_org(a: Authorization, choices, chosen_now: str | None):
    """The organization picked for this request: just now on the page, or earlier
    (the consent page may come after)."""
    by_id = {str(org.id): org for org in choices}
    if chosen_now in by_id:
        return by_id[chosen_now]
    form = a.request.req.form if a.request.req.method == "POST" else {}
    if "organization_choice" not in form:
        return None
    _check_form_token(form)
    try:
        org = org_choice.choose(a.person.id, a.grant.client, form["organization_choice"], choices)
    except ValueError as exc:
        raise InvalidRequestError("Choose one of the organizations shown.") from exc
    flow.org_chosen(a.request.fingerprint, str(org.id))
    return org


def _organization_page(a: Authorization, choices) -> Response:
    page = render_template(
        "oidc/organization.html", portal=a.grant.client, choices=choices, action=a.request.url
    )
    return current_app.make_response(page)


def _no_access_page(a: Authorization, lacking) -> Response:
    """RFC 6749 §4.1.2.1 access_denied, with a page first: the person learns which
    organization lacks access and whom to ask, then may go back to the portal."""
    error = AccessDeniedError(redirect_uri=a.redirect_uri)
    back = error_response(error, a.request.get("state")).location
    admins = org_choice.admins_of(lacking) if lacking is not None else []
    page = render_template(
        "oidc/no_access.html", portal=a.grant.client, org=lacking, admins=admins, back=back
    )
    return current_app.make_response((page, 403))


# In order. A step returns a page (the person has something to do), raises an
# OAuth2Error (the request is refused), or returns None (on to the next step).
AUTHORIZATION_STEPS: tuple[Callable[[Authorization], Response | None], ...] = (
    sign_in_step,
    second_factor_step,
    organization_step,
    consent_step,
)


# --- the answer ---------------------------------------------------------------------


def _validated_grant(req: Request, user: User | None) -> tuple[Any, OAuth2Error | None]:
    """Authlib's checks of portal, redirect URI, response type, scope, PKCE, nonce;
    an error response when they fail."""
    try:
        return get_server().get_consent_grant(request=req, end_user=user), None
    except UnsupportedResponseTypeError as error:
        if not req.values.get("response_type"):
            # RFC 6749 §4.1.2.1: a missing required parameter is invalid_request;
            # Authlib reports every unmatched response_type as unsupported.
            error = InvalidRequestError(
                "Missing 'response_type' parameter.", redirect_uri=error.redirect_uri
            )
        return None, error
    except OAuth2Error as error:
        return None, error


def answer(req: Request) -> Response:
    """The answer to the authorization request `req`, for this browser."""
    authz_request = AuthorizationRequest(req)
    user = current_user()
    grant, error = _validated_grant(req, user)
    if error is not None or grant is None:
        refusal = error or InvalidRequestError("The request is not valid.")
        return current_app.make_response(error_response(refusal, authz_request.get("state")))
    a = Authorization(authz_request, grant, current_session(), user)
    try:
        authz_request.check(grant.redirect_uri)
        if authz_request.acr.unmet or flow.take_declined(authz_request.fingerprint):
            raise UnmetAuthenticationRequirementsError(redirect_uri=grant.redirect_uri)
        for step in AUTHORIZATION_STEPS:
            page = step(a)
            if page is not None:
                return page
    except OAuth2Error as refused:
        refused.redirect_uri = refused.redirect_uri or grant.redirect_uri
        flow.request_answered()
        return current_app.make_response(error_response(refused, authz_request.get("state")))
    return _issue_code(a)


def _issue_code(a: Authorization) -> Response:
    if a.consented:
        consent.grant_consent(
            a.person.id, a.grant.client.client_id, a.grant.request.scope, actor_context(a.person.id)
        )
    flow.request_answered()
    a.grant.request.login_session = a.login_session
    a.grant.request.org_id = a.org.id if a.org is not None else None
    response = get_server().create_authorization_response(
        request=a.grant.request, grant_user=a.person, grant=a.grant
    )
    if response.location:
        response.location = with_iss(response.location)
    return response


def answer_after_sign_in(query: str) -> Response | None:
    """The continuation the sign-in flow calls when a login for an authorization
    request is done: that request's answer, for this browser, built from the URL its
    login form carried (same address, headers and cookies)."""
    environ = {
        **request.environ,
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": query,
        "CONTENT_LENGTH": "0",
    }
    environ.pop("CONTENT_TYPE", None)
    environ.pop("werkzeug.request", None)
    environ["PATH_INFO"] = url_for("oauth.authorize").removeprefix(environ.get("SCRIPT_NAME", ""))
    return answer(current_app.request_class(environ))


def setup_authorize(app: Flask) -> None:
    with app.test_request_context():
        path = url_for("oauth.authorize")
    flow.continue_after_sign_in(app, path, answer_after_sign_in)
