"""`InProcessBus`: the change feed in memory, for unit tests and a single process without a store."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

from zerogate.clock import Clock, SystemClock
from zerogate.control.events._feed import Wakeup
from zerogate.control.events._model import (
    BusBase,
    Event,
    decode_payload,
    encode_payload,
)


class InProcessBus(BusBase):
    """Same contract as the store-backed buses, minus durability: events live in this process."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._events: list[Event] = []  # seq == index + 1
        self._wakeup = Wakeup()
        self._closed = False

    async def publish(
        self, topic: str, payload: Mapping[str, object], *, key: str | None = None
    ) -> Event:
        self._check_open()
        # Round-trip through JSON like the SQL buses, so subscribers never share mutable state.
        text = encode_payload(topic, payload, key)
        event = Event(
            seq=len(self._events) + 1,
            topic=topic,
            key=key,
            payload=decode_payload(text),
            created_at=self._clock.now(),
        )
        self._events.append(event)
        self._wakeup.notify_all()
        return event

    async def last_seq(self) -> int:
        self._check_open()
        return len(self._events)

    async def aclose(self) -> None:
        self._closed = True
        self._wakeup.notify_all()

    async def _stream(
        self, topics: frozenset[str] | None, after_seq: int
    ) -> AsyncGenerator[Event, None]:
        waiter = self._wakeup.register()
        position = after_seq
        try:
            while not self._closed:
                while position < len(self._events):
                    event = self._events[position]
                    position += 1
                    if topics is None or event.topic in topics:
                        yield event
                    if self._closed:
                        return
                await Wakeup.wait(waiter, None)
        finally:
            self._wakeup.unregister(waiter)


__all__ = ["InProcessBus"]
