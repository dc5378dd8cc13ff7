"""App-wide rules: configuration safety, blueprint authentication, error shapes."""

from __future__ import annotations

import pytest

from ciam.config import _secret_key, validate_issuer
from ciam.errors import ConfigError


@pytest.mark.parametrize(
    "issuer",
    ["http://id.example.test", "http://10.0.0.5:8000", "ftp://127.0.0.1", "https://x.test/?a=1"],
)
def test_insecure_or_malformed_issuer_is_refused(issuer):
    """DESIGN §8: http is only for loopback; anything else refuses to start."""
    with pytest.raises(ConfigError):
        validate_issuer(issuer)


@pytest.mark.parametrize(
    "issuer", ["https://id.example.test", "http://127.0.0.1:8000", "http://localhost:8000"]
)
def test_https_and_loopback_issuers_are_accepted(issuer):
    """https anywhere, plain http on loopback (demo, tests)."""
    assert validate_issuer(issuer + "/") == issuer


def test_unknown_json_path_gives_json_404(client):
    """Machine endpoints answer errors as JSON, never an HTML page."""
    response = client.get("/oauth/nope")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_unknown_page_gives_readable_404(client):
    """People get a page, not a stack trace."""
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"<h1>" in response.data


def test_token_endpoint_get_is_405_json(client):
    """A wrong method on an OAuth endpoint is a JSON 405 with Allow, never a 500."""
    response = client.get("/oauth/token")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    """Without CIAM_SECRET_KEY a random key is made once, kept in instance/, mode 600."""
    monkeypatch.delenv("CIAM_SECRET_KEY", raising=False)
    key = _secret_key(tmp_path)
    assert len(key) > 40
    assert _secret_key(tmp_path) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("ttl", ["0", "61", "600"])
def test_code_lifetime_above_sixty_seconds_is_refused(ttl, monkeypatch, tmp_path):
    """Authorization codes live at most 60 s; a longer CIAM_CODE_TTL refuses to start."""
    from ciam.config import load_config

    monkeypatch.setenv("CIAM_CODE_TTL", ttl)
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {"SECRET_KEY": "x"})
