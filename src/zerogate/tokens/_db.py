"""Queries on `zerogate.store.signing_keys`: load one purpose's keys, apply a rotation plan."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from zerogate.store import Sealer, signing_keys
from zerogate.tokens._keys import KeyInfo, KeyRecord
from zerogate.tokens._schedule import Plan
from zerogate.tokens._types import Algorithm

_PUBLIC_COLUMNS = (
    signing_keys.c.kid,
    signing_keys.c.purpose,
    signing_keys.c.alg,
    signing_keys.c.public_jwk,
    signing_keys.c.created_at,
    signing_keys.c.activate_at,
    signing_keys.c.retire_at,
    signing_keys.c.expire_at,
)


def lock(conn: Connection, purpose: str) -> None:
    """Serialise rotations of one purpose across nodes until this transaction ends.

    SQLite needs nothing: `Store.begin()` takes the database write lock up front.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_lock_id(purpose))))


def load(
    conn: Connection, purpose: str, *, private: bool, sealer: Sealer | None = None
) -> list[KeyRecord]:
    """Every key of `purpose`; the private PEM only when asked (verifying nodes never read it),
    opened with `sealer` when it was sealed at rest."""
    columns = (*_PUBLIC_COLUMNS, signing_keys.c.private_key) if private else _PUBLIC_COLUMNS
    rows = conn.execute(
        select(*columns)
        .where(signing_keys.c.purpose == purpose)
        .order_by(signing_keys.c.activate_at, signing_keys.c.created_at, signing_keys.c.kid)
    ).all()
    opener = sealer or Sealer.passthrough()
    return [
        KeyRecord(
            _info(row),
            opener.unseal(row.private_key, context=_seal_context(row.kid)) if private else None,
        )
        for row in rows
    ]


def apply(conn: Connection, plan: Plan, *, sealer: Sealer | None = None) -> None:
    """Insert, re-time and delete as planned (inside the caller's locked transaction)."""
    if plan.dropped:
        conn.execute(delete(signing_keys).where(signing_keys.c.kid.in_(plan.dropped)))
    for info in plan.retimed:
        conn.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == info.kid)
            .values(retire_at=info.retire_at, expire_at=info.expire_at)
        )
    for record in plan.new:
        if record.private_pem is None:
            raise ValueError("a new key must carry its private part")
        info = record.info
        conn.execute(
            insert(signing_keys).values(
                kid=info.kid,
                purpose=info.purpose,
                alg=info.alg.value,
                private_key=(sealer or Sealer.passthrough()).seal(
                    record.private_pem, context=_seal_context(info.kid)
                ),
                public_jwk=orjson.dumps(dict(info.public_jwk)).decode(),
                created_at=info.created_at,
                activate_at=info.activate_at,
                retire_at=info.retire_at,
                expire_at=info.expire_at,
            )
        )


def _info(row: Any) -> KeyInfo:
    jwk = orjson.loads(row.public_jwk)
    if not isinstance(jwk, dict) or jwk.get("kid") != row.kid:
        raise ValueError(f"signing key {row.kid}: stored public JWK does not match its kid")
    return KeyInfo(
        kid=row.kid,
        purpose=row.purpose,
        alg=Algorithm(row.alg),
        public_jwk={str(k): str(v) for k, v in jwk.items()},
        created_at=row.created_at,
        activate_at=row.activate_at,
        retire_at=row.retire_at,
        expire_at=row.expire_at,
    )


def _seal_context(kid: str) -> str:
    """Where a private key lives: sealed under its kid, so it cannot be swapped for another."""
    return f"signing_keys.private_key:{kid}"


def _lock_id(purpose: str) -> int:
    """A stable signed 64-bit advisory lock id per purpose."""
    digest = hashlib.sha256(f"zerogate.tokens:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
