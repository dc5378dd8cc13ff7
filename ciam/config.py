"""Settings from CIAM_* environment variables, with dev/test/prod defaults.

Every setting the operator can change is read here and nowhere else, so the README's
configuration table and this module can be checked against each other.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from ciam.errors import ConfigError

LOOPBACK_NAMES = {"localhost"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_issuer(issuer: str) -> str:
    """An issuer is an https URL, or http on a loopback host (demo, tests).

    OIDC Discovery §3: the issuer is a case-sensitive https URL with no query or fragment.
    Plain http anywhere but loopback would send session cookies and codes in clear text.
    """
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        raise ConfigError(f"CIAM_ISSUER must be a URL without query or fragment: {issuer!r}")
    if parts.scheme == "https":
        return issuer.rstrip("/")
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return issuer.rstrip("/")
    raise ConfigError(
        f"CIAM_ISSUER {issuer!r} must use https (plain http is only allowed on loopback)"
    )


def _secret_key(instance_path: Path) -> str:
    """CIAM_SECRET_KEY, or a random key kept in instance/ so restarts keep sessions.

    The key also derives the encryption key for signing keys at rest, so losing it
    means rotating every signing key: production should set it explicitly.
    """
    configured = _env("CIAM_SECRET_KEY")
    if configured:
        return configured
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the Flask config dict. `overrides` (tests) win over the environment."""
    overrides = dict(overrides or {})
    inst = Path(instance_path)
    issuer = validate_issuer(
        overrides.pop("CIAM_ISSUER", None) or _env("CIAM_ISSUER", "http://127.0.0.1:8000")
    )
    database_url = _env("CIAM_DATABASE_URL", f"sqlite:///{inst / 'ciam.db'}")
    config = {
        "CIAM_ISSUER": issuer,
        "CIAM_SECURE_COOKIES": issuer.startswith("https://"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "CIAM_REDIS_URL": _env("CIAM_REDIS_URL"),
        "CIAM_SMTP_URL": _env("CIAM_SMTP_URL"),
        "CIAM_MAIL_FROM": _env("CIAM_MAIL_FROM", "ciam <no-reply@localhost>"),
        # Inline: send outbox messages right after the request commits (demo, small
        # installs). Set 0 when `ciam worker` processes run.
        "CIAM_OUTBOX_INLINE": _env("CIAM_OUTBOX_INLINE", "1") == "1",
        "CIAM_OUTBOX_MAX_ATTEMPTS": _env_int("CIAM_OUTBOX_MAX_ATTEMPTS", 12),
        "CIAM_CRM": _env("CIAM_CRM", "local"),
        "CIAM_TRUSTED_PROXIES": _env_int("CIAM_TRUSTED_PROXIES", 0),
        # Lifetimes in seconds. RFC 9700 §4.2: codes short-lived; we allow 60 s.
        "CIAM_CODE_TTL": _env_int("CIAM_CODE_TTL", 60),
        "CIAM_ACCESS_TOKEN_TTL": _env_int("CIAM_ACCESS_TOKEN_TTL", 600),
        "CIAM_ID_TOKEN_TTL": _env_int("CIAM_ID_TOKEN_TTL", 3600),
        "CIAM_REFRESH_TOKEN_TTL": _env_int("CIAM_REFRESH_TOKEN_TTL", 30 * 86400),
        "CIAM_SESSION_IDLE_TIMEOUT": _env_int("CIAM_SESSION_IDLE_TIMEOUT", 15 * 60),
        "CIAM_SESSION_ABSOLUTE_TIMEOUT": _env_int("CIAM_SESSION_ABSOLUTE_TIMEOUT", 12 * 3600),
        # Password, MFA and email changes need a login at most this old.
        "CIAM_RECENT_AUTH_SECONDS": _env_int("CIAM_RECENT_AUTH_SECONDS", 300),
        # How long a new signing key is published before it signs (JWKS cache lifetime).
        "CIAM_KEY_PUBLISH_DELAY": _env_int("CIAM_KEY_PUBLISH_DELAY", 300),
        "CIAM_JWKS_MAX_AGE": _env_int("CIAM_JWKS_MAX_AGE", 300),
        "CIAM_KEY_CACHE_SECONDS": _env_int("CIAM_KEY_CACHE_SECONDS", 10),
        "CIAM_LOGIN_RATE_LIMIT": _env("CIAM_LOGIN_RATE_LIMIT", "20/minute;200/hour"),
        "RATELIMIT_STORAGE_URI": _env("CIAM_REDIS_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": 3600,
        "WTF_CSRF_SSL_STRICT": True,
        "SESSION_COOKIE_NAME": "__Host-ciam_flow" if issuer.startswith("https") else "ciam_flow",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": issuer.startswith("https"),
        "PERMANENT_SESSION_LIFETIME": 3600,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }
    config.update(overrides)
    if not 0 < config["CIAM_CODE_TTL"] <= 60:
        # Issue 2 / RFC 9700 §4.2: authorization codes live at most 60 seconds here.
        raise ConfigError("CIAM_CODE_TTL must be between 1 and 60 seconds.")
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = _secret_key(inst)
    return config
