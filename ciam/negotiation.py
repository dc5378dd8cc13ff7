"""Who is asking: a machine (JSON answers) or a person (pages)."""

from __future__ import annotations

from flask import request

JSON_PREFIXES = ("/oauth/", "/api/", "/.well-known/", "/jwks")


def wants_json() -> bool:
    """Machines' paths answer JSON whatever they accept; elsewhere, JSON only to a
    client that prefers it (a page otherwise)."""
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == (
        "application/json"
    )
