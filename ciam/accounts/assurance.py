"""Authentication method references (`amr`, RFC 8176) and the context class (`acr`,
OIDC Core §2) that ID tokens carry.

amr values we emit:
- "pwd": a password (RFC 8176 §2);
- "otp": a TOTP code from an authenticator app (RFC 8176 §2, one-time password);
- "sms": a code sent by text message (RFC 8176 §2, confirmation by SMS);
- "rc":  a single-use recovery code, a look-up secret in NIST 800-63B §5.1.2 terms.
  RFC 8176 registers no value for it, and §1 leaves the meaning of other values to
  the parties, so we document ours;
- "mfa": added whenever two or more factors were used (RFC 8176 §2 "multiple-factor
  authentication"), the value most relying parties check.

acr: "mfa" when a second factor was used in the login behind the token; absent
otherwise (a password alone claims no particular assurance). A portal asks for it
with `acr_values=mfa` (or a `claims` request for an `acr` of "mfa").
"""

from __future__ import annotations

from collections.abc import Iterable

from ciam import jsonsafe

PWD = "pwd"  # noqa: S105 - the RFC 8176 amr value, not a password
TOTP = "otp"
SMS = "sms"
RECOVERY_CODE = "rc"
MULTI_FACTOR = "mfa"

SECOND_FACTORS = frozenset({TOTP, SMS, RECOVERY_CODE})
MFA_ACR = "mfa"


def used_second_factor(amr: Iterable[str] | None) -> bool:
    return bool(SECOND_FACTORS.intersection(amr or ()))


def acr_for(amr: Iterable[str] | None) -> str | None:
    return MFA_ACR if used_second_factor(amr) else None


def combine(first: Iterable[str], second: str) -> list[str]:
    """The amr after a second factor: what was already used, the new method, "mfa"."""
    amr = [m for m in first if m != MULTI_FACTOR]
    if second not in amr:
        amr.append(second)
    amr.append(MULTI_FACTOR)
    return amr


def first_factors(amr: Iterable[str] | None) -> list[str]:
    """The non-second-factor part of an amr (what a step-up builds on)."""
    kept = [m for m in amr or () if m not in SECOND_FACTORS and m != MULTI_FACTOR]
    return kept or [PWD]


def mfa_requested(acr_values: str | None, claims: str | None) -> bool:
    """Does this authorization request ask for a second factor? Either through
    `acr_values` (OIDC Core §3.1.2.1) or a `claims` request (§5.5.1.1) for the ID
    token's `acr` with the value "mfa". A malformed `claims` asks for nothing."""
    if MFA_ACR in (acr_values or "").split():
        return True
    if not claims:
        return False
    try:
        parsed = jsonsafe.loads(claims)
    except ValueError:
        return False
    id_token = parsed.get("id_token") if isinstance(parsed, dict) else None
    acr = id_token.get("acr") if isinstance(id_token, dict) else None
    if not isinstance(acr, dict):
        return False
    values = acr.get("values")
    return acr.get("value") == MFA_ACR or (isinstance(values, list) and MFA_ACR in values)
