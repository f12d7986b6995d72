"""Recovery codes: single-use lookup secrets for when the authenticator is lost (ASVS 5.0 6.5.1, 6.5.3).

Each code is 10 characters from a 31-character alphabet without look-alikes (no 0/o, 1/l/i),
shown as `abcde-fghij`: about 49.5 bits from the CSPRNG (`secrets`). Below 112 bits a lookup
secret must be stored with a salted password hashing scheme (NIST SP 800-63B §5.1.2.2), so codes
are stored as argon2id hashes made by identity's `PasswordHasher` (a fast salted SHA-256 would
fall to an offline GPU search of 2^49.5 per code). The cost is up to one argon2 verification per
unused code per attempt, which the per-user throttle (`MFALimits`) bounds.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import InvalidInput, ZerogateError
from zerogate.identity import _mfa_db, _tx, _users
from zerogate.identity._model import ChangeKind, ChangeRecorder, User
from zerogate.identity._passwords import PasswordHasher
from zerogate.identity._totp import MFALimits
from zerogate.identity._totp import record_credential_change as _record
from zerogate.store import Store

log = logging.getLogger("zerogate.identity")

RECOVERY_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_LENGTH = 10
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_MAX_COUNT = 20
_GROUP = 5
_MAX_INPUT = 64  # longer input is rejected before any work
_IGNORED = str.maketrans("", "", " -\t")


class RecoveryFailureReason(StrEnum):
    """Why a recovery code was refused: for the audit log only."""

    WRONG_CODE = "wrong_code"  # also: already used, or replaced by a newer set
    MALFORMED = "malformed"
    NO_CODES = "no_codes"
    USED_CONCURRENTLY = "used_concurrently"
    THROTTLED = "throttled"


class RecoveryCodeInvalid(ZerogateError):
    """The one opaque answer to every refused recovery code; `reason` is for the audit log."""

    code = "recovery_code_invalid"
    status = 401
    MESSAGE = "the recovery code is not valid"

    def __init__(self, reason: RecoveryFailureReason, *, user_id: UserID | None = None) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class VerifiedRecoveryCode:
    """A recovery code was spent: who, when, and how many unused codes are left."""

    user: User
    used_at: datetime
    remaining: int


def normalise_recovery_code(code: str) -> str | None:
    """`" ABCDE-fghij "` -> `"abcdefghij"`; None if it cannot be a recovery code."""
    if len(code) > _MAX_INPUT:
        return None
    text = code.translate(_IGNORED).lower()
    if len(text) != RECOVERY_CODE_LENGTH or any(c not in RECOVERY_CODE_ALPHABET for c in text):
        return None
    return text


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{raw[:_GROUP]}-{raw[_GROUP:]}"


class RecoveryCodes:
    """A user's recovery codes: generate a set (replacing the old one), use one, count the rest."""

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        limits: MFALimits | None = None,
        on_change: ChangeRecorder | None = None,
    ) -> None:
        self._store = store
        self._on_change = on_change
        self.hasher = hasher or PasswordHasher()
        self.limits = limits or MFALimits()
        self._failures = self.limits.window_for()

    def __repr__(self) -> str:
        return f"RecoveryCodes({self._store!r}, hasher={self.hasher!r}, limits={self.limits!r})"

    async def generate(
        self, user: User | str, *, count: int = RECOVERY_CODE_COUNT, now: datetime
    ) -> list[str]:
        """A new set of `count` codes, replacing every earlier code in one transaction.

        Show them once: only hashes are stored. Raises InvalidInput(`recovery_code_count_invalid`),
        NotFound(`user_not_found`).
        """
        if not 1 <= count <= RECOVERY_CODE_MAX_COUNT:
            raise InvalidInput(
                f"between 1 and {RECOVERY_CODE_MAX_COUNT} recovery codes",
                code="recovery_code_count_invalid",
            )
        codes = [new_recovery_code() for _ in range(count)]
        hashes = await asyncio.to_thread(
            lambda: [self.hasher.hash(normalise_recovery_code(c) or "") for c in codes]
        )

        def replace(conn: Connection) -> User:
            owner = _resolve(conn, user)
            _mfa_db.replace_recovery_codes(conn, owner.id, hashes, now=now)
            _record(self._on_change, conn, ChangeKind.RECOVERY_CODES_GENERATED, owner, now)
            return owner

        owner = await _tx.write(self._store, replace)
        log.info("recovery codes generated", extra={"user_id": owner.id, "count": count})
        return codes

    async def use(self, user: User | str, code: str, *, now: datetime) -> VerifiedRecoveryCode:
        """Spend one code; of two concurrent uses of one code exactly one succeeds.

        Case, spaces and dashes are ignored. Raises RecoveryCodeInvalid (reason `wrong_code`,
        `malformed`, `no_codes`, `used_concurrently`, `throttled`), NotFound(`user_not_found`).
        """
        owner = await self._user(user)
        clean = normalise_recovery_code(code)
        if clean is None:
            raise _refuse(RecoveryFailureReason.MALFORMED, owner.id)
        if not self._failures.hit(owner.id, now=now):
            raise _refuse(RecoveryFailureReason.THROTTLED, owner.id)
        unused = await _tx.read(
            self._store, lambda conn: _mfa_db.unused_recovery_codes(conn, owner.id)
        )
        if not unused:
            raise _refuse(RecoveryFailureReason.NO_CODES, owner.id)

        def find() -> str | None:
            return next((i for i, h in unused if self.hasher.verify(h, clean)), None)

        code_id = await asyncio.to_thread(find)
        if code_id is None:
            raise _refuse(RecoveryFailureReason.WRONG_CODE, owner.id)

        def spend(conn: Connection) -> int | None:
            if not _mfa_db.use_recovery_code(conn, code_id, now=now):
                return None
            _record(self._on_change, conn, ChangeKind.RECOVERY_CODE_USED, owner, now)
            return _mfa_db.count_unused(conn, owner.id)

        remaining = await _tx.write(self._store, spend)
        if remaining is None:
            raise _refuse(RecoveryFailureReason.USED_CONCURRENTLY, owner.id)
        self._failures.undo(owner.id)
        log.warning(  # a recovery is worth a look: the usual factor may be lost or stolen
            "recovery code used", extra={"user_id": owner.id, "remaining": remaining}
        )
        return VerifiedRecoveryCode(owner, now, remaining)

    async def remaining(self, user: User | str) -> int:
        """How many unused codes the user has."""
        return await _tx.read(
            self._store, lambda conn: _mfa_db.count_unused(conn, _resolve(conn, user).id)
        )

    async def _user(self, user: User | str) -> User:
        if isinstance(user, User):
            return user
        return await _tx.read(self._store, lambda conn: _resolve(conn, user))


def _resolve(conn: Connection, user: User | str) -> User:
    return user if isinstance(user, User) else _users.resolve_user(conn, user)


def _refuse(reason: RecoveryFailureReason, user_id: UserID) -> RecoveryCodeInvalid:
    log.info("recovery code refused", extra={"user_id": user_id, "reason": str(reason)})
    return RecoveryCodeInvalid(reason, user_id=user_id)


__all__ = [
    "RECOVERY_CODE_ALPHABET",
    "RECOVERY_CODE_COUNT",
    "RECOVERY_CODE_LENGTH",
    "RecoveryCodeInvalid",
    "RecoveryCodes",
    "RecoveryFailureReason",
    "VerifiedRecoveryCode",
    "new_recovery_code",
    "normalise_recovery_code",
]
