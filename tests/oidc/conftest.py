"""The machine fast path (ciam.oidc.fastpath) on and off.

The security and conformance tests of the token, refresh, userinfo and
introspection endpoints use `fastpath_mode` in their `pytestmark`, so each runs
twice: once with the fast path answering what it can, once with every request
answered by Flask and Authlib, whose answer is the reference. Both run on SQLite
and on PostgreSQL, so a laptop `make test` proves the parity too."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["fastpath-on", "fastpath-off"])
def fastpath_mode(request, app):
    middleware = app.extensions["ciam.fastpath"]
    middleware.enabled = request.param == "fastpath-on"
    yield request.param
    middleware.enabled = True
