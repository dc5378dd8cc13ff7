"""Recovery codes: 10 single-use look-up secrets (NIST 800-63B §5.1.2) of 60 bits,
stored as keyed hashes, shown once, all replaced on regeneration."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import cast

from sqlalchemy import CursorResult

from ciam.accounts.mfa.factors import has_factor, keyed_hash, notify
from ciam.accounts.mfa.models import RecoveryCode
from ciam.accounts.models import User
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.errors import CiamError
from ciam.extensions import db

RECOVERY_CODE_COUNT = 10

# Crockford-style alphabet without look-alikes (0/o, 1/l/i): 32 symbols, 5 bits each.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

RECOVERY_CODE_LENGTH = 12


def _normalize_recovery(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def generate_recovery_codes(user: User, ctx: ActorContext) -> list[str]:
    """Ten new codes, replacing all earlier ones. Returned once; only hashes are kept."""
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=keyed_hash("recovery", raw)))
    db.session.flush()
    record(AuditTag.ACCOUNT_RECOVERY_CODES_GENERATED, ctx, actor_id=user.id, count=len(codes))
    return codes


def remaining_recovery_codes(user_id: uuid.UUID) -> int:
    query = db.select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return db.session.scalar(query) or 0


def regenerate_recovery_codes(user: User, ctx: ActorContext) -> list[str]:
    if not has_factor(user.id):
        raise CiamError("Set up a second factor first.", code="no_factor")
    return generate_recovery_codes(user, ctx)


def use_recovery_code(user: User, code: str | None, ctx: ActorContext) -> bool:
    normalized = _normalize_recovery(code)
    if len(normalized) != RECOVERY_CODE_LENGTH:
        return False
    code_hash = keyed_hash("recovery", normalized)
    statement = (
        db.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult, db.session.execute(statement)).rowcount
    if claimed != 1:
        return False
    remaining = remaining_recovery_codes(user.id)
    record(AuditTag.ACCOUNT_RECOVERY_CODES_USED, ctx, actor_id=user.id, remaining=remaining)
    notify(
        user,
        "A recovery code was used",
        f"A recovery code was used to sign in to your account; {remaining} are left. "
        "Make new ones on the two-step verification page if you are running low."
        "\n\nIf this was not you, reset your password and contact support.",
    )
    return True
