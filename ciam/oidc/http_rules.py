"""HTTP rules of the OAuth endpoints that the Flask views and the fast path
(ciam.oidc.fastpath) both apply: repeated parameters, bearer headers, and the
headers of their answers."""

from __future__ import annotations

from collections.abc import Iterable

from authlib.consts import default_json_headers

# Browser apps (public SPA portals) call the token, userinfo and revocation
# endpoints with bearer tokens or PKCE, never with cookies, so any origin may read
# the answers.
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
    ("Access-Control-Allow-Methods", "GET, POST"),
)
# RFC 6749 §5.1: token answers are not cached; Authlib sends these on every answer
# of the token and introspection endpoints.
NO_STORE = tuple((name, value) for name, value in default_json_headers if name != "Content-Type")
# What the UserInfo answer (OIDC Core §5.3.2, personal data) sends.
USERINFO_NO_STORE = (("Cache-Control", "no-store"),)


def repeats_a_parameter(pairs: Iterable[tuple[str, str]]) -> bool:
    """RFC 6749 §3.2: "Request and response parameters MUST NOT be included more
    than once." `pairs`: the (name, value) pairs of the request body, in order."""
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            return True
        seen.add(name)
    return False


def bearer_from_header(authorization: str | None) -> str | None:
    """The token of an RFC 6750 §2.1 `Authorization: Bearer` header, or None."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
