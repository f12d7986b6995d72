"""The change feed's queries on the `events` table (run in worker threads by the SQL buses)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, case, desc, func, insert, literal, select

from zerogate.control.events._model import Event, decode_payload
from zerogate.store import events

CHANNEL = "zerogate_events"


def append(conn: Connection, *, topic: str, key: str | None, payload: str, now: datetime) -> Event:
    """Insert one event; on PostgreSQL also NOTIFY its seq, delivered when this transaction commits."""
    postgres = conn.dialect.name == "postgresql"
    # PostgreSQL stamps events with its own clock: every node then shares the clock that gap
    # ages are measured with (see _feed.py). SQLite runs on one machine: the injected clock.
    created_at = func.clock_timestamp() if postgres else now
    row = conn.execute(
        insert(events)
        .values(topic=topic, key=key, payload=payload, created_at=created_at)
        .returning(events.c.seq, events.c.created_at)
    ).one()
    if postgres:
        conn.execute(select(func.pg_notify(CHANNEL, str(row.seq))))
    return Event(
        seq=row.seq,
        topic=topic,
        key=key,
        payload=decode_payload(payload),
        created_at=row.created_at,
    )


def read_after(
    conn: Connection,
    *,
    after_seq: int,
    topics: Collection[str] | None,
    limit: int,
    now: datetime,
) -> tuple[list[Event], datetime]:
    """Up to `limit` events with seq > after_seq in seq order, and the database clock.

    Rows of other topics come back too (payload left unread) so the cursor can see gaps in
    the global seq; the bus drops them before they reach the subscriber.
    """
    payload: ColumnElement[str] = events.c.payload
    if topics is not None:
        payload = case((events.c.topic.in_(sorted(topics)), events.c.payload), else_=literal("{}"))
    db_now = _db_now(conn, now)
    rows = conn.execute(
        select(
            events.c.seq,
            events.c.topic,
            events.c.key,
            payload.label("payload"),
            events.c.created_at,
        )
        .where(events.c.seq > after_seq)
        .order_by(events.c.seq)
        .limit(limit)
    ).all()
    found = [
        Event(
            seq=r.seq,
            topic=r.topic,
            key=r.key,
            payload=decode_payload(r.payload),
            created_at=r.created_at,
        )
        for r in rows
    ]
    return found, db_now


def read_tail(conn: Connection, *, limit: int, now: datetime) -> tuple[list[Event], datetime]:
    """The newest `limit` events (payload left unread) in seq order, and the database clock."""
    db_now = _db_now(conn, now)
    rows = conn.execute(
        select(events.c.seq, events.c.topic, events.c.key, events.c.created_at)
        .order_by(desc(events.c.seq))
        .limit(limit)
    ).all()
    tail = [Event(r.seq, r.topic, r.key, {}, r.created_at) for r in reversed(rows)]
    return tail, db_now


def _db_now(conn: Connection, fallback: datetime) -> datetime:
    if conn.dialect.name != "postgresql":
        return fallback
    # now() is the transaction's start, taken before the read's snapshot: ages err on the young side.
    value = conn.execute(select(func.now())).scalar_one()
    if not isinstance(value, datetime):
        raise TypeError("now() did not return a timestamp")
    return value


__all__ = ["CHANNEL", "append", "read_after", "read_tail"]
