"""Queries on the WebAuthn tables (`webauthn_credentials`, `webauthn_challenges`); rows become our dataclasses.

Single use is enforced in the database: a ceremony is taken by a DELETE whose row count says
whether this caller won, and a sign count moves by a conditional UPDATE (WA-R1, WA-A4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, delete, exc, func, insert, select, update

from zerogate._types import UserID
from zerogate.identity._db import new_id
from zerogate.store import webauthn_challenges, webauthn_credentials

Purpose = Literal["registration", "authentication"]


@dataclass(frozen=True, slots=True)
class PasskeyCredential:
    """A registered passkey as listed (its public key stays in the store).

    `id` is ours (`pk_…`, for listing and removal); `credential_id` is the authenticator's raw
    credential id. `backup_eligible` (BE) says whether the key may be synced to other devices;
    `backed_up` (BS) whether it was at its last use (WebAuthn L3 §6.1.3).
    """

    id: str
    user_id: UserID
    credential_id: bytes = field(repr=False)
    name: str | None
    transports: tuple[str, ...]
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    user_verified: bool
    sign_count: int
    created_at: datetime
    last_used_at: datetime | None

    @property
    def device_bound(self) -> bool:
        """True for a single-device credential (BE=0): the key cannot leave its authenticator."""
        return not self.backup_eligible


@dataclass(frozen=True, slots=True)
class StoredPasskey:
    """A credential with its COSE public key, for verification only."""

    credential: PasskeyCredential
    public_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Ceremony:
    """A pending registration or authentication: the challenge and what `begin_*` demanded."""

    id: str
    purpose: Purpose
    user_id: UserID | None
    challenge: bytes = field(repr=False)
    user_verification: bool
    created_at: datetime
    expires_at: datetime


def _to_credential(row: Row[Any]) -> PasskeyCredential:
    return PasskeyCredential(
        id=row.id,
        user_id=UserID(row.user_id),
        credential_id=bytes(row.credential_id),
        name=row.name,
        transports=tuple(json.loads(row.transports)),
        aaguid=row.aaguid,
        backup_eligible=bool(row.backup_eligible),
        backed_up=bool(row.backed_up),
        user_verified=bool(row.user_verified),
        sign_count=int(row.sign_count),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def insert_ceremony(
    conn: Connection,
    *,
    purpose: Purpose,
    user_id: UserID | None,
    challenge: bytes,
    user_verification: bool,
    now: datetime,
    expires_at: datetime,
) -> Ceremony:
    ceremony = Ceremony(
        new_id("wac"), purpose, user_id, challenge, user_verification, now, expires_at
    )
    conn.execute(
        insert(webauthn_challenges).values(
            id=ceremony.id,
            purpose=purpose,
            user_id=user_id,
            challenge=challenge,
            user_verification=user_verification,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return ceremony


def take_ceremony(conn: Connection, ceremony_id: str) -> Ceremony | None:
    """Delete a ceremony and return it; None if unknown or already taken (WA-R1: single use).

    One `DELETE … RETURNING`: of two concurrent takers exactly one gets the row (PostgreSQL makes
    the second wait for the first's row lock, then it deletes nothing; SQLite serialises writers).
    """
    found = conn.execute(
        delete(webauthn_challenges)
        .where(webauthn_challenges.c.id == ceremony_id)
        .returning(*webauthn_challenges.c)
    ).first()
    if found is None:
        return None
    return Ceremony(
        id=found.id,
        purpose=found.purpose,
        user_id=None if found.user_id is None else UserID(found.user_id),
        challenge=bytes(found.challenge),
        user_verification=bool(found.user_verification),
        created_at=found.created_at,
        expires_at=found.expires_at,
    )


def purge_ceremonies(conn: Connection, *, now: datetime) -> int:
    """Delete every expired ceremony; returns how many."""
    query = delete(webauthn_challenges).where(webauthn_challenges.c.expires_at <= now)
    return int(conn.execute(query).rowcount)


def count_ceremonies(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(webauthn_challenges)).scalar_one())


def list_passkeys(conn: Connection, user_id: UserID) -> list[PasskeyCredential]:
    query = (
        select(webauthn_credentials)
        .where(webauthn_credentials.c.user_id == user_id)
        .order_by(webauthn_credentials.c.created_at, webauthn_credentials.c.id)
    )
    return [_to_credential(r) for r in conn.execute(query)]


def find_passkey(conn: Connection, credential_id: bytes) -> StoredPasskey | None:
    """The passkey with this authenticator credential id, whoever owns it."""
    row = conn.execute(
        select(webauthn_credentials).where(webauthn_credentials.c.credential_id == credential_id)
    ).first()
    return None if row is None else StoredPasskey(_to_credential(row), bytes(row.public_key))


def insert_passkey(
    conn: Connection,
    user_id: UserID,
    *,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    transports: Sequence[str],
    aaguid: str,
    backup_eligible: bool,
    backed_up: bool,
    user_verified: bool,
    name: str | None,
    now: datetime,
) -> PasskeyCredential | None:
    """Store a new passkey; None if its credential id is already registered (to anyone: WA-R8)."""
    credential = PasskeyCredential(
        id=new_id("pk"),
        user_id=user_id,
        credential_id=credential_id,
        name=name,
        transports=tuple(transports),
        aaguid=aaguid,
        backup_eligible=backup_eligible,
        backed_up=backed_up,
        user_verified=user_verified,
        sign_count=sign_count,
        created_at=now,
        last_used_at=None,
    )
    try:
        with conn.begin_nested():  # a duplicate must not poison the caller's transaction
            conn.execute(
                insert(webauthn_credentials).values(
                    id=credential.id,
                    user_id=user_id,
                    credential_id=credential_id,
                    public_key=public_key,
                    sign_count=sign_count,
                    transports=json.dumps(list(transports)),
                    aaguid=aaguid,
                    backup_eligible=backup_eligible,
                    backed_up=backed_up,
                    user_verified=user_verified,
                    name=name,
                    created_at=now,
                )
            )
    except exc.IntegrityError:
        return None
    return credential


def record_use(
    conn: Connection,
    passkey_id: str,
    *,
    previous_count: int,
    sign_count: int,
    backed_up: bool,
    now: datetime,
) -> bool:
    """Move the sign count from `previous_count` to `sign_count`; False if it moved meanwhile.

    The condition makes two concurrent assertions of one counting authenticator (a clone) not
    both succeed: the loser no longer matches `previous_count` (WA-A4).
    """
    done = conn.execute(
        update(webauthn_credentials)
        .where(
            webauthn_credentials.c.id == passkey_id,
            webauthn_credentials.c.sign_count == previous_count,
        )
        .values(sign_count=sign_count, backed_up=backed_up, last_used_at=now)
    ).rowcount
    return done == 1


def rename_passkey(conn: Connection, user_id: UserID, passkey_id: str, name: str | None) -> bool:
    done = conn.execute(
        update(webauthn_credentials)
        .where(webauthn_credentials.c.id == passkey_id, webauthn_credentials.c.user_id == user_id)
        .values(name=name)
    ).rowcount
    return done == 1


def delete_passkey(conn: Connection, user_id: UserID, passkey_id: str) -> PasskeyCredential | None:
    row = conn.execute(
        select(webauthn_credentials).where(
            webauthn_credentials.c.id == passkey_id, webauthn_credentials.c.user_id == user_id
        )
    ).first()
    if row is None:
        return None
    done = conn.execute(
        delete(webauthn_credentials).where(webauthn_credentials.c.id == passkey_id)
    ).rowcount
    return _to_credential(row) if done == 1 else None


__all__ = [
    "Ceremony",
    "PasskeyCredential",
    "Purpose",
    "StoredPasskey",
    "count_ceremonies",
    "delete_passkey",
    "find_passkey",
    "insert_ceremony",
    "insert_passkey",
    "list_passkeys",
    "purge_ceremonies",
    "record_use",
    "rename_passkey",
    "take_ceremony",
]
