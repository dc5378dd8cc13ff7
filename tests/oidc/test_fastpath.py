"""The machine fast path (ciam/oidc/fastpath.py) answers the success of a
client_credentials or refresh_token grant, userinfo and introspection before Flask,
with what the Flask views answer; everything else reaches the views unchanged. It
runs on SQLite too (a refresh is then claimed and rotated in one transaction).

Each parity test sends the same request twice over real HTTP, once answered by the
fast path and once by Flask (the fast path switched off), and compares status,
headers and body. Each fall-through test checks that Flask saw the request and gave
its RFC error, with the body the fast path had already read.
"""

from __future__ import annotations

import base64

import pytest
import requests

from ciam.oidc import fastpath as fastpath_module
from ciam.oidc import keys
from tests.accounts.security_support import extra_app
from tests.oidc.attacker import client_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Differ between any two responses, whoever answers.
VOLATILE_HEADERS = {"date", "content-length", "server", "connection", "x-request-id"}


@pytest.fixture
def fastpath(app):
    middleware = app.extensions["ciam.fastpath"]
    yield middleware
    middleware.enabled = True


@pytest.fixture
def flask_saw(fastpath, monkeypatch):
    """The paths of the requests that reached Flask."""
    seen: list[str] = []
    inner = fastpath.wsgi_app

    def recording(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    monkeypatch.setattr(fastpath, "wsgi_app", recording)
    return seen


@pytest.fixture
def portal(live_server, make):
    portal, secret = make.portal(scopes=["openid", "profile", "email"])
    return client_for(live_server, portal, secret)


@pytest.fixture
def user_tokens(portal, make):
    return portal.login(make.user().email)


def _headers(response: requests.Response) -> dict:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in VOLATILE_HEADERS}


def _both(fastpath, flask_saw, send) -> tuple[requests.Response, requests.Response]:
    """`send()` answered by the fast path, then by Flask."""
    flask_saw.clear()  # the login behind user_tokens went through Flask
    fast = send()
    assert flask_saw == [], "the fast path should have answered"
    fastpath.enabled = False
    slow = send()
    assert len(flask_saw) == 1
    return fast, slow


def test_client_credentials_matches_the_flask_answer(fastpath, flask_saw, portal):
    fast, slow = _both(
        fastpath, flask_saw, lambda: portal.token(grant_type="client_credentials", scope="profile")
    )
    assert fast.status_code == slow.status_code == 200
    assert _headers(fast) == _headers(slow)
    assert fast.headers["Cache-Control"] == "no-store"
    one, two = fast.json(), slow.json()
    assert one.keys() == two.keys() == {"access_token", "token_type", "expires_in", "scope"}
    assert [one[k] for k in ("token_type", "expires_in", "scope")] == [
        two[k] for k in ("token_type", "expires_in", "scope")
    ]
    (_, a), (_, b) = (keys.verify(t["access_token"]) for t in (one, two))
    assert a.keys() == b.keys()
    assert {k: a[k] for k in a if k not in ("jti", "iat", "exp")} == {
        k: b[k] for k in b if k not in ("jti", "iat", "exp")
    }
    assert a["jti"] != b["jti"]


def test_userinfo_matches_the_flask_answer(fastpath, flask_saw, live_server, user_tokens):
    bearer = {"Authorization": f"Bearer {user_tokens['access_token']}"}
    fast, slow = _both(
        fastpath,
        flask_saw,
        lambda: requests.get(f"{live_server}/oauth/userinfo", headers=bearer, timeout=5),
    )
    assert fast.status_code == slow.status_code == 200
    assert _headers(fast) == _headers(slow)
    assert fast.json() == slow.json()
    assert fast.json()["sub"]


@pytest.mark.parametrize("kind", ["access_token", "refresh_token", "client_credentials", "junk"])
def test_introspection_matches_the_flask_answer(fastpath, flask_saw, portal, user_tokens, kind):
    if kind == "client_credentials":
        token = portal.token(grant_type="client_credentials").json()["access_token"]
    else:
        token = user_tokens.get(kind, "not-a-token")
    fast, slow = _both(fastpath, flask_saw, lambda: portal.introspect(token))
    assert fast.status_code == slow.status_code == 200
    assert _headers(fast) == _headers(slow)
    assert fast.json() == slow.json()
    assert fast.json()["active"] is (kind != "junk")


def test_another_portal_introspects_inactive_on_the_fast_path(
    flask_saw, live_server, make, user_tokens
):
    other, secret = make.portal()
    flask_saw.clear()
    response = client_for(live_server, other, secret).introspect(user_tokens["access_token"])
    assert response.json() == {"active": False}
    assert flask_saw == []


def _post(url: str, body: str | bytes, auth=None, headers=None) -> requests.Response:
    return requests.post(url, data=body, auth=auth, headers=headers or FORM, timeout=5)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("grant_type=client_credentials&grant_type=client_credentials", 400, "invalid_request"),
        ("grant_type=client_credentials&scope=admin", 400, "invalid_scope"),
        ("grant_type=password&username=a&password=b", 400, "unsupported_grant_type"),
        ("scope=profile", 400, "invalid_request"),
    ],
)
def test_token_requests_it_does_not_answer_reach_flask(flask_saw, portal, body, status, error):
    response = _post(f"{portal.issuer}/oauth/token", body, auth=portal.auth)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert flask_saw == ["/oauth/token"]


def test_a_parameter_it_does_not_know_is_left_to_flask(flask_saw, portal):
    body = f"grant_type=client_credentials&client_id={portal.client_id}"
    response = _post(f"{portal.issuer}/oauth/token", body, auth=portal.auth)
    assert response.status_code == 200  # the portal named itself twice, consistently
    assert flask_saw == ["/oauth/token"]


def test_a_wrong_secret_reaches_flask_with_its_body(flask_saw, portal):
    """The fast path read the body before the secret failed; Flask must still see
    grant_type (else it would answer invalid_request, not invalid_client)."""
    response = _post(
        f"{portal.issuer}/oauth/token",
        "grant_type=client_credentials",
        auth=(portal.client_id, "wrong"),
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert flask_saw == ["/oauth/token"]


def test_undecodable_basic_credentials_reach_flask(flask_saw, portal):
    garbage = base64.b64encode(b"\xff\xfe:\xff").decode()
    response = _post(
        f"{portal.issuer}/oauth/token",
        "grant_type=client_credentials",
        headers={**FORM, "Authorization": f"Basic {garbage}"},
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert flask_saw == ["/oauth/token"]


def test_a_chunked_body_reaches_flask(flask_saw, portal):
    """No Content-Length: the fast path reads nothing and leaves the stream to Flask."""
    chunks = iter([b"grant_type=client_", b"credentials"])
    response = requests.post(
        f"{portal.issuer}/oauth/token", data=chunks, auth=portal.auth, headers=FORM, timeout=5
    )
    assert flask_saw == ["/oauth/token"]
    # Flask read the whole stream (werkzeug de-chunks it): the grant succeeded there.
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_a_body_over_the_fast_path_limit_reaches_flask(flask_saw, portal):
    """Bodies over fastpath.MAX_BODY are not read there: Flask (and its
    MAX_CONTENT_LENGTH) decides, here by granting as usual."""
    scope = " ".join(["profile"] * (fastpath_module.MAX_BODY // 8 + 1))
    body = f"grant_type=client_credentials&scope={scope}"
    assert len(body) > fastpath_module.MAX_BODY
    response = _post(f"{portal.issuer}/oauth/token", body, auth=portal.auth)
    assert response.status_code == 200, response.text
    assert flask_saw == ["/oauth/token"]


def test_a_json_body_reaches_flask(flask_saw, portal):
    response = requests.post(
        f"{portal.issuer}/oauth/token",
        json={"grant_type": "client_credentials"},
        auth=portal.auth,
        timeout=5,
    )
    assert response.status_code == 400
    assert flask_saw == ["/oauth/token"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("", 400, "invalid_request"),
        ("token=x&token=y", 400, "invalid_request"),
    ],
)
def test_introspection_requests_it_does_not_answer_reach_flask(
    flask_saw, portal, body, status, error
):
    response = _post(f"{portal.issuer}/oauth/introspect", body, auth=portal.auth)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert flask_saw == ["/oauth/introspect"]


@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke"])
def test_an_unknown_token_type_hint_is_ignored(fastpath, portal, user_tokens, path):
    """RFC 7009 §2.1: an invalid hint is ignored (RFC 7662 §2.1 lets the server ignore
    it too); the token is found by its shape, on both paths."""
    token = user_tokens["access_token"]
    body = f"token={token}&token_type_hint=id_token"
    for enabled in (True, False):
        fastpath.enabled = enabled
        response = _post(f"{portal.issuer}{path}", body, auth=portal.auth)
        assert response.status_code == 200, response.text
        if path == "/oauth/introspect":
            assert response.json()["active"] is True
    assert portal.is_active(token) is (path == "/oauth/introspect")


def test_introspection_with_a_wrong_secret_reaches_flask(flask_saw, portal, user_tokens):
    flask_saw.clear()
    response = _post(
        f"{portal.issuer}/oauth/introspect",
        f"token={user_tokens['access_token']}",
        auth=(portal.client_id, "wrong"),
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert flask_saw == ["/oauth/introspect"]


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Bearer ", "Basic abc", None])
def test_userinfo_refusals_reach_flask(flask_saw, live_server, header):
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{live_server}/oauth/userinfo", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert flask_saw == ["/oauth/userinfo"]


def test_userinfo_without_openid_scope_reaches_flask(flask_saw, live_server, portal):
    token = portal.token(grant_type="client_credentials", scope="profile").json()["access_token"]
    response = requests.get(
        f"{live_server}/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 401  # a machine token has no owner to describe
    assert flask_saw == ["/oauth/userinfo"]


def test_the_token_limit_counts_fast_path_grants(app, database_url, make):
    """CIAM_TOKEN_RATE_LIMIT counts grants the fast path answered: past the limit the
    caller gets Flask's 429 (slow_down), and another IP is still served."""
    portal, secret = make.portal(scopes=["profile"])
    auth = "Basic " + base64.b64encode(f"{portal.client_id}:{secret}".encode()).decode()

    def grant(client, ip):
        return client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": auth},
            environ_base={"REMOTE_ADDR": ip},
        )

    with extra_app(database_url, CIAM_TOKEN_RATE_LIMIT="2/minute") as limited:
        client = limited.test_client()
        served = [grant(client, "192.0.2.60").status_code for _ in range(2)]
        refused = grant(client, "192.0.2.60")
        other = grant(client, "192.0.2.61")
    assert served == [200, 200]
    assert refused.status_code == 429
    assert refused.json["error"] == "slow_down"
    assert other.status_code == 200


@pytest.fixture
def offline(live_server, make):
    portal, secret = make.portal(scopes=["openid", "profile", "email", "offline_access"])
    client = client_for(live_server, portal, secret)
    return client, client.login(make.user().email)


def _refresh(client, refresh_token: str) -> requests.Response:
    return client.token(grant_type="refresh_token", refresh_token=refresh_token)


def test_refresh_matches_the_flask_answer(fastpath, flask_saw, offline):
    client, issued = offline
    first = issued["refresh_token"]
    fast = None

    def send():
        nonlocal first, fast
        response = _refresh(client, first)
        if fast is None:
            fast = response
        first = response.json().get("refresh_token", first)
        return response

    fast, slow = _both(fastpath, flask_saw, send)
    assert fast.status_code == slow.status_code == 200
    assert _headers(fast) == _headers(slow)
    one, two = fast.json(), slow.json()
    assert one.keys() == two.keys() >= {"access_token", "refresh_token", "id_token", "scope"}
    assert (one["scope"], one["expires_in"]) == (two["scope"], two["expires_in"])
    for name, volatile in (
        ("id_token", {"iat", "exp", "at_hash"}),
        ("access_token", {"jti", "iat", "exp"}),
    ):
        (_, a), (_, b) = (keys.verify(t[name]) for t in (one, two))
        assert {k: v for k, v in a.items() if k not in volatile} == {
            k: v for k, v in b.items() if k not in volatile
        }
    assert client.is_active(two["access_token"])


def test_a_reused_refresh_token_reaches_flask_and_revokes_the_family(flask_saw, offline):
    """The fast path claims nothing for a used token and hands it on; Flask sees the
    reuse (RFC 9700 §4.14.2) and revokes the whole family, successor included."""
    client, issued = offline
    flask_saw.clear()
    rotated = _refresh(client, issued["refresh_token"]).json()
    assert flask_saw == []
    replay = _refresh(client, issued["refresh_token"])
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert flask_saw == ["/oauth/token"]
    assert _refresh(client, rotated["refresh_token"]).status_code == 400
    assert not client.is_active(rotated["access_token"])


def test_another_portal_cannot_burn_a_refresh_token(live_server, make, offline):
    client, issued = offline
    other, secret = make.portal(scopes=["openid", "offline_access"])
    stolen = _refresh(client_for(live_server, other, secret), issued["refresh_token"])
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    assert _refresh(client, issued["refresh_token"]).status_code == 200


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "flask"])
def test_a_failure_after_rotation_is_taken_back_not_a_reuse(
    fastpath, flask_saw, offline, monkeypatch, fast
):
    """A rotation whose answer cannot be signed is not kept: the caller gets Flask's
    server error, and the portal's retry with the same refresh token succeeds
    instead of looking like a reuse that revokes the family (RFC 9700 §4.14.2)."""
    client, issued = offline
    fastpath.enabled = fast
    flask_saw.clear()

    def broken(*args, **kwargs):
        raise RuntimeError("no signing key")

    monkeypatch.setattr(keys, "sign", broken)
    response = _refresh(client, issued["refresh_token"])
    monkeypatch.undo()
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert response.headers["Cache-Control"] == "no-store"
    assert flask_saw == ["/oauth/token"]  # Flask gave the answer to the fault

    retry = _refresh(client, issued["refresh_token"])
    assert retry.status_code == 200, retry.text
    assert client.is_active(issued["access_token"])
    assert client.is_active(retry.json()["access_token"])


def test_refresh_with_a_scope_reaches_flask(flask_saw, offline):
    client, issued = offline
    flask_saw.clear()
    response = client.token(
        grant_type="refresh_token", refresh_token=issued["refresh_token"], scope="openid"
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "openid"
    assert flask_saw == ["/oauth/token"]


ADDRESS = {
    "street_address": "100 Main Street\nSuite 4",
    "locality": "Hartford",
    "region": "CT",
    "postal_code": "06103",
    "country": "US",
}


def _with_address(make):
    from ciam.extensions import db

    user = make.user()
    user.address = dict(ADDRESS)
    db.session.commit()
    return user


def test_userinfo_releases_the_address_on_both_paths(fastpath, flask_saw, live_server, make):
    """Scope `address` (OIDC Core §5.4) releases the §5.1.1 address object, with its
    `formatted` lines, the same from the fast path and from Flask."""
    portal_row, secret = make.portal(scopes=["openid", "profile", "email", "address"])
    rp = client_for(live_server, portal_row, secret)
    tokens = rp.login(_with_address(make).email, scope="openid address")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    fast, slow = _both(
        fastpath,
        flask_saw,
        lambda: requests.get(f"{live_server}/oauth/userinfo", headers=bearer, timeout=5),
    )
    assert fast.json() == slow.json()
    assert fast.json()["address"] == {
        **ADDRESS,
        "formatted": "100 Main Street\nSuite 4\n06103 Hartford CT\nUS",
    }


def test_no_address_without_the_scope(live_server, make):
    """Without scope `address` nothing of the address is released."""
    portal_row, secret = make.portal(scopes=["openid", "profile", "email", "address"])
    rp = client_for(live_server, portal_row, secret)
    tokens = rp.login(_with_address(make).email, scope="openid profile email")
    info = requests.get(
        f"{live_server}/oauth/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    ).json()
    assert "address" not in info and info["sub"]


def _basic_header(client_id: str, secret: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.parametrize(
    ("body", "scheme"),
    [
        ("grant_type=client_credentials&scope=", "Basic"),
        ("grant_type=client_credentials&scope=profile+profile", "Basic"),
        ("grant_type=client_credentials&scope=email%20openid", "Basic"),
        ("grant_type=client_credentials", "basic"),  # RFC 7235 §2.1: case-insensitive
    ],
)
def test_client_credentials_edge_cases_match_the_flask_answer(
    fastpath, flask_saw, portal, body, scheme
):
    """Requests the fast path answers, sent again to Flask: the same status, scope
    and headers (one rule for the scope and the credentials, ciam.oidc.grants and
    ciam.oidc.client_auth)."""
    headers = {**FORM, "Authorization": _basic_header(portal.client_id, portal.secret, scheme)}
    fast, slow = _both(
        fastpath, flask_saw, lambda: _post(f"{portal.issuer}/oauth/token", body, headers=headers)
    )
    assert fast.status_code == slow.status_code == 200, (fast.text, slow.text)
    assert _headers(fast) == _headers(slow)
    assert fast.json()["scope"] == slow.json()["scope"]


def test_a_refresh_with_body_credentials_too_is_refused_on_both_paths(fastpath, flask_saw, offline):
    """RFC 6749 §2.3: HTTP Basic and a client_secret in the body is two methods:
    invalid_request whoever reads the request, and the token is not burnt."""
    client, issued = offline
    body = f"grant_type=refresh_token&refresh_token={issued['refresh_token']}&client_secret=x"
    for enabled in (True, False):
        fastpath.enabled = enabled
        response = _post(f"{client.issuer}/oauth/token", body, auth=client.auth)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    fastpath.enabled = True
    assert _refresh(client, issued["refresh_token"]).status_code == 200
