"""Injected time: a `Clock` protocol, the system clock, and a fixed clock for tests and pinned runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where every part of Zerogate reads time from; never call time.time() deep in logic."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for TTLs and intervals."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(slots=True)
class FixedClock:
    """A clock that only moves when told to: used by `policy test` (pinned time) and by tests."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.at = self.at + timedelta(seconds=seconds)
        self.mono += seconds


__all__ = ["Clock", "FixedClock", "SystemClock"]
