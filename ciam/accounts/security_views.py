"""The person's sessions and devices, and their own activity (audit) page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("security", __name__)
bp.ciam_auth = "session"  # pages for people; each view says if it needs a login
