"""argon2id password hashing (argon2-cffi) with OWASP parameters.

OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. Hashes made with
older parameters are upgraded on the next successful login (check_needs_rehash).
"""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ciam.errors import CiamError

MIN_LENGTH = 8
# NIST 800-63B §3.1.1.2 asks for at least 64; the cap only stops hashing megabytes.
MAX_LENGTH = 1024

hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Verifying against this when the account does not exist costs the same time as a
# real check, so response timing does not reveal which emails have accounts.
_DUMMY_HASH = hasher.hash("ciam-dummy-password-for-timing")


class PasswordRejected(CiamError):
    code = "password_rejected"


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        burn_time(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


def burn_time(password: str) -> None:
    with contextlib.suppress(VerifyMismatchError):
        hasher.verify(_DUMMY_HASH, password[:MAX_LENGTH])
