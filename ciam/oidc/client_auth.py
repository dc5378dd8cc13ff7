"""How portals authenticate at the token, introspection and revocation endpoints
(RFC 6749 §2.3). The Authlib server and the fast path (ciam.oidc.fastpath) both
read credentials, and apply the one-method rule, through these functions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import unquote

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError

SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
Credentials = tuple[str, str | None]  # a client id and its secret, if one was sent


def basic_credentials(authorization: str | None) -> Credentials | None:
    """The client id and secret of an HTTP Basic Authorization header value, as
    Authlib's extract_basic_authorization reads them (RFC 6749 §2.3.1: each is
    form-urlencoded before the Basic encoding; no colon, no secret), or None when
    the header holds no Basic credentials. Bytes that are not UTF-8 (RFC 7617 §2.1)
    are no credentials either: they must end in invalid_client (RFC 6749 §5.2),
    not in a server error."""
    if not authorization or " " not in authorization:
        return None
    parts = authorization.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if ":" not in decoded:
        return decoded, None
    client_id, secret = decoded.split(":", 1)
    return unquote(client_id), unquote(secret)


def credential_conflict(basic: Credentials | None, form: Mapping[str, str]) -> str | None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in
    a request, and §5.2 answers one that does with invalid_request. Authlib would
    take the first method that succeeds and ignore the other: HTTP Basic for one
    portal with a wrong client_secret in the body, or a body client_id naming
    another portal, would pass as the Basic portal. Which client is asking must
    never be ambiguous. `basic`: what basic_credentials read. Returns the
    refusal's description, or None."""
    basic_id = basic[0] if basic else None
    if not basic_id:
        return None  # no credentials at all: client_secret_basic answers invalid_client
    if form.get("client_secret") or form.get("client_assertion"):
        return (
            "The client used more than one authentication method "
            "(HTTP Basic and credentials in the request body)."
        )
    body_id = form.get("client_id")
    if body_id and body_id != basic_id:
        return "'client_id' does not match the HTTP Basic credentials."
    return None


def refuse_conflicting_credentials(request) -> None:
    """credential_conflict for an Authlib request, refused before any credential
    is checked."""
    basic = basic_credentials(request.headers.get("Authorization"))
    conflict = credential_conflict(basic, request.payload.data)
    if conflict is not None:
        raise InvalidRequestError(conflict)


def basic_client(query_client, basic: Credentials | None):
    """client_secret_basic (RFC 6749 §2.3.1): the client whose id and secret the
    header held (`basic`, as basic_credentials read it), None when it held none or
    the secret does not match, and, as Authlib answers it, invalid_client (401) for
    an id no client has."""
    client_id, secret = basic or (None, None)
    if not client_id or not secret:
        return None
    client = query_client(client_id)
    if not client:
        raise InvalidClientError(
            status_code=401, description="The client does not exist on this server."
        )
    return client if client.check_client_secret(secret) else None


def client_secret_basic(query_client, request):
    """The client_secret_basic method registered with the Authlib server."""
    return basic_client(query_client, basic_credentials(request.headers.get("Authorization")))
