"""WebAuthn ceremonies in the store: opening one, and finishing it exactly once whatever the outcome.

A ceremony is a `webauthn_challenges` row: the challenge (WA-R1: 256 random bits, single use)
and what `begin_*` demanded, so `finish_*` never has to believe the client about either.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import ZerogateError
from zerogate.identity import _db, _tx, _users
from zerogate.identity import _webauthn_db as db
from zerogate.identity._model import User
from zerogate.identity._webauthn_db import Ceremony, Purpose
from zerogate.identity._webauthn_model import (
    CHALLENGE_BYTES,
    PasskeyFailureReason,
    PasskeyInvalid,
)
from zerogate.store import Store

log = logging.getLogger("zerogate.identity")

T = TypeVar("T")
Reason = PasskeyFailureReason
_CEREMONY_ID = re.compile(r"wac_[0-9a-f]{32}")  # what `_db.new_id("wac")` makes


def open_ceremony(
    conn: Connection,
    purpose: Purpose,
    user_id: UserID | None,
    *,
    user_verification: bool,
    ttl: timedelta,
    max_pending: int,
    now: datetime,
) -> Ceremony:
    """Store a new ceremony with a fresh challenge, after purging expired ones.

    Raises ZerogateError(`passkey_busy`) when `max_pending` unexpired ceremonies exist: anyone can
    begin a username-less sign-in, so the table must not grow without bound.
    """
    db.purge_ceremonies(conn, now=now)
    if db.count_ceremonies(conn) >= max_pending:
        raise ZerogateError(
            "too many passkey ceremonies are in progress; try again shortly",
            code="passkey_busy",
            status=503,
        )
    return db.insert_ceremony(
        conn,
        purpose=purpose,
        user_id=user_id,
        challenge=secrets.token_bytes(CHALLENGE_BYTES),
        user_verification=user_verification,
        now=now,
        expires_at=now + ttl,
    )


async def finish_ceremony(
    store: Store,
    ceremony_id: str,
    check: Callable[[Connection, Ceremony], T],
    *,
    now: datetime,
    what: str,
) -> T:
    """Take the ceremony and run `check` on it in one transaction; the ceremony is spent either way.

    A ZerogateError from `check` is carried out of the transaction as a value instead of being
    raised in it, so the transaction commits the ceremony's deletion and nothing more (`check`
    writes only after every check has passed); any other error rolls everything back.
    """

    def attempt(conn: Connection) -> T | ZerogateError:
        if not isinstance(ceremony_id, str) or not _CEREMONY_ID.fullmatch(ceremony_id):
            return PasskeyInvalid(Reason.CHALLENGE_UNKNOWN)  # and never logged: client input
        ceremony = db.take_ceremony(conn, ceremony_id)
        if ceremony is None:
            return PasskeyInvalid(Reason.CHALLENGE_UNKNOWN, ceremony_id=ceremony_id)
        if ceremony.expires_at <= now:
            return PasskeyInvalid(
                Reason.CHALLENGE_EXPIRED, user_id=ceremony.user_id, ceremony_id=ceremony.id
            )
        try:
            return check(conn, ceremony)
        except ZerogateError as exc:
            if isinstance(exc, PasskeyInvalid):
                exc.ceremony_id = ceremony.id
                exc.user_id = exc.user_id or ceremony.user_id
            return exc

    outcome = await _tx.write(store, attempt)
    if isinstance(outcome, ZerogateError):
        if isinstance(outcome, PasskeyInvalid):
            log_failure(outcome, f"{what} failed")
        raise outcome
    return outcome


def resolve_user(conn: Connection, user: User | str) -> User:
    """The user as stored now (a `User` is re-read by id: it may have been disabled since)."""
    if isinstance(user, User):
        return user_by_id(conn, user.id)
    return _users.resolve_user(conn, user)


def user_by_id(conn: Connection, user_id: UserID) -> User:
    found = _db.find_user(conn, user_id=user_id)
    if found is None:
        raise _users.user_not_found()
    return found


def usable(user: User, *, now: datetime) -> User:
    """`user` if it may register or sign in: not disabled (ASVS 7.4.2), not locked out."""
    if user.disabled:
        raise PasskeyInvalid(Reason.USER_DISABLED, user_id=user.id)
    if user.locked(now=now):
        raise PasskeyInvalid(Reason.USER_LOCKED, user_id=user.id)
    return user


def log_failure(exc: PasskeyInvalid, message: str) -> None:
    """One structured line per refusal; never the challenge, the response or its signature."""
    # A counter that went backwards may be a cloned authenticator (WA-A4): warn. The other
    # reasons are what phishing (origin, RP ID) or a stale page (challenge) look like.
    level = logging.WARNING if exc.reason is Reason.SIGN_COUNT_REGRESSED else logging.INFO
    log.log(
        level,
        message,
        extra={
            "user_id": exc.user_id,
            "passkey_id": exc.passkey_id,
            "ceremony_id": exc.ceremony_id,
            "reason": str(exc.reason),
        },
    )


__all__ = [
    "finish_ceremony",
    "log_failure",
    "open_ceremony",
    "resolve_user",
    "usable",
    "user_by_id",
]
