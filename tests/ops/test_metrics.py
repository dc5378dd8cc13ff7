"""/metrics (ciam.ops): Prometheus text behind a bearer token or on a port of its
own, 404 when neither is configured; requests by route template (the fast paths
too), tokens by grant, audit events by tag, the outbox read at scrape time; the
counts of several processes added up in multiprocess mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ciam.extensions import db
from ciam.outbox.services import enqueue
from tests.accounts.security_support import extra_app
from tests.oidc.attacker import client_for, userinfo

TOKEN = "metrics-scraper-token-0123456789abcdef"


def sample(body: str, name: str, **labels) -> float:
    """The value of one sample in a scrape, 0 when it is absent."""
    for family in text_string_to_metric_families(body):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


@pytest.fixture
def metrics_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "CIAM_METRICS_TOKEN", TOKEN)
    return TOKEN


def scrape(issuer: str) -> str:
    response = requests.get(
        f"{issuer}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def test_metrics_is_404_when_neither_token_nor_port_is_set(client):
    """Nothing configured: the endpoint does not exist for anyone."""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_metrics_refuses_a_missing_or_wrong_token(client, metrics_token, header):
    """RFC 6750 §3: 401 with a Bearer challenge, and no metric in the body."""
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"ciam_" not in response.data


def test_fast_path_requests_and_tokens_are_counted(live_server, make, metrics_token):
    """Requests answered before Flask (userinfo, client_credentials, refresh) count
    under their path; tokens count by grant; sign-ins by outcome (audit tags)."""
    portal, secret = make.portal(scopes=["openid", "profile", "email"])
    rp = client_for(live_server, portal, secret)
    before = scrape(live_server)
    tokens = rp.login(make.user().email)
    assert userinfo(live_server, tokens["access_token"]).status_code == 200
    assert rp.token(grant_type="client_credentials", scope="profile").status_code == 200
    assert rp.refresh(tokens["refresh_token"]).status_code == 200
    after = scrape(live_server)

    def grew(name: str, **labels) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("ciam_http_requests_total", endpoint="/oauth/userinfo", status="200") == 1
    assert grew("ciam_http_requests_total", endpoint="/oauth/token", status="200") == 3
    assert grew("ciam_http_request_duration_seconds_count", endpoint="/oauth/userinfo") == 1
    assert grew("ciam_tokens_issued_total", grant="authorization_code") == 1
    assert grew("ciam_tokens_issued_total", grant="client_credentials") == 1
    assert grew("ciam_tokens_issued_total", grant="refresh_token") == 1
    assert grew("ciam_audit_events_total", tag="account:login:success") == 1
    assert grew("ciam_http_requests_total", endpoint="/login", status="303") >= 1


def test_endpoint_label_is_the_route_template_never_the_path(client, metrics_token):
    """Cardinality stays bounded: a routed path counts under its template, an
    unknown one under "unmatched"; neither path appears in the scrape."""
    client.get("/invitations/some-link-token-value")
    client.get("/no/such/path/4f9a1c")
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert sample(body, "ciam_http_requests_total", endpoint="unmatched", status="404") >= 1
    assert "some-link-token-value" not in body and "4f9a1c" not in body
    templates = {
        s.labels["endpoint"]
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "ciam_http_requests_total"
    }
    assert any("<" in template for template in templates)  # /invitations/<token>, say


def test_outbox_depth_and_age_per_kind(client, ctx, metrics_token, monkeypatch):
    """Pending outbox messages are read at scrape time, per kind; sent ones are not."""
    monkeypatch.setitem(ctx.config, "CIAM_OUTBOX_INLINE", False)
    enqueue("webhook", {"n": 1})
    enqueue("webhook", {"n": 2})
    db.session.commit()
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert sample(body, "ciam_outbox_depth", kind="webhook") == 2
    assert sample(body, "ciam_outbox_oldest_age_seconds", kind="webhook") >= 0
    assert "ciam_crm_errors" in body  # declared for the CRM connector to come


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_metrics_on_a_port_of_their_own(database_url, app):
    """CIAM_METRICS_PORT: the first request a worker serves opens the port, which
    answers without a token (it is meant for the internal network); the main app's
    /metrics stays 404."""
    port = _free_port()
    with extra_app(database_url, CIAM_METRICS_PORT=port, RATELIMIT_ENABLED=False) as other:
        assert other.test_client().get("/metrics").status_code == 404
        try:
            body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        finally:
            server = other.extensions["ciam.ops.metrics_server"]
            server.shutdown()
            server.server_close()
    assert sample(body, "ciam_http_requests_total", endpoint="/metrics", status="404") >= 1


WORKER = textwrap.dedent(
    """
    from ciam.ops.metrics import REQUESTS, TOKENS
    REQUESTS.labels("/oauth/token", "200").inc(3)
    TOKENS.labels("refresh_token").inc()
    """
)
SCRAPER = textwrap.dedent(
    """
    import os
    from ciam import create_app
    from ciam.ops.exposition import render
    app = create_app({"SECRET_KEY": "x" * 40})
    body, _ = render(app, None)
    print(body.decode())
    """
)


def test_multiprocess_mode_adds_up_every_worker(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR (gunicorn, granian): two worker processes count,
    a third one's scrape reports their sum."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "CIAM_DATABASE_URL": f"sqlite:///{tmp_path}/ciam.db",
    }
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    scraped = subprocess.run(
        [sys.executable, "-c", SCRAPER], env=env, check=True, timeout=60, capture_output=True
    ).stdout.decode()
    assert sample(scraped, "ciam_http_requests_total", endpoint="/oauth/token", status="200") == 6
    assert sample(scraped, "ciam_tokens_issued_total", grant="refresh_token") == 2
