"""What every request gets: one commit (or rollback) before the answer leaves, the
security headers, and the client's address behind trusted proxies."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ciam.extensions import db

# ASVS 14.4: no framing (frame-ancestors), no sniffing, no referrer leaking codes.
# form-action is left out on purpose: Chrome applies it to the redirect chain after a
# form post, which would block the redirect back to the portal after login.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def _commit(response: Response) -> Response:
    # Commit before the response leaves, so a client that acts on it at once (a
    # portal redeeming a code) always finds the row. Errors already rolled back.
    if not db.session.registry.has():
        return response  # this request never opened a session (discovery, JWKS)
    if response.status_code < 500:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        headers.setdefault(name, value)
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault(*HSTS)
    return response


def setup_request_hooks(app: Flask) -> None:
    app.after_request(_commit)
    app.after_request(_security_headers)


def setup_proxies(app: Flask) -> None:
    """Last of the setup calls: ProxyFix goes outermost, so every WSGI middleware
    (the discovery/JWKS fast path, say) sees the client's scheme and address."""
    proxies = app.config.get("CIAM_TRUSTED_PROXIES", 0)
    if proxies:
        # Flask documents wrapping wsgi_app this way; mypy sees a method assigned.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
