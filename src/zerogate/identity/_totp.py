"""TOTP second factor (RFC 6238 on RFC 4226): enrolment with a server-rendered QR code, and replay-safe verification.

Standards: RFC 6238 §4 (T = floor(unix / 30), T0 = 0), §5.2 (±1 step of drift, each code accepted
once); RFC 4226 R6 (160-bit seed) and §7.3 (throttling); ASVS 5.0 6.5.1 (single use), 6.5.3
(CSPRNG), 6.5.5 (lifetime ≤ 30 s), 6.5.8 (server clock, injected as `now=`).

SHA-1, 6 digits and 30 s are the only parameters every authenticator app supports (Google
Authenticator ignores `algorithm`/`digits`/`period` in the URI); HMAC-SHA-1 is not weakened by
SHA-1 collisions (RFC 6238 §1.2 allows it as the default). TOTP is not phishing-resistant: it is a
fallback factor (NIST SP 800-63B-4); administrators use WebAuthn.
"""

from __future__ import annotations

import builtins
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

import pyotp
import segno
from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import Conflict, InvalidInput, NotFound, ZerogateError
from zerogate.identity import _mfa_db, _tx, _users
from zerogate.identity._mfa_db import StoredTOTP, TOTPCredential
from zerogate.identity._model import ChangeKind, ChangeRecorder, IdentityChange, User
from zerogate.identity._names import text_problem
from zerogate.identity._throttle import SlidingWindow
from zerogate.store import Sealer, Store

log = logging.getLogger("zerogate.identity")

TOTP_DIGITS = 6
TOTP_PERIOD_S = 30
TOTP_DRIFT_STEPS = 1  # RFC 6238 §5.2: at most one step back or forward for network delay
TOTP_LABEL_MAX_CHARS = 200
_SECRET_CHARS = 32  # base32 characters: 32 x 5 = 160 bits (RFC 4226 R6 recommends 160)
_CODE_MAX_INPUT = 32  # longer input is rejected before any work


# How long a started TOTP enrolment can be confirmed (the QR code was shown to the user then).
UNCONFIRMED_TTL = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class MFALimits:
    """Throttling of second-factor guesses (RFC 4226 §7.3, ASVS 5.0 6.3.1), in memory per node.

    At most `attempts` (5) failed TOTP or recovery-code attempts per user in any `window` (1 min);
    beyond that an attempt is rejected without being checked. At most `max_tracked` users are
    remembered. 5/min bounds an online guesser of a 6-digit code (3 valid codes per check) to
    about 1 in 66,000 per minute; the password step's lockout applies before it.
    """

    attempts: int = 5
    window: timedelta = timedelta(minutes=1)
    max_tracked: int = 100_000

    def __post_init__(self) -> None:
        if min(self.attempts, self.max_tracked) < 1 or self.window <= timedelta(0):
            raise InvalidInput("MFA limits must be positive", code="mfa_limits_invalid")

    def window_for(self) -> SlidingWindow:
        return SlidingWindow(limit=self.attempts, window=self.window, max_keys=self.max_tracked)


class TOTPFailureReason(StrEnum):
    """Why a TOTP check failed: for the audit log only, never for the caller."""

    WRONG_CODE = "wrong_code"
    REPLAYED = "replayed"
    NO_CREDENTIAL = "no_credential"
    NOT_CONFIRMED = "not_confirmed"
    THROTTLED = "throttled"


class TOTPInvalid(ZerogateError):
    """The one opaque answer to every failed TOTP check; `reason` is for the audit log only."""

    code = "totp_invalid"
    status = 401
    MESSAGE = "the one-time code is not valid"

    def __init__(
        self,
        reason: TOTPFailureReason,
        *,
        user_id: UserID | None = None,
        credential_id: str | None = None,
    ) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason
        self.user_id = user_id
        self.credential_id = credential_id


@dataclass(frozen=True, slots=True)
class TOTPEnrolment:
    """A new, unconfirmed credential and what the user scans; shown once, never logged.

    `secret`, `provisioning_uri` and `qr_svg` (an inline `<svg>` of the URI) all carry the seed,
    so `repr` hides them.
    """

    credential: TOTPCredential
    secret: str = field(repr=False)
    provisioning_uri: str = field(repr=False)
    qr_svg: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class VerifiedTOTP:
    """A successful TOTP check: who, with which credential, and the (now spent) time step."""

    user: User
    credential_id: str
    time_step: int
    authenticated_at: datetime
    amr: tuple[str, ...] = ("otp",)  # RFC 8176


def time_step(now: datetime, *, period_s: int = TOTP_PERIOD_S) -> int:
    """RFC 6238 §4.2: T = floor((unix time - T0) / X) with T0 = 0."""
    return int(now.timestamp()) // period_s


def code_at(secret: str, step: int, *, digits: int = TOTP_DIGITS) -> str:
    """The HOTP value (RFC 4226 §5.3) of `secret` for counter `step`, HMAC-SHA-1."""
    return pyotp.TOTP(secret, digits=digits, interval=TOTP_PERIOD_S).generate_otp(step)


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The latest step within ±TOTP_DRIFT_STEPS of `now` whose code is `code`, or None.

    Every candidate is compared in constant time (`hmac.compare_digest`) and all are always
    computed, so timing says nothing about which step matched.
    """
    current = time_step(now)
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode()):
            found = step
    return found


def clean_code(code: str) -> str:
    """Six ASCII digits (spaces allowed, as apps show `123 456`); InvalidInput otherwise."""
    text = code[: _CODE_MAX_INPUT + 1].replace(" ", "")
    if len(code) > _CODE_MAX_INPUT or len(text) != TOTP_DIGITS or not text.isascii():
        raise _malformed()
    if not text.isdigit():
        raise _malformed()
    return text


def _malformed() -> InvalidInput:
    return InvalidInput(f"a one-time code is {TOTP_DIGITS} digits", code="totp_code_malformed")


def _not_found() -> NotFound:
    return NotFound("no such TOTP credential", code="totp_not_found")


class TOTP:
    """TOTP credentials of users in the store: enrol, confirm, verify, list and remove.

    A user is a `User` or a username/email reference. Seeds are stored as base32 in
    `totp_credentials.secret` and never logged or returned after enrolment.
    """

    def __init__(
        self,
        store: Store,
        *,
        limits: MFALimits | None = None,
        on_change: ChangeRecorder | None = None,
    ) -> None:
        self._store = store
        self._on_change = on_change
        self.limits = limits or MFALimits()
        self._failures = self.limits.window_for()

    def __repr__(self) -> str:
        return f"TOTP({self._store!r}, limits={self.limits!r})"

    async def begin_enrolment(
        self, user: User | str, *, label: str | None, issuer: str = "Zerogate", now: datetime
    ) -> TOTPEnrolment:
        """Create an unconfirmed credential with a fresh 160-bit seed (CSPRNG, ASVS 5.0 6.5.3).

        Enrolments the user started before and never confirmed are discarded; an unconfirmed
        credential can be confirmed for `UNCONFIRMED_TTL` only.

        Raises InvalidInput(`totp_label_invalid`), NotFound(`user_not_found`).
        """
        problem = text_problem(label, max_chars=TOTP_LABEL_MAX_CHARS)
        if problem is not None:
            raise InvalidInput(f"label: {problem}", code="totp_label_invalid")
        clean_label = None if label is None else label.strip() or None
        secret = pyotp.random_base32(_SECRET_CHARS)  # secrets.choice over the base32 alphabet

        def enrol(conn: Connection) -> tuple[User, TOTPCredential]:
            found = self._resolve(conn, user)
            _mfa_db.delete_unconfirmed(conn, found.id)
            return found, _mfa_db.insert_totp(
                conn,
                found.id,
                secret=secret,
                label=clean_label,
                now=now,
                sealer=self._store.sealer,
            )

        owner, credential = await _tx.write(self._store, enrol)
        uri = provisioning_uri(secret, account=owner.username, issuer=issuer)
        log.info(
            "TOTP enrolment started",
            extra={"user_id": owner.id, "credential_id": credential.id},
        )
        return TOTPEnrolment(credential, secret, uri, qr_svg(uri))

    async def confirm_enrolment(
        self, user: User | str, credential_id: str, code: str, *, now: datetime
    ) -> TOTPCredential:
        """Confirm with the first valid code; that code's step is spent (cannot sign in).

        Raises InvalidInput(`totp_code_malformed`), TOTPInvalid (`wrong_code`, `throttled`),
        NotFound(`totp_not_found`, `user_not_found`), Conflict(`totp_already_confirmed`).
        """
        clean = clean_code(code)
        owner = await self._user(user)
        self._throttle(owner.id, now=now)

        def confirm(conn: Connection) -> TOTPCredential:
            stored = _mfa_db.stored_totp(conn, owner.id, credential_id, sealer=self._store.sealer)
            if not stored:
                raise _not_found()
            [one] = stored
            if one.credential.confirmed:
                raise _already_confirmed()
            if now - one.credential.created_at > UNCONFIRMED_TTL:
                raise _not_found()  # started too long ago: enrol again
            step = matching_step(one.secret, clean, now=now)
            if step is None:
                raise TOTPInvalid(
                    TOTPFailureReason.WRONG_CODE, user_id=owner.id, credential_id=credential_id
                )
            if not _mfa_db.confirm_totp(conn, credential_id, step=step, now=now):
                raise _already_confirmed()
            record_credential_change(self._on_change, conn, ChangeKind.TOTP_ENROLLED, owner, now)
            return _mfa_db.list_totp_one(conn, owner.id, credential_id)

        try:
            confirmed = await _tx.write(self._store, confirm)
        except TOTPInvalid as exc:
            _log_failure(exc)
            raise
        except ZerogateError:
            self._failures.undo(owner.id)  # not a guess: give the slot back
            raise
        self._failures.undo(owner.id)
        log.info(
            "TOTP credential enrolled", extra={"user_id": owner.id, "credential_id": credential_id}
        )
        return confirmed

    async def verify(self, user: User | str, code: str, *, now: datetime) -> VerifiedTOTP:
        """Check a code against the user's confirmed credentials and spend its time step.

        A code whose step is at or before the last accepted one is refused even if correct
        (RFC 6238 §5.2, ASVS 5.0 6.5.1); of two concurrent checks of one code exactly one wins.
        Raises InvalidInput(`totp_code_malformed`) or TOTPInvalid (reason: `wrong_code`,
        `replayed`, `no_credential`, `not_confirmed`, `throttled`).
        """
        clean = clean_code(code)
        owner = await self._user(user)
        self._throttle(owner.id, now=now)
        try:
            verified = await _tx.write(
                self._store,
                lambda conn: _check(conn, owner, clean, now=now, sealer=self._store.sealer),
            )
        except TOTPInvalid as exc:
            _log_failure(exc)
            raise
        self._failures.undo(owner.id)
        return verified

    async def remove(
        self, user: User | str, credential_id: str, *, now: datetime
    ) -> TOTPCredential:
        """Delete a credential (confirmed or not); raises NotFound(`totp_not_found`)."""

        def remove(conn: Connection) -> TOTPCredential:
            owner = self._resolve(conn, user)
            stored = _mfa_db.stored_totp(conn, owner.id, credential_id, sealer=self._store.sealer)
            if not stored or not _mfa_db.delete_totp(conn, owner.id, credential_id):
                raise _not_found()
            record_credential_change(self._on_change, conn, ChangeKind.TOTP_REMOVED, owner, now)
            return stored[0].credential

        removed = await _tx.write(self._store, remove)
        log.info(
            "TOTP credential removed",
            extra={"user_id": removed.user_id, "credential_id": removed.id, "at": now.isoformat()},
        )
        return removed

    async def list(self, user: User | str) -> builtins.list[TOTPCredential]:
        """The user's credentials, oldest first (without secrets)."""
        return await _tx.read(
            self._store, lambda conn: _mfa_db.list_totp(conn, self._resolve(conn, user).id)
        )

    # Plumbing

    def _throttle(self, user_id: UserID, *, now: datetime) -> None:
        if not self._failures.hit(user_id, now=now):
            exc = TOTPInvalid(TOTPFailureReason.THROTTLED, user_id=user_id)
            _log_failure(exc)
            raise exc

    async def _user(self, user: User | str) -> User:
        if isinstance(user, User):
            return user
        return await _tx.read(self._store, lambda conn: self._resolve(conn, user))

    @staticmethod
    def _resolve(conn: Connection, user: User | str) -> User:
        return user if isinstance(user, User) else _users.resolve_user(conn, user)


def _check(
    conn: Connection, owner: User, code: str, *, now: datetime, sealer: Sealer
) -> VerifiedTOTP:
    stored = _mfa_db.stored_totp(conn, owner.id, sealer=sealer)
    confirmed = [s for s in stored if s.credential.confirmed]
    replayed: StoredTOTP | None = None
    for one in confirmed:
        step = matching_step(one.secret, code, now=now)
        if step is None:
            continue
        last = one.credential.last_counter
        if (last is None or step > last) and _mfa_db.advance_counter(conn, one.credential.id, step):
            return VerifiedTOTP(owner, one.credential.id, step, now)
        replayed = one  # correct code, but its step is spent (or a concurrent check won)
    if replayed is not None:
        raise TOTPInvalid(
            TOTPFailureReason.REPLAYED, user_id=owner.id, credential_id=replayed.credential.id
        )
    if not stored:
        raise TOTPInvalid(TOTPFailureReason.NO_CREDENTIAL, user_id=owner.id)
    if not confirmed:
        raise TOTPInvalid(TOTPFailureReason.NOT_CONFIRMED, user_id=owner.id)
    raise TOTPInvalid(TOTPFailureReason.WRONG_CODE, user_id=owner.id)


def _already_confirmed() -> Conflict:
    return Conflict("this TOTP credential is already confirmed", code="totp_already_confirmed")


def _log_failure(exc: TOTPInvalid) -> None:
    # Re-use of a spent code may mean a shoulder-surfed or phished code (v4.0.3 2.8.5): warn.
    level = logging.WARNING if exc.reason is TOTPFailureReason.REPLAYED else logging.INFO
    log.log(
        level,
        "TOTP check failed",
        extra={
            "user_id": exc.user_id,
            "credential_id": exc.credential_id,
            "reason": str(exc.reason),
        },
    )


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The Key URI Format `otpauth://totp/Issuer:account?secret=…&issuer=…&digits=6&period=30`.

    pyotp leaves out parameters at their defaults; we spell them out so what we verify with is
    what the app is told.
    """
    base = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_S).provisioning_uri(
        name=account, issuer_name=issuer
    )
    extra = {"algorithm": "SHA1", "digits": str(TOTP_DIGITS), "period": str(TOTP_PERIOD_S)}
    return f"{base}&{urlencode(extra)}"


def qr_svg(uri: str) -> str:
    """The URI as a QR code in an inline `<svg>`, rendered here (the seed never leaves the server)."""
    return segno.make_qr(uri, error="m").svg_inline(scale=4, border=4)


__all__ = [
    "TOTP",
    "TOTP_DIGITS",
    "TOTP_DRIFT_STEPS",
    "TOTP_PERIOD_S",
    "MFALimits",
    "TOTPEnrolment",
    "TOTPFailureReason",
    "TOTPInvalid",
    "VerifiedTOTP",
    "code_at",
    "provisioning_uri",
    "qr_svg",
    "time_step",
]


def record_credential_change(
    recorder: ChangeRecorder | None, conn: Connection, kind: ChangeKind, owner: User, now: datetime
) -> None:
    """Tell the recorder about a credential change, inside the transaction that made it."""
    if recorder is not None:
        recorder(conn, IdentityChange(kind, "User", owner.username, owner.id, now))
