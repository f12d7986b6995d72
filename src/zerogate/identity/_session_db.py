"""Queries on the `sessions` table; rows (joined with their user) become `SessionRow`s."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from zerogate._types import UserID
from zerogate.store import sessions, users


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One stored session with the state of its user (for the checks `resolve` makes)."""

    id: str
    user_id: UserID
    username: str
    user_disabled: bool
    user_locked_until: datetime | None
    created_at: datetime
    last_seen_at: datetime
    absolute_expires_at: datetime
    auth_time: datetime
    amr: tuple[str, ...]
    mfa_at: datetime | None
    ip: str | None
    user_agent: str | None
    revoked_at: datetime | None


def _select() -> Any:
    return select(
        sessions,
        users.c.username,
        users.c.disabled.label("user_disabled"),
        users.c.locked_until.label("user_locked_until"),
    ).join(users, users.c.id == sessions.c.user_id)


def _to_row(row: Row[Any]) -> SessionRow:
    return SessionRow(
        id=row.id_hash,
        user_id=UserID(row.user_id),
        username=row.username,
        user_disabled=bool(row.user_disabled),
        user_locked_until=row.user_locked_until,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        absolute_expires_at=row.absolute_expires_at,
        auth_time=row.auth_time,
        amr=tuple(json.loads(row.amr)),
        mfa_at=row.mfa_at,
        ip=row.ip,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
    )


def insert_session(
    conn: Connection,
    *,
    id_hash: str,
    user_id: UserID,
    now: datetime,
    absolute_expires_at: datetime,
    auth_time: datetime,
    amr: Sequence[str],
    mfa_at: datetime | None,
    ip: str | None,
    user_agent: str | None,
) -> None:
    conn.execute(
        insert(sessions).values(
            id_hash=id_hash,
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            absolute_expires_at=absolute_expires_at,
            auth_time=auth_time,
            amr=json.dumps(list(amr)),
            mfa_at=mfa_at,
            ip=ip,
            user_agent=user_agent,
        )
    )


def find_session(conn: Connection, id_hash: str) -> SessionRow | None:
    row = conn.execute(_select().where(sessions.c.id_hash == id_hash)).first()
    return None if row is None else _to_row(row)


def unrevoked_with_prefix(conn: Connection, prefix: str, *, limit: int = 2) -> list[SessionRow]:
    """Unrevoked sessions whose id starts with `prefix` (lowercase hex: no LIKE wildcards)."""
    query = _select().where(sessions.c.id_hash.startswith(prefix), sessions.c.revoked_at.is_(None))
    return [_to_row(r) for r in conn.execute(query.limit(limit))]


def sessions_of(
    conn: Connection, user_id: UserID, *, not_before: datetime, now: datetime
) -> list[SessionRow]:
    """Unrevoked sessions of a user last seen at/after `not_before` and not past their lifetime."""
    query = _select().where(
        sessions.c.user_id == user_id,
        sessions.c.revoked_at.is_(None),
        sessions.c.absolute_expires_at > now,
        sessions.c.last_seen_at > not_before,
    )
    return [_to_row(r) for r in conn.execute(query.order_by(sessions.c.last_seen_at.desc()))]


def live_sessions(
    conn: Connection, *, not_before: datetime, now: datetime, limit: int
) -> list[SessionRow]:
    """Every user's unrevoked, unexpired sessions seen at/after `not_before`, newest first."""
    query = _select().where(
        sessions.c.revoked_at.is_(None),
        sessions.c.absolute_expires_at > now,
        sessions.c.last_seen_at > not_before,
    )
    query = query.order_by(sessions.c.last_seen_at.desc(), sessions.c.id_hash).limit(limit)
    return [_to_row(r) for r in conn.execute(query)]


def count_live(conn: Connection, *, not_before: datetime, now: datetime) -> int:
    """How many sessions `live_sessions` would list without a limit."""
    query = select(func.count()).where(
        sessions.c.revoked_at.is_(None),
        sessions.c.absolute_expires_at > now,
        sessions.c.last_seen_at > not_before,
    )
    return int(conn.execute(query).scalar_one())


def touch(conn: Connection, id_hash: str, *, now: datetime, older_than: datetime) -> bool:
    """Move `last_seen_at` to `now` unless another request already did since `older_than`."""
    result = conn.execute(
        update(sessions)
        .where(
            sessions.c.id_hash == id_hash,
            sessions.c.revoked_at.is_(None),
            sessions.c.last_seen_at <= older_than,
        )
        .values(last_seen_at=now)
    )
    return result.rowcount == 1


def record_mfa(conn: Connection, id_hash: str, *, amr: Sequence[str], now: datetime) -> None:
    conn.execute(
        update(sessions)
        .where(sessions.c.id_hash == id_hash)
        .values(mfa_at=now, last_seen_at=now, amr=json.dumps(list(amr)))
    )


def revoke(conn: Connection, id_hashes: Sequence[str], *, reason: str, now: datetime) -> None:
    if id_hashes:
        conn.execute(
            update(sessions)
            .where(sessions.c.id_hash.in_(list(id_hashes)), sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )


def unrevoked_ids_of(conn: Connection, user_id: UserID) -> list[str]:
    """Every unrevoked session id of a user, expired or not (revocation also covers idle ones)."""
    query = select(sessions.c.id_hash).where(
        sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)
    )
    return sorted(conn.execute(query).scalars())


__all__ = [
    "SessionRow",
    "count_live",
    "find_session",
    "insert_session",
    "live_sessions",
    "record_mfa",
    "revoke",
    "sessions_of",
    "touch",
    "unrevoked_ids_of",
    "unrevoked_with_prefix",
]
