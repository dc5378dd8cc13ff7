"""Profile, password change, email change and verification, password reset."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("profile", __name__)
bp.ciam_auth = "session"  # pages for people; each view says if it needs a login
