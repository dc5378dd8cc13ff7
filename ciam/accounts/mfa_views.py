"""Second factors: TOTP, recovery codes, SMS codes; the login MFA step."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mfa", __name__)
bp.ciam_auth = "session"  # pages for people; each view says if it needs a login
