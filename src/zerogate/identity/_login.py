"""Password sign-in: throttle, look up, verify in constant work, count failures, lock, rehash."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from zerogate._types import UserID
from zerogate.identity import _db
from zerogate.identity._model import AuthenticationFailed, FailureReason, User, VerifiedPassword
from zerogate.identity._names import login_key
from zerogate.identity._passwords import PasswordHasher, PasswordPolicy
from zerogate.identity._throttle import LoginLimits, LoginThrottle, ip_key
from zerogate.store import Store

log = logging.getLogger("zerogate.identity")


class PasswordLogin:
    """Checks a username-or-email and password; every failure is one opaque AuthenticationFailed.

    Against user enumeration (ASVS 5.0 6.3.8) every path that reaches the database does exactly
    one argon2 verification: against the dummy hash for unknown users and users without a
    password, and against the real hash for disabled and locked accounts too, so the answer
    takes the same time whatever the reason. Throttled attempts are answered at once: the
    throttle keys on what was typed and the address, never on whether the account exists.
    """

    __slots__ = ("_hasher", "_limits", "_policy", "_store", "_throttle")

    def __init__(
        self, store: Store, *, hasher: PasswordHasher, policy: PasswordPolicy, limits: LoginLimits
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._policy = policy
        self._limits = limits
        self._throttle = LoginThrottle(limits)

    async def authenticate(
        self, username_or_email: str, password: str, *, ip: str, now: datetime
    ) -> VerifiedPassword:
        key = login_key(username_or_email)
        address = ip_key(ip)  # raises ip_invalid before anything is counted
        if not self._throttle.acquire(key, address, now=now):
            raise _failed(FailureReason.THROTTLED, None, address)
        verified = await asyncio.to_thread(self._check, key, password, address, now)
        self._throttle.succeeded(key, address)
        log.info(
            "password sign-in succeeded",
            extra={"user_id": verified.user.id, "ip": address, "rehashed": verified.rehashed},
        )
        return verified

    def _check(self, key: str, password: str, address: str, now: datetime) -> VerifiedPassword:
        # Longer than any acceptable password: it cannot match, and is never worth hashing.
        oversized = len(password) > 4 * self._policy.max_length
        with self._store.connect() as conn:
            found = _db.login_row(conn, key)
        if found is None:
            self._spend(oversized, None, password)
            raise _failed(FailureReason.UNKNOWN_USER, None, address)
        user, stored = found
        matches = self._spend(oversized, stored, password)
        if user.disabled:
            raise _failed(FailureReason.DISABLED, user.id, address)
        if user.locked(now=now):
            raise _failed(FailureReason.LOCKED, user.id, address)
        if stored is None or not matches:
            self._count_failure(user, now)
            reason = FailureReason.NO_PASSWORD if stored is None else FailureReason.BAD_PASSWORD
            raise _failed(reason, user.id, address)
        upgraded = self._hasher.hash(password) if self._hasher.needs_rehash(stored) else None
        with self._store.begin() as conn:
            done = _db.record_success(conn, user.id, now=now, old_hash=stored, new_hash=upgraded)
            fresh = _db.find_user(conn, user_id=user.id)
        if not done or fresh is None:
            # Deleted, disabled or locked between the read and now: the later state wins.
            raise _failed(_raced(fresh), user.id, address)
        return VerifiedPassword(fresh, now, rehashed=upgraded is not None)

    def _spend(self, oversized: bool, stored: str | None, password: str) -> bool:
        """One argon2 verification whatever the case; True if `password` matches `stored`."""
        if oversized:
            return False
        if stored is None:
            self._hasher.verify_dummy(password)
            return False
        return self._hasher.verify(stored, password)

    def _count_failure(self, user: User, now: datetime) -> None:
        limits = self._limits
        with self._store.begin() as conn:
            locked = _db.record_failure(
                conn, user.id, max_failures=limits.max_failures, lockout=limits.lockout, now=now
            )
        if locked:
            log.warning(
                "account locked after repeated failed sign-ins",
                extra={"user_id": user.id, "until": (now + limits.lockout).isoformat()},
            )


def _raced(user: User | None) -> FailureReason:
    if user is None:
        return FailureReason.UNKNOWN_USER
    return FailureReason.DISABLED if user.disabled else FailureReason.LOCKED


def _failed(reason: FailureReason, user_id: UserID | None, address: str) -> AuthenticationFailed:
    # Structured fields only, never the password or what was typed as the username (it is
    # sometimes a password typed into the wrong field).
    log.info(
        "password sign-in failed", extra={"reason": str(reason), "user_id": user_id, "ip": address}
    )
    return AuthenticationFailed(reason, user_id=user_id)


__all__ = ["PasswordLogin"]
