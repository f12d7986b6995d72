"""Queries on the policy tables: bundles by hash, activations in order, the active bundle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, desc, insert, select

from zerogate._types import BundleHash
from zerogate.store import policy_activations, policy_bundles


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation: which bundle became active, when and by whom."""

    id: int
    bundle_hash: BundleHash
    activated_at: datetime
    activated_by: str | None


def insert_bundle(
    conn: Connection,
    *,
    bundle_hash: BundleHash,
    files: dict[str, str],
    manifest: dict[str, object],
    now: datetime,
    actor: str | None,
) -> bool:
    """Store a bundle unless it is already there (bundles are content-addressed); True if new."""
    exists = conn.execute(
        select(policy_bundles.c.hash).where(policy_bundles.c.hash == bundle_hash)
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(policy_bundles).values(
            hash=bundle_hash,
            created_at=now,
            created_by=actor,
            manifest=orjson.dumps(manifest).decode(),
            files=orjson.dumps(files).decode(),
        )
    )
    return True


def bundle_files(conn: Connection, bundle_hash: BundleHash) -> dict[str, str] | None:
    row = conn.execute(
        select(policy_bundles.c.files).where(policy_bundles.c.hash == bundle_hash)
    ).first()
    if row is None:
        return None
    files: dict[str, str] = orjson.loads(row.files)
    return files


def insert_activation(
    conn: Connection, *, bundle_hash: BundleHash, now: datetime, actor: str | None
) -> Activation:
    row = conn.execute(
        insert(policy_activations)
        .values(bundle_hash=bundle_hash, activated_at=now, activated_by=actor)
        .returning(policy_activations.c.id)
    ).one()
    return Activation(row.id, bundle_hash, now, actor)


def activations(conn: Connection, *, limit: int) -> list[Activation]:
    """Most recent first; the first one is the active bundle."""
    rows = conn.execute(
        select(policy_activations).order_by(desc(policy_activations.c.id)).limit(limit)
    ).all()
    return [
        Activation(r.id, BundleHash(r.bundle_hash), r.activated_at, r.activated_by) for r in rows
    ]
