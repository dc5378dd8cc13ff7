"""Password policy and argon2id hashing.

Policy (NIST 800-63B §3.1.1.2, ASVS 2.1): a minimum length (CIAM_PASSWORD_MIN_LENGTH,
12 by default, never below 8), at least 64 characters allowed, no composition rules;
refuse common passwords, passwords that are easy to guess (zxcvbn score below
CIAM_PASSWORD_MIN_SCORE), passwords built from the email address, and, when
CIAM_BREACHED_PASSWORDS=hibp, passwords found in breaches (Pwned Passwords range API,
k-anonymity: only the first 5 hex digits of the SHA-1 leave the server).

Hashing: OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. Hashes made
with older parameters are upgraded on the next successful login (check_needs_rehash).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import urllib.error
import urllib.request
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

from ciam.errors import CiamError

log = logging.getLogger(__name__)

# NIST 800-63B §3.1.1.2: at least 8 characters, and never a lower floor than that.
MIN_LENGTH = 8
DEFAULT_MIN_LENGTH = 12
# NIST 800-63B §3.1.1.2 asks for at least 64; the cap only stops hashing megabytes.
MAX_LENGTH = 1024
DEFAULT_MIN_SCORE = 3
# zxcvbn refuses longer input (its matching is quadratic). A prefix's guess count is a
# lower bound for the whole password, so scoring the first 72 characters is safe.
ZXCVBN_MAX_LENGTH = 72
PWNED_PASSWORDS_URL = "https://api.pwnedpasswords.com"
BREACH_CHECK_TIMEOUT = 3  # seconds; past this the local fallback list answers

hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Verifying against this when the account does not exist costs the same time as a
# real check, so response timing does not reveal which emails have accounts.
_DUMMY_HASH = hasher.hash("ciam-dummy-password-for-timing")


@cache
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most used passwords (from leaked password corpora).

    zxcvbn and its lists are imported on first use, not with this module: they hold
    ~12 MB in memory, and a web worker that only signs people in (the login path
    verifies, it never checks a new password) should not carry them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


class PasswordRejected(CiamError):
    code = "password_rejected"


def _setting(name: str, default):
    if has_app_context():
        return current_app.config.get(name, default)
    return default


def min_length() -> int:
    return max(MIN_LENGTH, int(_setting("CIAM_PASSWORD_MIN_LENGTH", DEFAULT_MIN_LENGTH)))


def _email_local_part(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    local = email.rpartition("@")[0].strip().casefold()
    return local if len(local) >= 3 else None


def _is_common(password: str, sequence: list[dict]) -> bool:
    """On the common list, or made only of pieces of it ("password" + "123456")."""
    if password.casefold() in _common_passwords():
        return True
    return bool(sequence) and all(
        match["pattern"] == "dictionary" and match.get("dictionary_name") == "passwords"
        for match in sequence
    )


def _weak_message(result: dict) -> str:
    feedback = result.get("feedback") or {}
    hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
    message = "This password is too easy to guess. A few unrelated words make a strong one."
    return f"{message} ({hint.rstrip('.')}.)" if hint else message


@cache
def fallback_breached() -> frozenset[str]:
    """The shipped list used when the breach API cannot be reached (case-folded)."""
    text = resources.files("ciam.accounts").joinpath("data/breached-passwords.txt").read_text()
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _pwned_range(prefix: str) -> str:
    base = _setting("CIAM_BREACHED_PASSWORDS_URL", PWNED_PASSWORDS_URL).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"CIAM_BREACHED_PASSWORDS_URL must be http(s): {base!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        f"{base}/range/{prefix}",
        # Add-Padding: the response size no longer hints at the prefix's bucket.
        headers={"Add-Padding": "true", "User-Agent": "ciam-password-policy"},
    )
    with urllib.request.urlopen(request, timeout=BREACH_CHECK_TIMEOUT) as response:  # noqa: S310
        return response.read().decode("utf-8", "replace")


def is_breached(password: str) -> bool:
    """Pwned Passwords range API (k-anonymity), or the shipped list when it is down."""
    digest = hashlib.sha1(password.encode("utf-8")).hexdigest().upper()  # noqa: S324 - the API's key
    prefix, suffix = digest[:5], digest[5:]
    try:
        body = _pwned_range(prefix)
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        log.warning("breached-password API unreachable, using the local list: %s", exc)
        return password.casefold() in fallback_breached()
    for line in body.splitlines():
        candidate, _, count = line.strip().partition(":")
        # Padding entries have a count of 0 and never match a real password.
        if candidate.upper() == suffix and count.strip() not in ("", "0"):
            return True
    return False


def check_policy(password: str, email: str | None = None) -> None:
    """Raise PasswordRejected (with a code per rule) if the password may not be set."""
    minimum = min_length()
    if len(password) < minimum:
        raise PasswordRejected(f"Use at least {minimum} characters.", code="password_too_short")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.", code="password_too_long")
    local = _email_local_part(email)
    if local and local in password.casefold():
        raise PasswordRejected(
            "Do not use your email address in your password.", code="password_contains_email"
        )
    user_inputs = [part for part in (email or "").casefold().replace("@", ".").split(".") if part]
    from zxcvbn import zxcvbn  # on first use: see _common_passwords

    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=user_inputs)
    if _is_common(password, result["sequence"]):
        raise PasswordRejected(
            "This is one of the most used passwords. Choose another.", code="password_common"
        )
    if result["score"] < int(_setting("CIAM_PASSWORD_MIN_SCORE", DEFAULT_MIN_SCORE)):
        raise PasswordRejected(_weak_message(result), code="password_weak")
    if _setting("CIAM_BREACHED_PASSWORDS", None) == "hibp" and is_breached(password):
        raise PasswordRejected(
            "This password has appeared in a data breach, so attackers try it. Choose another.",
            code="password_breached",
        )


@cache
def _hashing_slots() -> threading.BoundedSemaphore:
    """At most one argon2id computation at a time per core this process may use.

    A threaded worker pinned to one core (granian's blocking threads, gunicorn's
    gthread) would otherwise run several at once: each holds its own 19 MiB, and
    they evict each other's memory from the CPU caches, so every one of them ends
    later. Measured (bench, granian with four threads on one core, back to back):
    20-23 logins/s at 42-49 ms of CPU each without this, 28-29/s at 34-36 ms with
    it; peak worker RSS 181-200 MB against 142-161 MB. Read on first use, after the
    server has forked and pinned its workers."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core
    cores = len(affinity(0)) if affinity else os.cpu_count() or 1
    return threading.BoundedSemaphore(cores)


def hash_password(password: str) -> str:
    with _hashing_slots():
        return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        burn_time(password)
        return False
    try:
        with _hashing_slots():
            return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


def burn_time(password: str) -> None:
    with contextlib.suppress(VerifyMismatchError), _hashing_slots():
        hasher.verify(_DUMMY_HASH, password[:MAX_LENGTH])
