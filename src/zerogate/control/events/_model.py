"""The change-feed vocabulary: an `Event`, the `EventBus` protocol, and input limits."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

import orjson

from zerogate.errors import InvalidInput

MAX_TOPIC_CHARS = 200
MAX_KEY_CHARS = 500
MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Event:
    """One change, as every subscriber sees it; `seq` is its position in the feed."""

    seq: int
    topic: str
    key: str | None
    payload: dict[str, object] = field(hash=False)
    created_at: datetime


class EventBus(Protocol):
    """Publishes changes durably and streams them to subscribers in `seq` order."""

    async def publish(
        self, topic: str, payload: Mapping[str, object], *, key: str | None = None
    ) -> Event:
        """Append an event and return it as stored (with its `seq`)."""
        ...

    def subscribe(
        self, *, topics: Collection[str] | None = None, after_seq: int = 0
    ) -> AsyncGenerator[Event, None]:
        """Every event with seq > after_seq (optionally of `topics`): backlog first, then live."""
        ...

    async def last_seq(self) -> int:
        """The highest seq a new subscriber can safely start after (0 for an empty feed)."""
        ...

    async def aclose(self) -> None:
        """Stop every subscriber and background task; the bus cannot be used afterwards."""
        ...


class BusBase:
    """What every bus shares: argument checks for `subscribe`, the closed flag, `async with`.

    Subclasses set `_closed`, and define `_stream` (the subscription) and `aclose()`.
    """

    _closed: bool

    def subscribe(
        self, *, topics: Collection[str] | None = None, after_seq: int = 0
    ) -> AsyncGenerator[Event, None]:
        self._check_open()
        if after_seq < 0:
            raise InvalidInput("after_seq must be >= 0")
        return self._stream(normalise_topics(topics), after_seq)

    def _stream(self, topics: frozenset[str] | None, after_seq: int) -> AsyncGenerator[Event, None]:
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the event bus is closed")

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def encode_payload(topic: str, payload: Mapping[str, object], key: str | None) -> str:
    """Validate an event before it is stored; returns the payload as JSON text."""
    if not topic or len(topic) > MAX_TOPIC_CHARS:
        raise InvalidInput(f"event topic must be 1..{MAX_TOPIC_CHARS} characters")
    if key is not None and len(key) > MAX_KEY_CHARS:
        raise InvalidInput(f"event key must be at most {MAX_KEY_CHARS} characters")
    if not isinstance(payload, Mapping):
        raise InvalidInput("event payload must be a JSON object")
    try:
        data = orjson.dumps(dict(payload))
    except TypeError as exc:
        raise InvalidInput(f"event payload is not JSON-serialisable: {exc}") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"event payload exceeds {MAX_PAYLOAD_BYTES} bytes")
    return data.decode()


def decode_payload(text: str) -> dict[str, object]:
    value = orjson.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored event payload is not a JSON object")
    return value


def normalise_topics(topics: Collection[str] | None) -> frozenset[str] | None:
    if topics is None:
        return None
    if isinstance(topics, str):
        raise InvalidInput("topics must be a collection of topic names, not one string")
    return frozenset(topics)


__all__ = [
    "MAX_KEY_CHARS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TOPIC_CHARS",
    "Event",
    "EventBus",
    "decode_payload",
    "encode_payload",
    "normalise_topics",
]
