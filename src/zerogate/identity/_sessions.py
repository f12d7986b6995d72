"""Server-side login sessions: opaque cookie tokens, idle/absolute timeouts, step-up and revocation.

The browser holds only a random token (ASVS 5.0 7.2.3: 256 bits from a CSPRNG) in a `__Host-`
cookie; the store holds only its SHA-256, so a read of the `sessions` table cannot be replayed as a
cookie. Every request's token is checked here, on the backend (ASVS 7.2.1).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol, TypeVar

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import Conflict, ErrorDetail, InvalidInput, NotFound, ZerogateError
from zerogate.identity import _session_db as _db
from zerogate.identity import _tx, _users
from zerogate.identity._cookies import (
    SESSION_COOKIE_MAX_BYTES,
    SESSION_COOKIE_NAME,
    TOKEN,
    clear_session_cookie,
    parse_session_cookie,
    session_cookie,
    session_id,
)
from zerogate.identity._model import IdentityChange, User
from zerogate.store import Store

T = TypeVar("T")

# NIST SP 800-63B-3 AAL2 values (12 h absolute, 30 min idle); ASVS 7.1.1 asks us to document them.
DEFAULT_IDLE_TIMEOUT_S = 30 * 60
DEFAULT_ABSOLUTE_TIMEOUT_S = 12 * 60 * 60
MAX_ABSOLUTE_TIMEOUT_S = 30 * 24 * 60 * 60
# `last_seen_at` moves at most once a minute: one write per minute per session, not per request.
TOUCH_INTERVAL_S = 60

_ID_PREFIX = re.compile(r"[0-9a-f]{8,64}")
_AMR = re.compile(r"[a-z0-9_]{1,32}")  # RFC 8176 values: "pwd", "otp", "hwk", "mfa", ...
_MAX_AMR = 16
_REASON_MAX_CHARS = 100
_USER_AGENT_MAX_CHARS = 300
_IP_MAX_CHARS = 64


_SESSION_ID = re.compile(r"[0-9a-f]{64}")


class SessionFailure(StrEnum):
    """Why a session did not resolve: for the audit log only, never for the caller."""

    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    IDLE_TIMEOUT = "idle_timeout"
    ABSOLUTE_TIMEOUT = "absolute_timeout"
    USER_DISABLED = "user_disabled"
    USER_LOCKED = "user_locked"


class SessionInvalid(ZerogateError):
    """The one opaque answer for an unknown, expired, revoked or disabled-user session.

    `reason` and `session_id` (the hash, never the token) are for the audit log; they never appear
    in `message` or `as_dict()` (ASVS 7.4.1: after logout or expiry the session is unusable).
    """

    code = "session_invalid"
    status = 401
    MESSAGE = "session invalid: sign in again"

    def __init__(self, reason: SessionFailure, *, session_id: str | None = None) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason
        self.session_id = session_id


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A resolved session. `id` is the SHA-256 of the token (safe to log); the token never is."""

    id: str
    user_id: UserID
    username: str
    auth_time: datetime
    amr: tuple[str, ...]
    mfa_at: datetime | None
    created_at: datetime
    last_seen_at: datetime
    absolute_expires_at: datetime
    expires_at: datetime  # the earlier of the idle and the absolute deadline
    ip: str | None
    user_agent: str | None

    def auth_age_s(self, now: datetime) -> int:
        """Seconds since the user last authenticated (PDP context `authn.auth_age_s`)."""
        return max(0, int((now - self.auth_time).total_seconds()))

    def mfa_age_s(self, now: datetime) -> int | None:
        """Seconds since the last second factor (step-up), or None if there was none."""
        return None if self.mfa_at is None else max(0, int((now - self.mfa_at).total_seconds()))


@dataclass(frozen=True, slots=True)
class NewSession:
    """A just-created session and its token: set it in the cookie now; it is not stored anywhere."""

    token: str = field(repr=False)
    session: ActiveSession


@dataclass(frozen=True, slots=True)
class SessionsRevoked:
    """Sessions of one user were revoked; shaped like `IdentityChange` for `entity.changed`.

    `session_ids` are hashes (what gateways key cached decisions on), never tokens.
    """

    user_id: UserID
    entity_id: str  # the username: Cedar `User::"<entity_id>"`
    session_ids: tuple[str, ...]
    reason: str
    at: datetime
    kind: Literal["sessions_revoked"] = "sessions_revoked"
    entity_type: Literal["User"] = "User"


class SessionRecorder(Protocol):
    """Called inside the revoking transaction; raising rolls the revocation back."""

    def __call__(self, conn: Connection, change: SessionsRevoked, /) -> None: ...


def _ignore(conn: Connection, change: SessionsRevoked, /) -> None:
    """The default recorder: revocations are only returned to the caller."""


class Sessions:
    """Login sessions in the store: create, resolve on each request, step up, list, revoke.

    Timeouts (ASVS 7.3.1/7.3.2) are constructor settings: `idle_timeout_s` since the session was
    last seen, `absolute_timeout_s` since it was created; 0 < idle <= absolute <= 30 days.
    Revocations are handed to `on_change` inside their transaction (publish them there).
    """

    def __init__(
        self,
        store: Store,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        absolute_timeout_s: float = DEFAULT_ABSOLUTE_TIMEOUT_S,
        on_change: SessionRecorder | None = None,
    ) -> None:
        _check_timeouts(idle_timeout_s, absolute_timeout_s)
        self._store = store
        self.idle_timeout = timedelta(seconds=idle_timeout_s)
        self.absolute_timeout = timedelta(seconds=absolute_timeout_s)
        self._record: SessionRecorder = on_change or _ignore

    async def create(
        self,
        user: User,
        *,
        amr: Sequence[str],
        auth_time: datetime,
        mfa_at: datetime | None = None,
        ip: str | None,
        user_agent: str | None,
        now: datetime,
    ) -> NewSession:
        """Start a session for a user who has just authenticated; the token is returned once.

        Always a fresh token (ASVS 7.2.4): a session is never created from a client's value.
        Raises InvalidInput(`amr_invalid`); SessionInvalid if the user is disabled or locked.
        """
        methods = _clean_amr(amr)
        if user.disabled or user.locked(now=now):
            reason = SessionFailure.USER_DISABLED if user.disabled else SessionFailure.USER_LOCKED
            raise SessionInvalid(reason)
        token = secrets.token_urlsafe(32)
        id_hash = session_id(token)

        def write(conn: Connection) -> ActiveSession:
            _db.insert_session(
                conn,
                id_hash=id_hash,
                user_id=user.id,
                now=now,
                absolute_expires_at=now + self.absolute_timeout,
                auth_time=auth_time,
                amr=methods,
                mfa_at=mfa_at,
                ip=None if ip is None else ip[:_IP_MAX_CHARS],
                user_agent=None if user_agent is None else user_agent[:_USER_AGENT_MAX_CHARS],
            )
            return self._check(_db.find_session(conn, id_hash), id_hash, now)

        return NewSession(token, await self._write(write))

    async def resolve(self, token: str, *, now: datetime) -> ActiveSession:
        """The live session a token names, or SessionInvalid (one code and message for all).

        Moves `last_seen_at` at most once per TOUCH_INTERVAL_S (fewer writes on the hot path).
        """
        return await self.resolve_id(_hash_or_invalid(token), now=now)

    async def resolve_id(self, id_hash: str, *, now: datetime) -> ActiveSession:
        """The live session with this id (the token's SHA-256), or SessionInvalid.

        For places that hold a session's id rather than its token: the gateway's per-host
        cookie names the sign-in session by id, and still ends when that session ends.
        """
        if _SESSION_ID.fullmatch(id_hash) is None:
            raise SessionInvalid(SessionFailure.UNKNOWN)
        found = await self._read(lambda conn: _db.find_session(conn, id_hash))
        active = self._check(found, id_hash, now)
        if now - active.last_seen_at >= timedelta(seconds=TOUCH_INTERVAL_S):
            older_than = now - timedelta(seconds=TOUCH_INTERVAL_S)
            await self._write(lambda conn: _db.touch(conn, id_hash, now=now, older_than=older_than))
        return active

    async def step_up(self, token: str, *, amr: Sequence[str], now: datetime) -> NewSession:
        """Record a second factor just verified: `mfa_at = now`, amr merged, and a NEW token.

        Re-authentication rotates the token (ASVS 5.0 7.2.4): a token seen before the step-up
        (say, one fixed by an attacker) never carries the stronger session. The new session keeps
        the first sign-in's `auth_time` and absolute expiry; the old one is revoked in the same
        transaction and its id published, so caches drop it.
        """
        methods = _clean_amr(amr)
        id_hash = _hash_or_invalid(token)
        new_token = secrets.token_urlsafe(32)
        new_hash = session_id(new_token)

        def write(conn: Connection) -> ActiveSession:
            current = self._check(_db.find_session(conn, id_hash), id_hash, now)
            merged = tuple(dict.fromkeys((*current.amr, *methods)))[:_MAX_AMR]
            _db.insert_session(
                conn,
                id_hash=new_hash,
                user_id=current.user_id,
                now=now,
                absolute_expires_at=current.absolute_expires_at,
                auth_time=current.auth_time,
                amr=merged,
                mfa_at=now,
                ip=current.ip,
                user_agent=current.user_agent,
            )
            self._revoke(conn, current.user_id, current.username, [id_hash], "rotated", now)
            return self._check(_db.find_session(conn, new_hash), new_hash, now)

        return NewSession(new_token, await self._write(write))

    async def list_for(self, user: str, *, now: datetime) -> list[ActiveSession]:
        """A user's live sessions (by username or email), most recently seen first (ASVS 7.5.2)."""

        def read(conn: Connection) -> list[ActiveSession]:
            found = _users.resolve_user(conn, user)
            rows = _db.sessions_of(conn, found.id, not_before=now - self.idle_timeout, now=now)
            return [self._active(r) for r in rows]

        return await self._read(read)

    async def list_active(self, *, now: datetime, limit: int = 200) -> list[ActiveSession]:
        """Everyone's live sessions, most recently seen first, at most `limit` (the console)."""
        not_before = now - self.idle_timeout
        rows = await self._read(
            lambda conn: _db.live_sessions(conn, not_before=not_before, now=now, limit=limit)
        )
        return [self._active(r) for r in rows]

    async def count_active(self, *, now: datetime) -> int:
        """How many sessions are live now, across all users."""
        not_before = now - self.idle_timeout
        return await self._read(lambda conn: _db.count_live(conn, not_before=not_before, now=now))

    async def revoke(
        self, session_id_or_token: str, *, reason: str, now: datetime
    ) -> SessionsRevoked:
        """Revoke one session named by its token (logout), its id, or an id prefix (>= 8 hex).

        Raises NotFound(`session_not_found`) if no unrevoked session matches,
        Conflict(`session_id_ambiguous`) if a prefix matches several, InvalidInput(`reason_invalid`).
        """
        clean = _clean_reason(reason)
        key = session_id_or_token
        if TOKEN.fullmatch(key):
            key = session_id(key)
        elif _ID_PREFIX.fullmatch(key) is None:
            raise _not_found()

        def write(conn: Connection) -> SessionsRevoked:
            matches = _db.unrevoked_with_prefix(conn, key)
            if not matches:
                raise _not_found()
            if len(matches) > 1:
                raise Conflict(
                    "several sessions match; give more of the id", code="session_id_ambiguous"
                )
            [row] = matches
            return self._revoke(conn, row.user_id, row.username, [row.id], clean, now)

        return await self._write(write)

    async def revoke_all(self, user: str, *, reason: str, now: datetime) -> SessionsRevoked:
        """Revoke every session of a user (ASVS 7.4.5: admins end a user's sessions)."""
        clean = _clean_reason(reason)

        def write(conn: Connection) -> SessionsRevoked:
            found = _users.resolve_user(conn, user)
            ids = _db.unrevoked_ids_of(conn, found.id)
            return self._revoke(conn, found.id, found.username, ids, clean, now)

        return await self._write(write)

    def revoke_on_change(self, conn: Connection, change: IdentityChange, /) -> None:
        """A `ChangeRecorder` step: revoke the user's sessions in the transaction that disabled
        or deleted them (ASVS 7.4.2). Chain it after the event recorder given to `Directory`.

        No separate event: the `user_disabled`/`user_deleted` change already tells every holder.
        """
        if change.revokes_sessions and change.user_id is not None:
            ids = _db.unrevoked_ids_of(conn, change.user_id)
            _db.revoke(conn, ids, reason=str(change.kind), now=change.at)

    async def apply(self, change: IdentityChange) -> None:
        """`revoke_on_change` in its own transaction, for changes already committed elsewhere."""
        await self._write(lambda conn: self.revoke_on_change(conn, change))

    # Plumbing

    def _revoke(
        self,
        conn: Connection,
        user_id: UserID,
        username: str,
        ids: Sequence[str],
        reason: str,
        now: datetime,
    ) -> SessionsRevoked:
        _db.revoke(conn, ids, reason=reason, now=now)
        change = SessionsRevoked(user_id, username, tuple(ids), reason, now)
        self._record(conn, change)
        return change

    def _check(self, row: _db.SessionRow | None, id_hash: str, now: datetime) -> ActiveSession:
        if row is None:
            raise SessionInvalid(SessionFailure.UNKNOWN, session_id=id_hash)
        reason: SessionFailure | None = None
        if row.revoked_at is not None:
            reason = SessionFailure.REVOKED
        elif now >= row.absolute_expires_at:
            reason = SessionFailure.ABSOLUTE_TIMEOUT
        elif now - row.last_seen_at >= self.idle_timeout:
            reason = SessionFailure.IDLE_TIMEOUT
        elif row.user_disabled:
            reason = SessionFailure.USER_DISABLED
        elif row.user_locked_until is not None and row.user_locked_until > now:
            reason = SessionFailure.USER_LOCKED
        if reason is not None:
            raise SessionInvalid(reason, session_id=id_hash)
        return self._active(row)

    def _active(self, row: _db.SessionRow) -> ActiveSession:
        return ActiveSession(
            id=row.id,
            user_id=row.user_id,
            username=row.username,
            auth_time=row.auth_time,
            amr=row.amr,
            mfa_at=row.mfa_at,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            absolute_expires_at=row.absolute_expires_at,
            expires_at=min(row.absolute_expires_at, row.last_seen_at + self.idle_timeout),
            ip=row.ip,
            user_agent=row.user_agent,
        )

    async def _read(self, query: Callable[[Connection], T]) -> T:
        return await _tx.read(self._store, query)

    async def _write(self, change: Callable[[Connection], T]) -> T:
        return await _tx.write(self._store, change)


def _check_timeouts(idle_s: float, absolute_s: float) -> None:
    """Report every bad timeout at once (STYLE 10)."""
    problems: list[ErrorDetail] = []
    if not 0 < absolute_s <= MAX_ABSOLUTE_TIMEOUT_S:
        msg = f"must be > 0 and <= {MAX_ABSOLUTE_TIMEOUT_S} s"
        problems.append(ErrorDetail("session_timeout_invalid", "absolute_timeout_s", msg))
    if not idle_s > 0:  # also rejects NaN
        problems.append(ErrorDetail("session_timeout_invalid", "idle_timeout_s", "must be > 0"))
    elif idle_s > absolute_s:
        msg = "must be <= absolute_timeout_s"
        problems.append(ErrorDetail("session_timeout_invalid", "idle_timeout_s", msg))
    if problems:
        raise InvalidInput(
            "invalid session timeouts", code="session_timeout_invalid", details=problems
        )


def _hash_or_invalid(token: str) -> str:
    if TOKEN.fullmatch(token) is None:
        raise SessionInvalid(SessionFailure.MALFORMED)
    return session_id(token)


def _clean_amr(amr: Sequence[str]) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(amr))
    if isinstance(amr, str) or not methods or len(methods) > _MAX_AMR:
        raise InvalidInput(f"amr must list 1 to {_MAX_AMR} methods", code="amr_invalid")
    if any(_AMR.fullmatch(m) is None for m in methods):
        raise InvalidInput("amr values are RFC 8176 names like 'pwd'", code="amr_invalid")
    return methods


def _clean_reason(reason: str) -> str:
    clean = reason.strip()
    if not clean or len(clean) > _REASON_MAX_CHARS or not clean.isprintable():
        msg = f"reason must be 1 to {_REASON_MAX_CHARS} printable characters"
        raise InvalidInput(msg, code="reason_invalid")
    return clean


def _not_found() -> NotFound:
    return NotFound("no such active session", code="session_not_found")


__all__ = [
    "DEFAULT_ABSOLUTE_TIMEOUT_S",
    "DEFAULT_IDLE_TIMEOUT_S",
    "SESSION_COOKIE_MAX_BYTES",
    "SESSION_COOKIE_NAME",
    "TOUCH_INTERVAL_S",
    "ActiveSession",
    "NewSession",
    "SessionFailure",
    "SessionInvalid",
    "SessionRecorder",
    "Sessions",
    "SessionsRevoked",
    "clear_session_cookie",
    "parse_session_cookie",
    "session_cookie",
    "session_id",
]
