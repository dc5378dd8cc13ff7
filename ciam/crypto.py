"""Hashing and encryption of secrets at rest (DESIGN §5.5).

Tokens, codes, session ids and client secrets are high-entropy random strings, so a
single SHA-256 is the right hash (a slow KDF buys nothing against 256-bit guesses and
would cost ~20 ms per token request). Private keys are encrypted with Fernet under a
key derived from CIAM_SECRET_KEY with HKDF, one derived key per purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def secret_matches(value: str, expected_hash: str | None) -> bool:
    if not expected_hash or value is None:
        return False
    return hmac.compare_digest(hash_secret(value), expected_hash)


def fernet_for(secret_key: str, purpose: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8"))))
