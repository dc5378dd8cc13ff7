"""The protocol rules the Authlib server, the Flask views and the fast path share
(ciam.oidc.client_auth, ciam.oidc.http_rules, the token row of ciam.oidc.token_store)."""

from __future__ import annotations

import base64

import pytest
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from ciam.oidc import token_store
from ciam.oidc.client_auth import basic_credentials, credential_conflict
from ciam.oidc.http_rules import bearer_from_header, repeats_a_parameter
from ciam.oidc.models import Token


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "header",
    [
        _basic(b"portal:secret"),
        _basic(b"por%3Atal:se%25cret"),  # RFC 6749 §2.3.1: form-urlencoded first
        _basic(b"portal"),  # no colon: an id and no secret
        _basic(b"portal:"),
        _basic(b":secret"),
        "basic " + base64.b64encode(b"a:b").decode(),  # the scheme is case-insensitive
        "Basic   " + base64.b64encode(b"a:b").decode(),
        "Bearer abc",
        "Basic",
        "Basic !!!",
        "",
    ],
)
def test_basic_credentials_read_as_authlib_reads_them(header):
    authlib = extract_basic_authorization({"Authorization": header})
    ours = basic_credentials(header)
    assert (ours or (None, None)) == authlib


def test_undecodable_basic_credentials_are_none():
    """RFC 7617 §2.1: UTF-8; Authlib would raise (a 500), we read no credentials."""
    assert basic_credentials(_basic(b"\xff\xfe:\xff")) is None


@pytest.mark.parametrize(
    ("form", "conflict"),
    [
        ({"grant_type": "client_credentials"}, False),
        ({"client_id": "portal"}, False),  # naming itself again, consistently
        ({"client_id": "other"}, True),
        ({"client_secret": "x"}, True),
        ({"client_assertion": "x"}, True),
    ],
)
def test_one_authentication_method_per_request(form, conflict):
    """RFC 6749 §2.3: HTTP Basic plus body credentials (or another client) refused."""
    basic = basic_credentials(_basic(b"portal:secret"))
    assert (credential_conflict(basic, form) is not None) is conflict
    assert credential_conflict(None, form) is None  # without Basic, Authlib decides


def test_repeated_parameters():
    assert repeats_a_parameter([("a", "1"), ("b", "2"), ("a", "1")])
    assert not repeats_a_parameter([("a", "1"), ("b", "1")])


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Bearer ", None), ("Basic abc", None)],
)
def test_bearer_header(header, token):
    assert bearer_from_header(header) == token


def test_the_token_row_is_defined_once(ctx):
    """A new token row is its grant's columns plus the drawn ones, and together they
    are every column of `tokens` but the two that change later."""
    grant, drawn = set(token_store.GRANT_COLUMNS), set(token_store.DRAWN_COLUMNS)
    assert not grant & drawn
    later = {"refresh_used_at", "revoked_at"}
    assert grant | drawn == {column.name for column in Token.__table__.c} - later
    context = token_store.IssueContext(family_id="f")
    assert token_store.grant_values(context, "portal", "openid").keys() == grant
    successor = token_store.Successor.draw()
    assert successor.row_values(include_refresh_token=False).keys() == drawn
