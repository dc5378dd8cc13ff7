"""Signing keys: generation, rotation, and a per-process cache of parsed keys.

Rotation (`ciam keys rotate`) adds a key per algorithm whose `not_before` lies one
JWKS cache lifetime ahead: it is published at once and signs only once every relying
party has had time to fetch it. The key it replaces keeps signing until then and stays
published until the last token it signed has expired (`publish_until`).

Parsed keys and the JWKS document are cached per process and re-read every
CIAM_KEY_CACHE_SECONDS, or at the next boundary a timestamp names, so a rotation made
on one node is seen by every node without a per-request query or key parse.

The first keys are made by the server itself: the first request a process serves
creates any that are missing (KeyBootstrap), so `ciam db upgrade` and a start are
enough; `ciam init` does the same from the command line. Several nodes starting at
once create one key per algorithm between them (ensure_keys' lock).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.exc import SQLAlchemyError

from ciam.crypto import fernet_for
from ciam.db import utcnow
from ciam.errors import CiamError
from ciam.extensions import db
from ciam.oidc.models import SigningKey

SUPPORTED_ALGS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"
_FERNET_PURPOSE = "ciam.signing-keys"
# pg_advisory_xact_lock key of key creation (any constant no other lock uses).
_CREATE_LOCK = 0x6369616D6B657973  # "ciamkeys"
# A process that could not create its first keys (no tables yet) tries again after.
_BOOTSTRAP_RETRY_SECONDS = 5.0

log = logging.getLogger(__name__)


class InvalidJWT(Exception):
    """A presented JWT is malformed, unsigned, signed by an unknown key or alg."""


class NoSigningKey(CiamError):
    """No key can sign: the database has none and this process could not create one.
    A configuration state, not a fault of the request: 503, never a bare 500."""

    code = "temporarily_unavailable"
    status = 503


def _generate(alg: str):
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def _import_private(row: SigningKey):
    pem = fernet_for(current_app.config["SECRET_KEY"], _FERNET_PURPOSE).decrypt(
        row.private_key_encrypted.encode()
    )
    cls = RSAKey if row.alg == "RS256" else ECKey
    return cls.import_key(pem, parameters={"kid": row.kid, "alg": row.alg, "use": "sig"})


def create_key(alg: str, not_before: datetime | None = None) -> SigningKey:
    key = _generate(alg)
    kid = key.thumbprint()  # RFC 7638: stable, derived from the public key
    public = key.as_dict(private=False)
    public.update({"kid": kid, "alg": alg, "use": "sig"})
    encrypted = fernet_for(current_app.config["SECRET_KEY"], _FERNET_PURPOSE).encrypt(
        key.as_pem(private=True)
    )
    row = SigningKey(
        kid=kid,
        alg=alg,
        public_jwk=public,
        private_key_encrypted=encrypted.decode(),
        not_before=not_before or utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def _rows() -> list[SigningKey]:
    return list(db.session.scalars(db.select(SigningKey).order_by(SigningKey.not_before)))


def signer_rows(rows: list[SigningKey], now: datetime) -> dict[str, SigningKey]:
    """The signing key per alg: the newest key whose not_before has passed."""
    signers: dict[str, SigningKey] = {}
    for row in rows:
        if row.not_before <= now:
            signers[row.alg] = row  # rows are sorted by not_before
    return signers


def key_state(row: SigningKey, rows: list[SigningKey], now: datetime) -> str:
    if row.not_before > now:
        return "next"
    if signer_rows(rows, now).get(row.alg) is row:
        return "active"
    if row.publish_until is not None and row.publish_until <= now:
        return "expired"
    return "retired"


def max_token_lifetime() -> timedelta:
    cfg = current_app.config
    return timedelta(seconds=max(cfg["CIAM_ACCESS_TOKEN_TTL"], cfg["CIAM_ID_TOKEN_TTL"]))


def ensure_keys() -> list[SigningKey]:
    """Create a signing key for every supported alg that has none. Idempotent.

    Safe when several nodes run it at once: on PostgreSQL a transaction-scoped
    advisory lock makes the second wait for the first's commit and then find its
    keys; SQLite allows one writer, and the caller's commit decides (KeyBootstrap
    retries a process whose write lost). The lock is held until the caller commits.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
    existing = {row.alg for row in _rows()}
    return [create_key(alg) for alg in SUPPORTED_ALGS if alg not in existing]


def rotate(delay_seconds: int | None = None) -> list[SigningKey]:
    """Add the next key per alg; schedule the current signer's unpublishing."""
    if delay_seconds is None:
        delay_seconds = current_app.config["CIAM_KEY_PUBLISH_DELAY"]
    now = utcnow()
    starts = now + timedelta(seconds=delay_seconds)
    rows = _rows()
    signers = signer_rows(rows, now)
    created = []
    for alg in SUPPORTED_ALGS:
        for row in rows:  # a previously scheduled, not yet active key is superseded
            if row.alg == alg and row.not_before > now:
                row.publish_until = now
        current = signers.get(alg)
        if current is not None:
            current.publish_until = starts + max_token_lifetime()
        created.append(create_key(alg, not_before=starts))
    invalidate_cache()
    return created


def list_keys() -> list[tuple[SigningKey, str]]:
    rows = _rows()
    now = utcnow()
    return [(row, key_state(row, rows, now)) for row in rows]


# A signing or verifying key as joserfc takes it.
JoseKey = RSAKey | ECKey


@dataclass
class KeySnapshot:
    signers: dict[str, tuple[str, JoseKey]] = field(default_factory=dict)
    verifiers: dict[str, tuple[str, JoseKey]] = field(default_factory=dict)
    jwks_body: bytes = b'{"keys":[]}'
    jwks_etag: str = ""
    expires_monotonic: float = 0.0


class KeyCache:
    """Parsed keys and the JWKS body, rebuilt from the database when stale."""

    def __init__(self) -> None:
        self._snapshot = KeySnapshot()
        self._lock = threading.Lock()
        # Parsed keys by kid, kept across reloads: importing a private RSA key (with
        # OpenSSL's consistency check) takes ~35 ms, which a periodic reload would
        # otherwise add to one request per CIAM_KEY_CACHE_SECONDS. A kid is the
        # RFC 7638 thumbprint of the key, so it names the same key material forever.
        self._private: dict[str, JoseKey] = {}
        self._public: dict[str, JoseKey] = {}

    def invalidate(self) -> None:
        self._snapshot = KeySnapshot()

    def fresh(self) -> KeySnapshot | None:
        """The snapshot if it needs no reload (no app context needed), else None."""
        snapshot = self._snapshot
        return snapshot if time.monotonic() < snapshot.expires_monotonic else None

    def get(self) -> KeySnapshot:
        snapshot = self._snapshot
        if time.monotonic() < snapshot.expires_monotonic:
            return snapshot
        with self._lock:
            if time.monotonic() >= self._snapshot.expires_monotonic:
                self._snapshot = self._load()
            return self._snapshot

    def _load(self) -> KeySnapshot:
        now = utcnow()
        rows = _rows()
        published = [r for r in rows if r.publish_until is None or r.publish_until > now]
        private: dict[str, JoseKey] = {}
        public: dict[str, JoseKey] = {}
        for row in signer_rows(rows, now).values():
            private[row.kid] = self._private.get(row.kid) or _import_private(row)
        for row in published:
            cls = RSAKey if row.alg == "RS256" else ECKey
            public[row.kid] = self._public.get(row.kid) or cls.import_key(row.public_jwk)
        self._private, self._public = private, public  # keys no longer used are dropped
        signers = {alg: (row.kid, private[row.kid]) for alg, row in signer_rows(rows, now).items()}
        verifiers = {row.kid: (row.alg, public[row.kid]) for row in published}
        body = json.dumps(
            {"keys": [r.public_jwk for r in published]}, separators=(",", ":")
        ).encode()
        ttl = current_app.config["CIAM_KEY_CACHE_SECONDS"]
        # Reload early when a key starts signing or leaves the JWKS.
        boundaries = [r.not_before for r in rows if r.not_before > now]
        boundaries += [r.publish_until for r in published if r.publish_until]
        if boundaries:
            ttl = min(ttl, max(0.0, (min(boundaries) - now).total_seconds()))
        return KeySnapshot(
            signers=signers,
            verifiers=verifiers,
            jwks_body=body,
            jwks_etag=hashlib.sha256(body).hexdigest()[:32],
            expires_monotonic=time.monotonic() + ttl,
        )


def _cache() -> KeyCache:
    return current_app.extensions.setdefault("ciam.keys", KeyCache())


def invalidate_cache() -> None:
    _cache().invalidate()


def snapshot() -> KeySnapshot:
    return _cache().get()


def sign(claims: dict, alg: str = DEFAULT_ALG, typ: str = "JWT") -> str:
    signer = snapshot().signers.get(alg)
    if signer is None:
        raise NoSigningKey(
            f"No active {alg} signing key. Run `ciam db upgrade`, then `ciam init` "
            "(or `ciam keys rotate`), or check the server's log for why it could not "
            "create one.",
            code="temporarily_unavailable",
        )
    kid, key = signer
    header = {"alg": alg, "kid": kid, "typ": typ}
    payload = json.dumps(claims, separators=(",", ":"))
    return jws.serialize_compact(header, payload, key, algorithms=[alg])


def verify(token: str, typ: str | None = None) -> tuple[dict, dict]:
    """Verify a JWT we signed. Only our published keys and their own alg count:
    `none`, HMAC and algorithm confusion are refused before any crypto runs."""
    try:
        obj = jws.extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise InvalidJWT("malformed token") from exc
    header = obj.headers()
    entry = snapshot().verifiers.get(str(header.get("kid")))
    if entry is None:
        raise InvalidJWT("unknown key")
    alg, key = entry
    if header.get("alg") != alg:
        raise InvalidJWT("algorithm does not match the key")
    if typ is not None and str(header.get("typ", "")).lower() not in (typ, f"application/{typ}"):
        raise InvalidJWT("wrong token type")
    try:
        if not jws.validate_compact(obj, key, algorithms=[alg]):
            raise InvalidJWT("bad signature")
        claims = json.loads(obj.payload)
    except (JoseError, ValueError) as exc:
        raise InvalidJWT("bad signature") from exc
    if not isinstance(claims, dict):
        raise InvalidJWT("claims are not an object")
    return header, claims


def create_first_keys() -> list[SigningKey]:
    """ensure_keys in a transaction of its own, committed (for callers outside a
    request: the first-request bootstrap and `ciam init`)."""
    try:
        created = ensure_keys()
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    invalidate_cache()
    return created


class KeyBootstrap:
    """WSGI middleware: before the first request a process serves, create the
    signing keys that are missing, so a server started after `ciam db upgrade`
    alone signs tokens and publishes a JWKS (no `ciam init` needed). Afterwards
    it costs one attribute check per request. If the database cannot take them
    yet (not migrated), requests go on and it tries again a few seconds later."""

    def __init__(self, wsgi_app, app) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.pending = True
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if self.pending and time.monotonic() >= self._retry_at:
            self._bootstrap()
        return self.wsgi_app(environ, start_response)

    def _bootstrap(self) -> None:
        with self._lock:
            if not self.pending:
                return
            try:
                with self.app.app_context():
                    for row in create_first_keys():
                        log.info("created the first %s signing key %s", row.alg, row.kid)
                    db.session.remove()
            except SQLAlchemyError:
                log.warning("could not create signing keys yet; retrying", exc_info=True)
                self._retry_at = time.monotonic() + _BOOTSTRAP_RETRY_SECONDS
                return
            self.pending = False
