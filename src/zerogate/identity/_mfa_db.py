"""Queries on the MFA tables (`totp_credentials`, `recovery_codes`); rows become our dataclasses.

Single use is enforced in the database, not in Python: each consumption is a conditional
UPDATE whose row count says whether this caller won (RFC 6238 §5.2, ASVS 5.0 6.5.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from zerogate._types import UserID
from zerogate.identity._db import new_id
from zerogate.store import Sealer, recovery_codes, totp_credentials

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TOTPCredential:
    """A TOTP authenticator as listed: never its secret."""

    id: str
    user_id: UserID
    label: str | None
    created_at: datetime
    confirmed_at: datetime | None
    last_counter: int | None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True, slots=True)
class StoredTOTP:
    """A credential with its base32 secret, for verification only; `repr` hides the secret."""

    credential: TOTPCredential
    secret: str = field(repr=False)


_PUBLIC = [c for c in totp_credentials.c if c.name != "secret"]


def _to_credential(row: Row[Any]) -> TOTPCredential:
    return TOTPCredential(
        id=row.id,
        user_id=UserID(row.user_id),
        label=row.label,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        last_counter=row.last_counter,
    )


def insert_totp(
    conn: Connection,
    user_id: UserID,
    *,
    secret: str,
    label: str | None,
    now: datetime,
    sealer: Sealer,
) -> TOTPCredential:
    credential = TOTPCredential(
        id=new_id("totp"),
        user_id=user_id,
        label=label,
        created_at=now,
        confirmed_at=None,
        last_counter=None,
    )
    conn.execute(
        insert(totp_credentials).values(
            id=credential.id,
            user_id=user_id,
            secret=sealer.seal(secret, context=_seal_context(credential.id)),
            label=label,
            created_at=now,
        )
    )
    return credential


def list_totp(conn: Connection, user_id: UserID) -> list[TOTPCredential]:
    query = (
        select(*_PUBLIC)
        .where(totp_credentials.c.user_id == user_id)
        .order_by(totp_credentials.c.created_at, totp_credentials.c.id)
    )
    return [_to_credential(r) for r in conn.execute(query)]


def list_totp_one(conn: Connection, user_id: UserID, credential_id: str) -> TOTPCredential:
    row = conn.execute(
        select(*_PUBLIC).where(
            totp_credentials.c.user_id == user_id, totp_credentials.c.id == credential_id
        )
    ).one()
    return _to_credential(row)


def stored_totp(
    conn: Connection, user_id: UserID, credential_id: str | None = None, *, sealer: Sealer
) -> list[StoredTOTP]:
    """The user's credentials with secrets (one, if `credential_id` is given)."""
    query = select(totp_credentials).where(totp_credentials.c.user_id == user_id)
    if credential_id is not None:
        query = query.where(totp_credentials.c.id == credential_id)
    rows = conn.execute(query.order_by(totp_credentials.c.created_at, totp_credentials.c.id))
    return [
        StoredTOTP(_to_credential(r), sealer.unseal(r.secret, context=_seal_context(r.id)))
        for r in rows
    ]


def _seal_context(credential_id: str) -> str:
    """Where a seed lives: a sealed seed moved to another credential does not open."""
    return f"totp_credentials.secret:{credential_id}"


def confirm_totp(conn: Connection, credential_id: str, *, step: int, now: datetime) -> bool:
    """Mark confirmed and burn `step`; False if someone confirmed it first."""
    done = conn.execute(
        update(totp_credentials)
        .where(totp_credentials.c.id == credential_id, totp_credentials.c.confirmed_at.is_(None))
        .values(confirmed_at=now, last_counter=step)
    ).rowcount
    return done == 1


def advance_counter(conn: Connection, credential_id: str, step: int) -> bool:
    """Accept time step `step` once: False if it (or a later one) was already accepted.

    Prevents replay, also between two concurrent verifications of one code (RFC 6238 §5.2
    "MUST NOT accept the second attempt"): on PostgreSQL the loser waits for the winner's row
    lock and then no longer matches; SQLite serialises writers (BEGIN IMMEDIATE).
    """
    done = conn.execute(
        update(totp_credentials)
        .where(
            totp_credentials.c.id == credential_id,
            totp_credentials.c.confirmed_at.is_not(None),
            or_(
                totp_credentials.c.last_counter.is_(None),
                totp_credentials.c.last_counter < step,
            ),
        )
        .values(last_counter=step)
    ).rowcount
    return done == 1


def delete_totp(conn: Connection, user_id: UserID, credential_id: str) -> bool:
    done = conn.execute(
        delete(totp_credentials).where(
            totp_credentials.c.id == credential_id, totp_credentials.c.user_id == user_id
        )
    ).rowcount
    return done == 1


def delete_unconfirmed(conn: Connection, user_id: UserID) -> int:
    """Forget enrolments that were started and never confirmed (they never protected anything)."""
    return conn.execute(
        delete(totp_credentials).where(
            totp_credentials.c.user_id == user_id, totp_credentials.c.confirmed_at.is_(None)
        )
    ).rowcount


def replace_recovery_codes(
    conn: Connection, user_id: UserID, hashes: Sequence[str], *, now: datetime
) -> None:
    """Delete every code of the user (used or not) and store the new hashes."""
    conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    conn.execute(
        insert(recovery_codes),
        [
            {"id": new_id("rc"), "user_id": user_id, "code_hash": h, "created_at": now}
            for h in hashes
        ],
    )


def unused_recovery_codes(conn: Connection, user_id: UserID) -> list[tuple[str, str]]:
    """(id, code_hash) of each unused code."""
    query = select(recovery_codes.c.id, recovery_codes.c.code_hash).where(
        recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
    )
    return [(r.id, r.code_hash) for r in conn.execute(query.order_by(recovery_codes.c.id))]


def count_unused(conn: Connection, user_id: UserID) -> int:
    query = select(func.count()).where(
        recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
    )
    return int(conn.execute(query).scalar_one())


def use_recovery_code(conn: Connection, code_id: str, *, now: datetime) -> bool:
    """Spend one code; False if it was spent (or replaced) meanwhile (ASVS 5.0 6.5.1)."""
    done = conn.execute(
        update(recovery_codes)
        .where(recovery_codes.c.id == code_id, recovery_codes.c.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    return done == 1


__all__ = [
    "StoredTOTP",
    "TOTPCredential",
    "advance_counter",
    "confirm_totp",
    "count_unused",
    "delete_totp",
    "delete_unconfirmed",
    "insert_totp",
    "list_totp",
    "list_totp_one",
    "replace_recovery_codes",
    "stored_totp",
    "unused_recovery_codes",
    "use_recovery_code",
]
