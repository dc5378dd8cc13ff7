"""Settings from CIAM_* environment variables, with dev/test/prod defaults.

Every setting the operator can change is read here and nowhere else, so the README's
configuration table and this module can be checked against each other.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any
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


def _env_list(name: str, default: tuple[str, ...]) -> list[str]:
    raw = _env(name)
    if raw is None:
        return list(default)
    return [item.strip().lower() for item in raw.split(",") if item.strip()]


# Free webmail providers: an address there says nothing about the employer.
DEFAULT_PUBLIC_EMAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "gmx.com",
    "web.de",
    "t-online.de",
    "freenet.de",
    "posteo.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "zoho.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "btinternet.com",
)


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


MAX_LOCKOUT_THRESHOLD = 100


def validate_lockout(config: dict) -> None:
    """NIST 800-63B §5.2.2: at most 100 consecutive failed attempts on one account."""
    threshold = config["CIAM_LOCKOUT_THRESHOLD"]
    if not 1 <= threshold <= MAX_LOCKOUT_THRESHOLD:
        raise ConfigError(
            f"CIAM_LOCKOUT_THRESHOLD must be between 1 and {MAX_LOCKOUT_THRESHOLD}, "
            f"got {threshold} (NIST 800-63B §5.2.2 allows at most 100 failed attempts)"
        )
    if config["CIAM_LOCKOUT_BASE_SECONDS"] < 1:
        raise ConfigError("CIAM_LOCKOUT_BASE_SECONDS must be at least 1")
    if config["CIAM_LOCKOUT_MAX_SECONDS"] < config["CIAM_LOCKOUT_BASE_SECONDS"]:
        raise ConfigError("CIAM_LOCKOUT_MAX_SECONDS must not be below CIAM_LOCKOUT_BASE_SECONDS")


def validate_password_policy(config: dict) -> None:
    """NIST 800-63B §3.1.1.2: passwords of at least 8 characters; a lower minimum
    refuses to start. The breach check is "off" or "hibp" over http(s)."""
    if config["CIAM_PASSWORD_MIN_LENGTH"] < 8:
        raise ConfigError("CIAM_PASSWORD_MIN_LENGTH must be at least 8 (NIST 800-63B)")
    if not 0 <= config["CIAM_PASSWORD_MIN_SCORE"] <= 4:
        raise ConfigError("CIAM_PASSWORD_MIN_SCORE must be a zxcvbn score from 0 to 4")
    if config["CIAM_BREACHED_PASSWORDS"] not in ("off", "hibp"):
        raise ConfigError("CIAM_BREACHED_PASSWORDS must be 'off' or 'hibp'")
    if not config["CIAM_BREACHED_PASSWORDS_URL"].startswith(("https://", "http://")):
        raise ConfigError("CIAM_BREACHED_PASSWORDS_URL must be an http(s) URL")


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
        overrides.pop("CIAM_ISSUER", None) or _env("CIAM_ISSUER") or "http://127.0.0.1:8000"
    )
    database_url = _env("CIAM_DATABASE_URL", f"sqlite:///{inst / 'ciam.db'}")
    config: dict[str, Any] = {
        "CIAM_ISSUER": issuer,
        "CIAM_SECURE_COOKIES": issuer.startswith("https://"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # No pre-ping: it costs a `SELECT 1` round trip on every request. Connections
        # are recycled instead, so one dropped by the server or a proxy fails at
        # most one request before the pool replaces it.
        # hide_parameters: a database error in a log line never shows the values
        # bound to its statement (an email, a token hash, an outbox payload).
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_recycle": _env_int("CIAM_DB_POOL_RECYCLE", 1800),
            "hide_parameters": True,
        },
        # On PostgreSQL the token, userinfo and introspection paths use their own
        # autocommit connections and prepared statements (ciam.hotsql). Off (0) for
        # a connection pooler that cannot keep prepared statements (PgBouncer in
        # transaction mode before 1.21 or without max_prepared_statements).
        "CIAM_DB_HOT_CONNECTIONS": _env("CIAM_DB_HOT_CONNECTIONS", "1") == "1",
        "CIAM_REDIS_URL": _env("CIAM_REDIS_URL"),
        "CIAM_SMTP_URL": _env("CIAM_SMTP_URL"),
        "CIAM_MAIL_FROM": _env("CIAM_MAIL_FROM", "ciam <no-reply@localhost>"),
        # Inline: send outbox messages right after the request commits (demo, small
        # installs). Set 0 when `ciam worker` processes run.
        "CIAM_OUTBOX_INLINE": _env("CIAM_OUTBOX_INLINE", "1") == "1",
        "CIAM_OUTBOX_MAX_ATTEMPTS": _env_int("CIAM_OUTBOX_MAX_ATTEMPTS", 12),
        "CIAM_CRM": _env("CIAM_CRM", "local"),
        # The mirror (ciam.crm.mirror): how often `ciam worker` reads what changed, and
        # which contract statuses count as active (comma-separated).
        "CIAM_CRM_POLL_SECONDS": _env_int("CIAM_CRM_POLL_SECONDS", 300),
        "CIAM_CRM_ACTIVE_STATUSES": _env_list("CIAM_CRM_ACTIVE_STATUSES", ("activated",)),
        # Invitations (ciam.invitations): link lifetime in seconds, the most items one
        # batch request may carry, items created per worker step, the shortest time
        # between two sends of one invitation, and the largest batch body in bytes.
        "CIAM_INVITATION_TTL": _env_int("CIAM_INVITATION_TTL", 7 * 86400),
        "CIAM_INVITATION_BATCH_MAX": _env_int("CIAM_INVITATION_BATCH_MAX", 10_000),
        "CIAM_INVITATION_BATCH_CHUNK": _env_int("CIAM_INVITATION_BATCH_CHUNK", 500),
        "CIAM_INVITATION_RESEND_INTERVAL": _env_int("CIAM_INVITATION_RESEND_INTERVAL", 300),
        "CIAM_INVITATION_BATCH_MAX_BYTES": _env_int(
            "CIAM_INVITATION_BATCH_MAX_BYTES", 8 * 1024 * 1024
        ),
        # Webmail domains (DESIGN §3): a lead invited with such an address is flagged,
        # and never matched to a customer by its domain. Comma-separated.
        "CIAM_PUBLIC_EMAIL_DOMAINS": _env_list(
            "CIAM_PUBLIC_EMAIL_DOMAINS", DEFAULT_PUBLIC_EMAIL_DOMAINS
        ),
        "CIAM_TRUSTED_PROXIES": _env_int("CIAM_TRUSTED_PROXIES", 0),
        # Operations (ciam.ops): /metrics answers a bearer token, or a port of its own,
        # or nobody (404) when neither is set; log lines are JSON unless "text".
        "CIAM_METRICS_TOKEN": _env("CIAM_METRICS_TOKEN"),
        "CIAM_METRICS_PORT": _env_int("CIAM_METRICS_PORT", 0),
        "CIAM_LOG_FORMAT": _env("CIAM_LOG_FORMAT", "json"),
        "CIAM_LOG_LEVEL": (_env("CIAM_LOG_LEVEL", "INFO") or "INFO").upper(),
        # Lifetimes in seconds. RFC 9700 §4.2: codes short-lived; we allow 60 s.
        "CIAM_CODE_TTL": _env_int("CIAM_CODE_TTL", 60),
        "CIAM_ACCESS_TOKEN_TTL": _env_int("CIAM_ACCESS_TOKEN_TTL", 600),
        "CIAM_ID_TOKEN_TTL": _env_int("CIAM_ID_TOKEN_TTL", 3600),
        "CIAM_REFRESH_TOKEN_TTL": _env_int("CIAM_REFRESH_TOKEN_TTL", 30 * 86400),
        "CIAM_SESSION_IDLE_TIMEOUT": _env_int("CIAM_SESSION_IDLE_TIMEOUT", 15 * 60),
        "CIAM_SESSION_ABSOLUTE_TIMEOUT": _env_int("CIAM_SESSION_ABSOLUTE_TIMEOUT", 12 * 3600),
        # Password, MFA and email changes need a login at most this old.
        "CIAM_RECENT_AUTH_SECONDS": _env_int("CIAM_RECENT_AUTH_SECONDS", 300),
        # Password policy (NIST 800-63B §3.1.1.2): minimum length (never below 8), the
        # lowest zxcvbn score accepted (0-4), and the breached-password check: "hibp"
        # asks the Pwned Passwords range API (k-anonymity), falling back to a local list.
        "CIAM_PASSWORD_MIN_LENGTH": _env_int("CIAM_PASSWORD_MIN_LENGTH", 12),
        "CIAM_PASSWORD_MIN_SCORE": _env_int("CIAM_PASSWORD_MIN_SCORE", 3),
        "CIAM_BREACHED_PASSWORDS": _env("CIAM_BREACHED_PASSWORDS", "off"),
        "CIAM_BREACHED_PASSWORDS_URL": _env(
            "CIAM_BREACHED_PASSWORDS_URL", "https://api.pwnedpasswords.com"
        ),
        # Per-IP limit on password reset requests (each sends an email).
        "CIAM_RESET_RATE_LIMIT": _env("CIAM_RESET_RATE_LIMIT", "5/minute;50/hour"),
        # How long a new signing key is published before it signs (JWKS cache lifetime).
        "CIAM_KEY_PUBLISH_DELAY": _env_int("CIAM_KEY_PUBLISH_DELAY", 300),
        "CIAM_JWKS_MAX_AGE": _env_int("CIAM_JWKS_MAX_AGE", 300),
        "CIAM_KEY_CACHE_SECONDS": _env_int("CIAM_KEY_CACHE_SECONDS", 10),
        # How long each process trusts its copy of a portal (client) before re-reading
        # it; a change made on another node reaches this one within this delay.
        "CIAM_CLIENT_CACHE_SECONDS": _env_int("CIAM_CLIENT_CACHE_SECONDS", 10),
        # Failed sign-ins per IP (a right password never counts: NIST 800-63B §5.2.2).
        "CIAM_LOGIN_RATE_LIMIT": _env("CIAM_LOGIN_RATE_LIMIT", "20/minute;200/hour"),
        # Every sign-in attempt per IP, right or wrong: a flood ceiling only.
        "CIAM_LOGIN_ATTEMPTS_RATE_LIMIT": _env("CIAM_LOGIN_ATTEMPTS_RATE_LIMIT", "600/minute"),
        # Failed sign-ins per submitted email, whatever the IP (NIST 800-63B §5.2.2).
        "CIAM_LOGIN_ACCOUNT_RATE_LIMIT": _env("CIAM_LOGIN_ACCOUNT_RATE_LIMIT", "10/minute"),
        "CIAM_TOKEN_RATE_LIMIT": _env("CIAM_TOKEN_RATE_LIMIT", "600/minute"),
        # Lockout (NIST 800-63B §5.2.2, ASVS 2.2.1): after this many consecutive wrong
        # passwords the account locks for BASE seconds, doubling per lock up to MAX.
        "CIAM_LOCKOUT_THRESHOLD": _env_int("CIAM_LOCKOUT_THRESHOLD", 10),
        "CIAM_LOCKOUT_BASE_SECONDS": _env_int("CIAM_LOCKOUT_BASE_SECONDS", 60),
        "CIAM_LOCKOUT_MAX_SECONDS": _env_int("CIAM_LOCKOUT_MAX_SECONDS", 24 * 3600),
        # Second factors (MFA). Attempts on the login's second step, per person.
        "CIAM_MFA_RATE_LIMIT": _env("CIAM_MFA_RATE_LIMIT", "10/minute"),
        # NIST 800-63B §5.2.2: at most this many wrong second-factor codes in a row
        # (within a day) before the second step refuses further tries.
        "CIAM_MFA_MAX_FAILURES": _env_int("CIAM_MFA_MAX_FAILURES", 100),
        # The name authenticator apps show next to the account (the issuer's host).
        "CIAM_TOTP_ISSUER_NAME": _env("CIAM_TOTP_ISSUER_NAME", urlsplit(issuer).hostname),
        "CIAM_SMS_PROVIDER": _env("CIAM_SMS_PROVIDER", "console"),
        "CIAM_TWILIO_ACCOUNT_SID": _env("CIAM_TWILIO_ACCOUNT_SID"),
        "CIAM_TWILIO_AUTH_TOKEN": _env("CIAM_TWILIO_AUTH_TOKEN"),
        "CIAM_TWILIO_FROM": _env("CIAM_TWILIO_FROM"),
        "CIAM_TWILIO_BASE_URL": _env("CIAM_TWILIO_BASE_URL"),
        # No X-RateLimit-* headers: they cost two Redis round trips per limited
        # request. A refused request still gets Retry-After (ciam.ratelimit).
        "RATELIMIT_HEADERS_ENABLED": False,
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
    # Rate limits live in Redis when there is one, so all nodes count together (DESIGN §7).
    config.setdefault("RATELIMIT_STORAGE_URI", config["CIAM_REDIS_URL"] or "memory://")
    validate_lockout(config)
    validate_password_policy(config)
    if not 0 < config["CIAM_CODE_TTL"] <= 60:
        # Issue 2 / RFC 9700 §4.2: authorization codes live at most 60 seconds here.
        raise ConfigError("CIAM_CODE_TTL must be between 1 and 60 seconds.")
    if config["CIAM_INVITATION_TTL"] < 60 or config["CIAM_INVITATION_BATCH_CHUNK"] < 1:
        raise ConfigError("CIAM_INVITATION_TTL must be at least 60 s and the chunk at least 1.")
    if config["CIAM_LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError("CIAM_LOG_FORMAT must be 'json' or 'text'")
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = _secret_key(inst)
    return config
