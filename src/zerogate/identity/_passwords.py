"""Passwords: the argon2id hasher with explicit parameters, and the password policy (ASVS 5.0 V6.2)."""

from __future__ import annotations

import logging
import secrets
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.identity._names import detail

log = logging.getLogger("zerogate.identity")

# OWASP Password Storage Cheat Sheet's floor for argon2id: m=19 MiB, t=2, p=1 (or an equivalent
# trade of memory for passes). Parameters below it still work but are logged as a warning.
_OWASP_MIN_MEMORY_KIB = 19 * 1024
_OWASP_MIN_TIME_COST = 2


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """argon2id cost parameters. The defaults are RFC 9106 §4's second recommended option.

    t=3 passes over m=64 MiB with p=4 lanes, a 16-byte salt and a 32-byte tag: about 0.1 s per
    hash on one core, above OWASP's minimum (m=19 MiB, t=2, p=1). Raise them as hardware allows;
    stored hashes are upgraded at the next successful sign-in (rehash on verify).
    """

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    @property
    def below_owasp_minimum(self) -> bool:
        weakest = _OWASP_MIN_MEMORY_KIB * _OWASP_MIN_TIME_COST
        return self.memory_cost_kib * self.time_cost < weakest or self.salt_len < 16


class PasswordHasher:
    """argon2id hashing and verification; the only place password hashes are made or read.

    Passwords are NFKC-normalised before hashing (NIST SP 800-63B-4 §3.1.1.2), so the same
    password typed on different keyboards verifies. Never log the password or the hash.
    """

    __slots__ = ("_dummy", "_hasher", "_lock", "parameters")

    def __init__(self, parameters: Argon2Parameters | None = None) -> None:
        self.parameters = parameters or Argon2Parameters()
        p = self.parameters
        self._hasher = argon2.PasswordHasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_cost_kib,
            parallelism=p.parallelism,
            hash_len=p.hash_len,
            salt_len=p.salt_len,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None
        self._lock = threading.Lock()
        if p.below_owasp_minimum:
            log.warning(
                "argon2id parameters are below the OWASP minimum (m=19 MiB, t=2, p=1)",
                extra={"time_cost": p.time_cost, "memory_cost_kib": p.memory_cost_kib},
            )

    def __repr__(self) -> str:
        return f"PasswordHasher({self.parameters!r})"

    def hash(self, password: str) -> str:
        """A new `$argon2id$v=19$m=…,t=…,p=…$salt$tag` string (random salt)."""
        return self._hasher.hash(_normalise(password))

    def verify(self, encoded: str, password: str) -> bool:
        """True if `password` matches `encoded`; a malformed hash never matches (and is logged)."""
        try:
            return self._hasher.verify(encoded, _normalise(password))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError):
            log.warning("stored password hash is not a valid argon2 hash; treated as a mismatch")
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True if `encoded` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for users that do not exist (no timing oracle)."""
        self.verify(self._dummy_hash(), password)

    def _dummy_hash(self) -> str:
        # Made lazily with the current parameters, so its cost is exactly that of a real hash.
        with self._lock:
            if self._dummy is None:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(32))
            return self._dummy


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """What a new password must be (ASVS 5.0 V6.2): long enough, not common, no composition rules.

    `min_length` 8 is ASVS 6.2.1's floor; it recommends 15 where passwords are the only factor.
    `max_length` leaves room for passphrases (ASVS 6.2.9 asks for at least 64) and bounds the
    work one request can cause. Lengths count Unicode characters after NFKC.
    """

    min_length: int = 8
    max_length: int = 256
    check_common: bool = True
    extra_blocklist: frozenset[str] = field(default_factory=frozenset)

    def check(self, password: str, *, context: tuple[str, ...] = ()) -> None:
        """Raise InvalidInput(password_too_weak, or password_too_long) listing every problem.

        `context` holds words the password must not be (username, email, its local part).
        """
        problems = self.problems(password, context=context)
        if not problems:
            return
        too_long = any(d.code == "password_too_long" for d in problems)
        code = "password_too_long" if too_long else "password_too_weak"
        what = "too long" if too_long else "too weak"
        reasons = "; ".join(d.msg for d in problems)
        raise InvalidInput(f"the password is {what}: {reasons}", code=code, details=problems)

    def problems(self, password: str, *, context: tuple[str, ...] = ()) -> list[ErrorDetail]:
        """Every reason `password` is not acceptable (empty if it is)."""
        text = _normalise(password)
        folded = text.casefold()
        found = [
            detail(
                "password_too_long",
                "password",
                f"at most {self.max_length} characters" if len(text) > self.max_length else None,
            ),
            detail(
                "password_too_short",
                "password",
                f"at least {self.min_length} characters" if len(text) < self.min_length else None,
            ),
            detail(
                "password_common",
                "password",
                "this password is on a list of common passwords"
                if self.check_common and (folded in common_passwords() or folded in self._extra)
                else None,
            ),
            detail(
                "password_contextual",
                "password",
                "the password must not be your username or email address"
                if folded in {c.casefold() for c in context if c}
                else None,
            ),
        ]
        return [d for d in found if d is not None]

    @property
    def _extra(self) -> frozenset[str]:
        return frozenset(p.casefold() for p in self.extra_blocklist)


@cache
def common_passwords() -> frozenset[str]:
    """Common passwords, casefolded (ASVS 5.0 6.2.4 asks for at least the top 3,000): our shipped
    list plus the 30,000 most frequent passwords that the zxcvbn estimator ranks by."""
    text = (resources.files("zerogate.identity") / "common-passwords.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    shipped = {line.casefold() for line in lines if line and not line.startswith("#")}
    ranked = FREQUENCY_LISTS["passwords"]
    return frozenset(shipped | {p.casefold() for p in ranked})


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


__all__ = ["Argon2Parameters", "PasswordHasher", "PasswordPolicy", "common_passwords"]
