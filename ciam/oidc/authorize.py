"""The authorization endpoint (OIDC Core §3.1.2): login, consent, then a code.

Decisions follow the OpenID certification's reading of the spec: `prompt=login` and
`max_age` force a fresh login (new `auth_time`), `prompt=none` never shows a page,
`request`/`request_uri` are refused with their own error codes, and every error goes
back to the portal only once its redirect URI has been validated; before that the
person sees an error page and nothing is redirected (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidRequestError,
    UnsupportedResponseTypeError,
)
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ciam.accounts import assurance, login_flow, mfa
from ciam.accounts.sessions import current_session, current_user
from ciam.db import utcnow
from ciam.oidc import consent, keys
from ciam.oidc.claims import SCOPE_CLAIMS
from ciam.oidc.server import get_server
from ciam.web import actor_context

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# OIDC Core §3.1.2.1: max_age is a number of seconds. ASCII digits only (str.isdigit
# also accepts "٣" and "²"), at most ten of them (over 300 years): a longer one would
# overflow timedelta and means nothing more than "any login will do".
MAX_AGE = re.compile(r"[0-9]{1,10}")
FORM_ONLY_FIELDS = {"csrf_token", "decision"}


class RequestNotSupportedError(OAuth2Error):
    error = "request_not_supported"  # OIDC Core §6.1


class RequestUriNotSupportedError(OAuth2Error):
    error = "request_uri_not_supported"  # OIDC Core §6.2


class UnmetAuthenticationRequirementsError(OAuth2Error):
    # OpenID Connect Core Unmet Authentication Requirements 1.0 §2: the essential
    # acr asked for cannot be met (unknown here, or the person declined to set up
    # a second factor).
    error = "unmet_authentication_requirements"


def _params() -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.values.items(multi=True) if k not in FORM_ONLY_FIELDS]


def _fingerprint(params: list[tuple[str, str]]) -> str:
    return hashlib.sha256(urlencode(sorted(params)).encode()).hexdigest()


def _request_url(params: list[tuple[str, str]]) -> str:
    """This authorization request as a GET URL of our own, so a request that arrived
    by POST (OIDC Core §3.1.2.1) survives the login and consent pages unchanged."""
    return url_for("oauth.authorize") + "?" + urlencode(params)


def _check_no_repeats() -> None:
    # RFC 6749 §3.1: no parameter may appear twice. Authlib checks five of them; a
    # repeated prompt, max_age or nonce would otherwise be read as its first value
    # here and possibly another one elsewhere.
    repeated = sorted(key for key, values in request.values.lists() if len(values) > 1)
    if repeated:
        # Only plain names are echoed: error_description must stay printable ASCII
        # without `"` or `\\` (RFC 6749 §4.1.2.1), and the names are the caller's.
        named = [key for key in repeated if SAFE_NAME.fullmatch(key)]
        raise InvalidRequestError(f"Repeated parameter(s): {', '.join(named) or '(unnamed)'}.")


def _with_iss(location: str) -> str:
    # RFC 9207 §2: every authorization response, errors included, names the issuer.
    return add_params_to_uri(location, [("iss", current_app.config["CIAM_ISSUER"])])


def error_response(error: OAuth2Error):
    if not error.redirect_uri:
        message = error.description or error.error
        return render_template(
            "error.html", title="This sign-in link is not valid", message=message, code=error.error
        ), 400
    params = [("error", error.error)]
    if error.description:
        params.append(("error_description", error.description))
    state = request.values.get("state")
    if state:
        params.append(("state", state))
    return redirect(_with_iss(add_params_to_uri(error.redirect_uri, params)), 302)


def _max_age() -> int | None:
    raw = request.values.get("max_age")
    if raw in (None, ""):
        return None
    if not MAX_AGE.fullmatch(raw):
        raise InvalidRequestError("max_age must be a whole number of seconds (0-9999999999).")
    return int(raw)


def _hint_matches(user) -> bool:
    """id_token_hint names who the portal expects; an expired hint still counts."""
    hint = request.values.get("id_token_hint")
    if not hint or user is None:
        return True
    try:
        _, claims = keys.verify(hint)
    except keys.InvalidJWT:
        return False
    return claims.get("sub") == str(user.id)


def _acr_request() -> assurance.AcrRequest:
    return assurance.acr_request(request.values.get("acr_values"), request.values.get("claims"))


def _second_factor_due(login_session, user) -> bool:
    """Does this request want a second factor the session has not used? An essential
    acr of "mfa" always; a voluntary one (OIDC Core §3.1.2.1) only from a person who
    has a factor, since the strongest *achievable* value is what we assert."""
    if assurance.used_second_factor(login_session.amr):
        return False
    wanted = _acr_request()
    if wanted.mfa_required:
        return True
    return wanted.mfa_wanted and mfa.has_factor(user.id)


def needs_login(prompts: list[str], params, login_session, user) -> bool:
    """Must the person (re)authenticate before this request gets a code? Either the
    password part (no session, prompt=login, max_age, another person's hint) or a
    second factor the portal asked for that the session has not used."""
    if _needs_password(prompts, params, login_session, user):
        return True
    return _second_factor_due(login_session, user)


def _needs_password(prompts: list[str], params, login_session, user) -> bool:
    if login_session is None:
        return True
    if session.get("login_done_for") == _fingerprint(params):
        # The person has just signed in for this very request: that login satisfies
        # prompt=login and any max_age, including max_age=0, which OIDC Core §3.1.2.1
        # makes equivalent to prompt=login (otherwise it would loop forever), and
        # stays valid while the consent page is answered. An id_token_hint naming
        # someone else is settled too: the person was "logged in by the request".
        return False
    if "login" in prompts:
        return True
    max_age = _max_age()
    if max_age is not None:
        age = utcnow() - login_session.auth_time
        if age > timedelta(seconds=max_age):
            return True
    return not _hint_matches(user)


def _send_to_login(params):
    session["login_for"] = _fingerprint(params)
    if _acr_request().mfa_required:
        # Essential: a person without a factor sets one up (or cancels: DECLINED_KEY).
        session[login_flow.MFA_FOR_KEY] = session["login_for"]
    login_session, user = current_session(), current_user()
    prompts = request.values.get("prompt", "").split()
    if login_session is not None and not _needs_password(prompts, params, login_session, user):
        # The password part of the session still counts: only the second step.
        return login_flow.step_up(user, login_session, _request_url(params))
    return redirect(
        url_for(
            "accounts.login",
            next=_request_url(params),
            login_hint=request.values.get("login_hint") or None,
        )
    )


def _consent_decision(grant, prompts):
    """None when the portal may proceed; 'allow'/'deny' from the form; or 'ask'."""
    decision = request.form.get("decision") if request.method == "POST" else None
    if decision is not None:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError) as exc:
            raise InvalidRequestError("The form expired; please try again.") from exc
        return decision
    portal, user = grant.client, grant.request.user
    if portal.first_party:
        # DESIGN §2: a first-party portal is the organisation itself; there is no
        # one else to consent to, so not even prompt=consent (a SHOULD) shows a page.
        return None
    if "consent" in prompts:
        return "ask"
    if consent.has_consent(user.id, portal.client_id, grant.request.scope):
        return None
    return "ask"


def _consent_page(grant, params):
    scopes = (grant.request.scope or "").split()
    described = [s for s in scopes if s in SCOPE_CLAIMS or s == "offline_access"]
    return render_template(
        "oidc/consent.html",
        portal=grant.client,
        scopes=described,
        user=grant.request.user,
        action=_request_url(params),
    )


def authorize():
    server = get_server()
    login_session, user = current_session(), current_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except UnsupportedResponseTypeError as error:
        if not request.values.get("response_type"):
            # RFC 6749 §4.1.2.1: a missing required parameter is invalid_request;
            # Authlib reports every unmatched response_type as unsupported.
            error = InvalidRequestError(
                "Missing 'response_type' parameter.", redirect_uri=error.redirect_uri
            )
        return error_response(error)
    except OAuth2Error as error:
        return error_response(error)
    params = _params()
    prompts = request.values.get("prompt", "").split()
    try:
        _check_no_repeats()
        if "request" in request.values:
            raise RequestNotSupportedError(redirect_uri=grant.redirect_uri)
        if "request_uri" in request.values:
            raise RequestUriNotSupportedError(redirect_uri=grant.redirect_uri)
        _max_age()  # checked on every request, not only when a session makes it matter
        if _acr_request().unmet or session.get(login_flow.DECLINED_KEY) == _fingerprint(params):
            session.pop(login_flow.DECLINED_KEY, None)
            raise UnmetAuthenticationRequirementsError(redirect_uri=grant.redirect_uri)
        if needs_login(prompts, params, login_session, user):
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            return _send_to_login(params)
        decision = _consent_decision(grant, prompts)
        if decision == "ask":
            if "none" in prompts:
                raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
            return _consent_page(grant, params)
        if decision not in (None, "allow"):
            raise AccessDeniedError(redirect_uri=grant.redirect_uri)
    except OAuth2Error as error:
        error.redirect_uri = error.redirect_uri or grant.redirect_uri
        session.pop("login_done_for", None)  # the request is over: its login is spent
        return error_response(error)
    if decision == "allow":
        consent.grant_consent(
            user.id, grant.client.client_id, grant.request.scope, actor_context(user.id)
        )
    session.pop("login_done_for", None)
    grant.request.ciam_login_session = login_session
    response = _issue_code(server, grant, user)
    if response.location:
        response.location = _with_iss(response.location)
    return response


def _issue_code(server, grant, user):
    """Authlib's create_authorization_response, less its first step: it validates the
    whole request again (portal, redirect URI, scope, PKCE and OIDC checks), which
    get_consent_grant did a moment ago on this same grant and request."""
    try:
        args = grant.create_authorization_response(grant.redirect_uri, user)
        response = server.handle_response(*args)
    except OAuth2Error as error:
        error.state = grant.request.payload.state
        response = server.handle_error_response(grant.request, error)
    grant.execute_hook("after_authorization_response", response)
    return response
