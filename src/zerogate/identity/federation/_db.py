"""Queries on `federated_identities`: the links between local users and upstream accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from zerogate._types import UserID
from zerogate.store import federated_identities as links


@dataclass(frozen=True, slots=True)
class FederatedIdentity:
    """A local user's account at one upstream: (upstream, subject) names it, never an email."""

    upstream: str
    subject: str
    user_id: UserID
    created_at: datetime
    last_login_at: datetime


def find_link(conn: Connection, upstream: str, subject: str) -> FederatedIdentity | None:
    row = conn.execute(
        select(links).where(links.c.upstream == upstream, links.c.subject == subject)
    ).first()
    return None if row is None else _link(row._mapping)


def links_of(conn: Connection, user_id: UserID) -> list[FederatedIdentity]:
    rows = conn.execute(
        select(links).where(links.c.user_id == user_id).order_by(links.c.upstream)
    ).all()
    return [_link(row._mapping) for row in rows]


def insert_link(
    conn: Connection, upstream: str, subject: str, user_id: UserID, *, now: datetime
) -> bool:
    """Add a link; False if (upstream, subject) is already linked (a concurrent first sign-in)."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(links).values(
                    upstream=upstream,
                    subject=subject,
                    user_id=user_id,
                    created_at=now,
                    last_login_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def touch_link(conn: Connection, upstream: str, subject: str, *, now: datetime) -> None:
    conn.execute(
        update(links)
        .where(links.c.upstream == upstream, links.c.subject == subject)
        .values(last_login_at=now)
    )


def delete_link(conn: Connection, upstream: str, subject: str) -> bool:
    done = conn.execute(
        delete(links).where(links.c.upstream == upstream, links.c.subject == subject)
    )
    return done.rowcount > 0


def _link(row: object) -> FederatedIdentity:
    data = dict(row)  # type: ignore[call-overload]
    return FederatedIdentity(
        upstream=data["upstream"],
        subject=data["subject"],
        user_id=UserID(data["user_id"]),
        created_at=data["created_at"],
        last_login_at=data["last_login_at"],
    )


__all__ = [
    "FederatedIdentity",
    "delete_link",
    "find_link",
    "insert_link",
    "links_of",
    "touch_link",
]
