"""How portals authenticate at the token, introspection and revocation endpoints
(RFC 6749 §2.3)."""

from __future__ import annotations

from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization

SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


def refuse_conflicting_credentials(request) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in
    a request, and §5.2 answers one that does with invalid_request. Authlib would
    take the first method that succeeds and ignore the other: HTTP Basic for one
    portal with a wrong client_secret in the body, or a body client_id naming
    another portal, would pass as the Basic portal. Which client is asking must
    never be ambiguous, so such a request is refused before any credential is
    checked."""
    try:
        basic_id, _ = extract_basic_authorization(request.headers)
    except UnicodeDecodeError:
        return  # not credentials at all: client_secret_basic answers invalid_client
    if not basic_id:
        return
    data = request.payload.data
    if data.get("client_secret") or data.get("client_assertion"):
        raise InvalidRequestError(
            "The client used more than one authentication method "
            "(HTTP Basic and credentials in the request body)."
        )
    body_id = data.get("client_id")
    if body_id and body_id != basic_id:
        raise InvalidRequestError("'client_id' does not match the HTTP Basic credentials.")


def client_secret_basic(query_client, request):
    """Authlib's client_secret_basic, with undecodable credentials counted as no
    credentials: RFC 7617 §2.1 user-ids and passwords are UTF-8, and bytes that are
    not must end in invalid_client (RFC 6749 §5.2), not in a server error."""
    try:
        return authenticate_client_secret_basic(query_client, request)
    except UnicodeDecodeError:
        return None
