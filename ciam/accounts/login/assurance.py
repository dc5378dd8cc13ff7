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

acr values we assert (discovery's `acr_values_supported`, weakest first); every ID
token carries one:
- "password": the login used a password (or another first factor) only;
- "mfa": the login used a second factor as well.

`acr_values` is voluntary (OIDC Core §3.1.2.1): of the values asked for, the strongest
this person can do now is asserted. A person with a second factor is asked for it;
one without gets "password" and is not sent to set one up. Only an *essential* `acr`
in a `claims` request (§5.5.1.1), e.g. {"id_token": {"acr": {"essential": true,
"values": ["mfa"]}}}, or an organization that requires MFA, makes the second factor
due; an essential request naming no value we know is answered with
`unmet_authentication_requirements` (OpenID Connect Unmet Authentication
Requirements 1.0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ciam import jsonsafe

PWD = "pwd"  # noqa: S105 - the RFC 8176 amr value, not a password
TOTP = "otp"
SMS = "sms"
RECOVERY_CODE = "rc"
MULTI_FACTOR = "mfa"

SECOND_FACTORS = frozenset({TOTP, SMS, RECOVERY_CODE})
PASSWORD_ACR = "password"  # noqa: S105 - an acr value, not a password
MFA_ACR = "mfa"
SUPPORTED_ACRS = (PASSWORD_ACR, MFA_ACR)  # weakest first


def used_second_factor(amr: Iterable[str] | None) -> bool:
    return bool(SECOND_FACTORS.intersection(amr or ()))


def acr_for(amr: Iterable[str] | None) -> str:
    return MFA_ACR if used_second_factor(amr) else PASSWORD_ACR


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


@dataclass(frozen=True)
class AcrRequest:
    """The acr values a portal asked for: voluntary ones (`acr_values`, or a `claims`
    request without `essential`) and essential ones (a `claims` request with it)."""

    voluntary: frozenset[str] = frozenset()
    essential: frozenset[str] = frozenset()

    @property
    def mfa_required(self) -> bool:
        """An essential acr that only a second factor meets."""
        return MFA_ACR in self.essential and PASSWORD_ACR not in self.essential

    @property
    def mfa_wanted(self) -> bool:
        """A second factor is welcome, if the person has one."""
        return MFA_ACR in self.voluntary or self.mfa_required

    @property
    def unmet(self) -> bool:
        """Essential values were named and we assert none of them."""
        return bool(self.essential) and not self.essential.intersection(SUPPORTED_ACRS)


def _claims_acr(claims: str | None) -> dict:
    if not claims:
        return {}
    try:
        parsed = jsonsafe.loads(claims)
    except ValueError:
        return {}
    id_token = parsed.get("id_token") if isinstance(parsed, dict) else None
    acr = id_token.get("acr") if isinstance(id_token, dict) else None
    return acr if isinstance(acr, dict) else {}


def acr_request(acr_values: str | None, claims: str | None) -> AcrRequest:
    """Read the acr part of an authorization request. A malformed `claims` asks for
    nothing (it is the claims module's to refuse, not ours)."""
    acr = _claims_acr(claims)
    listed = acr.get("values")
    values = listed if isinstance(listed, list) else []
    if isinstance(acr.get("value"), str):
        values = [*values, acr["value"]]
    named = frozenset(v for v in values if isinstance(v, str))
    voluntary = frozenset((acr_values or "").split())
    if acr.get("essential") is True:
        return AcrRequest(voluntary, named)
    return AcrRequest(voluntary | named)
