"""An authorization request (OIDC Core §3.1.2.1) as ciam reads it, and how an error
goes back to the portal.

The request is read from a werkzeug Request given explicitly: the browser's own GET
or POST at /oauth/authorize, or the one a finished sign-in rebuilds from the URL
its login form carried (ciam.accounts.login.flow.continue_to).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from flask import current_app, redirect, render_template, url_for
from werkzeug.wrappers import Request

from ciam.accounts.login import assurance
from ciam.oidc import keys

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# OIDC Core §3.1.2.1: max_age is a number of seconds. ASCII digits only (str.isdigit
# also accepts "٣" and "²"), at most ten of them (over 300 years): a longer one would
# overflow timedelta and means nothing more than "any login will do".
MAX_AGE = re.compile(r"[0-9]{1,10}")
FORM_ONLY_FIELDS = {"csrf_token", "decision", "organization_choice"}


class RequestNotSupportedError(OAuth2Error):
    error = "request_not_supported"  # OIDC Core §6.1


class RequestUriNotSupportedError(OAuth2Error):
    error = "request_uri_not_supported"  # OIDC Core §6.2


class UnmetAuthenticationRequirementsError(OAuth2Error):
    # OpenID Connect Core Unmet Authentication Requirements 1.0 §2: the essential
    # acr asked for cannot be met (unknown here, or the person declined to set up
    # a second factor).
    error = "unmet_authentication_requirements"


@dataclass(frozen=True)
class AuthorizationRequest:
    req: Request

    @cached_property
    def params(self) -> list[tuple[str, str]]:
        values: list[tuple[str, str]] = list(self.req.values.items(multi=True))  # type: ignore[arg-type]
        return [(k, v) for k, v in values if k not in FORM_ONLY_FIELDS]

    @cached_property
    def fingerprint(self) -> str:
        """Names this request in the flow cookie (never stored whole)."""
        return hashlib.sha256(urlencode(sorted(self.params)).encode()).hexdigest()

    @property
    def url(self) -> str:
        """This request as a GET URL of our own, so a request that arrived by POST
        (OIDC Core §3.1.2.1) survives the login and consent pages unchanged."""
        return url_for("oauth.authorize") + "?" + urlencode(self.params)

    @cached_property
    def prompts(self) -> list[str]:
        return self.req.values.get("prompt", "").split()

    @property
    def unattended(self) -> bool:
        """prompt=none: no page may be shown (OIDC Core §3.1.2.1)."""
        return "none" in self.prompts

    @cached_property
    def acr(self) -> assurance.AcrRequest:
        values = self.req.values
        return assurance.acr_request(values.get("acr_values"), values.get("claims"))

    def get(self, name: str) -> str | None:
        return self.req.values.get(name)

    def check(self, redirect_uri: str) -> None:
        """The rules Authlib does not apply, checked on every request."""
        self._check_no_repeats()
        if "request" in self.req.values:
            raise RequestNotSupportedError(redirect_uri=redirect_uri)
        if "request_uri" in self.req.values:
            raise RequestUriNotSupportedError(redirect_uri=redirect_uri)
        self.max_age()  # not only when a session makes it matter

    def _check_no_repeats(self) -> None:
        # RFC 6749 §3.1: no parameter may appear twice. Authlib checks five of them;
        # a repeated prompt, max_age or nonce would otherwise be read as its first
        # value here and possibly another one elsewhere.
        lists = self.req.values.lists()
        repeated = sorted(key for key, values in lists if len(values) > 1)
        if repeated:
            # Only plain names are echoed: error_description must stay printable
            # ASCII without `"` or `\\` (RFC 6749 §4.1.2.1), and the names are the
            # caller's.
            named = [key for key in repeated if SAFE_NAME.fullmatch(key)]
            raise InvalidRequestError(f"Repeated parameter(s): {', '.join(named) or '(unnamed)'}.")

    def max_age(self) -> int | None:
        raw = self.req.values.get("max_age")
        if raw in (None, ""):
            return None
        if not MAX_AGE.fullmatch(raw):
            raise InvalidRequestError("max_age must be a whole number of seconds (0-9999999999).")
        return int(raw)

    def hint_matches(self, user) -> bool:
        """id_token_hint names who the portal expects; an expired hint still counts."""
        hint = self.req.values.get("id_token_hint")
        if not hint or user is None:
            return True
        try:
            _, claims = keys.verify(hint)
        except keys.InvalidJWT:
            return False
        return claims.get("sub") == str(user.id)


def with_iss(location: str) -> str:
    # RFC 9207 §2: every authorization response, errors included, names the issuer.
    return add_params_to_uri(location, [("iss", current_app.config["CIAM_ISSUER"])])


def error_response(error: OAuth2Error, state: str | None):
    """To the portal once its redirect URI is validated; before that, a page for the
    person and nothing redirected (RFC 6749 §4.1.2.1)."""
    if not error.redirect_uri:
        message = error.description or error.error
        return render_template(
            "error.html", title="This sign-in link is not valid", message=message, code=error.error
        ), 400
    params = [("error", error.error)]
    if error.description:
        params.append(("error_description", error.description))
    if state:
        params.append(("state", state))
    return redirect(with_iss(add_params_to_uri(error.redirect_uri, params)), 302)
