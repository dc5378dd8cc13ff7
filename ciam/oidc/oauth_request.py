"""The OAuth request ciam's grants see: Authlib's, with what they hand on."""

from __future__ import annotations

import uuid
from typing import Any

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request


class CiamOAuth2Request(FlaskOAuth2Request):
    """Authlib's request, with what ciam's grants hand on between their steps (each
    set by one step, read by a later one), declared here rather than stuck on."""

    def __init__(self, request) -> None:
        super().__init__(request)
        self.login_session: Any = None  # the login session a code is issued from
        self.org_id: uuid.UUID | None = None  # the organization chosen for it (authorize)
        self.token_values: dict | None = None  # the token row save_token inserts
        self.successor: Any = None  # written already by a one-statement grant
        self.claim_user: Any = None  # the token owner's claims, read with the token
        self.granted_scope: str | None = None  # client_credentials: the scope granted
