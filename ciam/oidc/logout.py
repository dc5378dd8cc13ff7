"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

A portal may send the person back only to a post_logout_redirect_uri registered for
it, and we only know which portal asks from a valid id_token_hint or client_id. A
logout without a hint that names the signed-in person asks for confirmation, so a
third-party page cannot sign people out with a hidden image (CSRF).
"""

from __future__ import annotations

from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from flask import redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ciam.accounts.sessions.services import current_session, end_session
from ciam.audit.actor import actor_context
from ciam.errors import CiamError
from ciam.oidc import keys, token_store
from ciam.oidc.models import Token
from ciam.oidc.server import query_client

FORM_ONLY_FIELDS = {"csrf_token", "confirm"}


def _hint_claims() -> dict | None:
    hint = request.values.get("id_token_hint")
    if not hint:
        return None
    try:
        _, claims = keys.verify(hint)
    except keys.InvalidJWT as exc:
        raise CiamError("The id_token_hint is not a token we issued.") from exc
    return claims


def _target(claims: dict | None) -> str | None:
    uri = request.values.get("post_logout_redirect_uri")
    if not uri:
        return None
    client_id = request.values.get("client_id") or (claims or {}).get("aud")
    if isinstance(client_id, list):
        client_id = client_id[0] if len(client_id) == 1 else None
    if claims and request.values.get("client_id") and claims.get("aud") != client_id:
        raise CiamError("client_id does not match the id_token_hint.")
    portal = query_client(client_id) if client_id else None
    if portal is None or uri not in portal.post_logout_redirect_uris:
        raise CiamError("This post_logout_redirect_uri is not registered for the portal.")
    state = request.values.get("state")
    return add_params_to_uri(uri, [("state", state)]) if state else uri


def _finish(target: str | None):
    login_session = current_session()
    if login_session is not None:
        token_store.revoke_where(Token.session_id == login_session.id)
    end_session(actor_context(login_session.user_id if login_session else None))
    if target:
        return redirect(target, 302)
    return render_template("oidc/logged_out.html")


def _confirmation_page():
    # The form posts back the request's own parameters in the query string, so a
    # logout request that arrived by POST (§2 allows it) keeps its redirect and state.
    params = [(k, v) for k, v in request.values.items(multi=True) if k not in FORM_ONLY_FIELDS]
    action = url_for("oauth.logout") + ("?" + urlencode(params) if params else "")
    return render_template("oidc/logout_confirm.html", action=action)


def _logout():
    claims = _hint_claims()
    target = _target(claims)
    login_session = current_session()
    if request.method == "POST" and "confirm" in request.form:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError) as exc:
            raise CiamError("The form expired; please sign out again.") from exc
        return _finish(target)
    hint_names_user = (
        claims is not None
        and login_session is not None
        and claims.get("sub") == str(login_session.user_id)
    )
    if login_session is None or hint_names_user:
        return _finish(target)
    return _confirmation_page()


def logout():
    try:
        return _logout()
    except CiamError as error:
        # A page for the person, never JSON and never a redirect: the request named no
        # post_logout_redirect_uri we may use (RP-Initiated Logout §3), and the global
        # handler would answer JSON for anything under /oauth/.
        return render_template(
            "error.html", title="This sign-out link is not valid", message=error.message
        ), 400
