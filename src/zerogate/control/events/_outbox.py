"""Appending an event inside a caller's own transaction, so a change and its event commit together."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection

from zerogate.control.events._db import append
from zerogate.control.events._model import Event, encode_payload


def append_event(
    conn: Connection,
    topic: str,
    payload: Mapping[str, object],
    *,
    key: str | None = None,
    now: datetime,
) -> Event:
    """Validate and append an event in `conn`'s open transaction (NOTIFY fires on commit).

    Subscribers in other processes see it when the transaction commits; SQLite subscribers pick
    it up on their next poll.
    """
    return append(conn, topic=topic, key=key, payload=encode_payload(topic, payload, key), now=now)
